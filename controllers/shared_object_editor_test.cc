#include "controllers/shared_object_editor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/api_error.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Holds the first write that reaches it until Open(): the edits made meanwhile queue.
class WriteGate {
 public:
  std::optional<kube::ApiResult<json>> React(const kube::FakeClient::Action& action) {
    if (action.verb != "update" && action.verb != "create") return std::nullopt;
    std::unique_lock<std::mutex> lock(mu_);
    if (used_) return std::nullopt;
    used_ = true;
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    return std::nullopt;
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool used_ = false;
  bool entered_ = false;
  bool open_ = false;
};

class SharedObjectEditorTest : public ::testing::Test {
 protected:
  SharedObjectEditorTest() {
    retry_.sleep = [this](std::chrono::milliseconds wait) {
      std::lock_guard<std::mutex> lock(mu_);
      sleeps_.push_back(wait);
    };
    editor_ = std::make_unique<SharedObjectEditor>(client_, retry_);
  }

  // Sets data[key] = value of ConfigMap voice/shared; refuses with `refusal` when set.
  static ObjectEdit SetData(const std::string& key, const std::string& value, bool create = true,
                            const std::string& refusal = "") {
    ObjectEdit edit;
    edit.resource = kube::kConfigMaps;
    edit.namespace_ = "voice";
    edit.name = "shared";
    edit.create = create;
    edit.new_object = {
        {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "shared"}}}};
    edit.where = "configmap voice/shared key " + key;
    edit.change = [key, value, refusal](json& object) -> Result<bool> {
      object["data"][key] = value;  // changed before refusing: must not be written
      if (!refusal.empty()) return Error(ErrorCode::kFailedPrecondition, refusal);
      return true;
    };
    return edit;
  }

  // Runs each edit on a thread of its own; the first is alone in its write, held at the
  // gate until every other edit waits behind it.
  std::vector<Status> EditTogether(const std::vector<ObjectEdit>& edits) {
    // Shared with the reactor, which outlives this call (the client keeps its reactors).
    auto gate = std::make_shared<WriteGate>();
    client_.AddReactor(
        [gate](const kube::FakeClient::Action& action) { return gate->React(action); });
    std::vector<Status> results(edits.size(), OkStatus());
    std::vector<std::thread> threads;
    threads.emplace_back([&] { results[0] = editor_->Edit(edits[0]); });
    gate->WaitEntered();
    for (std::size_t i = 1; i < edits.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = editor_->Edit(edits[i]); });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (editor_->QueuedEdits() < edits.size() - 1 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(editor_->QueuedEdits(), edits.size() - 1);
    gate->Open();
    for (std::thread& thread : threads) thread.join();
    return results;
  }

  int Writes() const {
    int writes = 0;
    for (const auto& action : client_.Actions()) {
      writes += action.verb == "update" || action.verb == "create";
    }
    return writes;
  }

  json Data() {
    auto object = client_.Get(kube::kConfigMaps, "voice", "shared");
    return object.ok() ? (*object).value("data", json::object()) : json();
  }

  kube::FakeClient client_;
  ConflictRetry retry_;
  std::mutex mu_;
  std::vector<std::chrono::milliseconds> sleeps_;
  std::unique_ptr<SharedObjectEditor> editor_;
};

TEST_F(SharedObjectEditorTest, EditsMadeDuringAWriteGoOutTogetherInTheNextWrite) {
  const auto results =
      EditTogether({SetData("a", "1"), SetData("b", "2"), SetData("c", "3"), SetData("d", "4")});
  for (const Status& result : results) EXPECT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(Writes(), 2);  // a alone (it created the object), then b, c and d in one PUT
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}));
  EXPECT_TRUE(sleeps_.empty());  // no conflict between them
  EXPECT_EQ(editor_->QueuedEdits(), 0u);
}

TEST_F(SharedObjectEditorTest, ARefusedEditFailsAloneAndLeavesNothingBehind) {
  const auto results = EditTogether(
      {SetData("a", "1"), SetData("b", "2"), SetData("c", "3", true, "c belongs to another")});
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(results[2].error().message(), "c belongs to another");
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"b", "2"}}));  // c's change was made on a copy
}

TEST_F(SharedObjectEditorTest, AFailedWriteFailsEveryEditOfItsBatch) {
  ASSERT_TRUE(editor_->Edit(SetData("a", "1")).ok());
  client_.AddReactor([calls = 0](const kube::FakeClient::Action& action) mutable
                     -> std::optional<kube::ApiResult<json>> {
    if (action.verb != "update" || ++calls == 1) return std::nullopt;  // the gated one passes
    return kube::StatusError(403, "Forbidden", "configmaps \"shared\" is forbidden");
  });
  const auto results = EditTogether({SetData("b", "2"), SetData("c", "3"), SetData("d", "4")});
  EXPECT_TRUE(results[0].ok());
  for (std::size_t i = 1; i < results.size(); ++i) {
    ASSERT_FALSE(results[i].ok());
    EXPECT_EQ(results[i].error().code(), ErrorCode::kPermissionDenied);
    EXPECT_THAT(results[i].error().message(), HasSubstr("configmap voice/shared"));
  }
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"b", "2"}}));
}

TEST_F(SharedObjectEditorTest, AConflictWithAnotherWriterRetriesTheWholeBatch) {
  ASSERT_TRUE(editor_->Edit(SetData("a", "1")).ok());
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update" || raced) return std::nullopt;
        raced = true;
        // A person edits the ConfigMap between our read and our write.
        auto object = client_.Get(kube::kConfigMaps, "voice", "shared");
        (*object)["data"]["by-hand"] = "x";
        EXPECT_TRUE(client_.Update(kube::kConfigMaps, "voice", *object).ok());
        return std::nullopt;  // ours now carries a stale resourceVersion: 409
      });
  ASSERT_TRUE(editor_->Edit(SetData("b", "2")).ok());
  EXPECT_EQ(sleeps_.size(), 1u);
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"b", "2"}, {"by-hand", "x"}}));
}

TEST_F(SharedObjectEditorTest, AMissingObjectIsCreatedOnlyForAnEditThatMayCreate) {
  EXPECT_TRUE(editor_->Edit(SetData("a", "1", /*create=*/false)).ok());
  EXPECT_FALSE(client_.Get(kube::kConfigMaps, "voice", "shared").ok());
  EXPECT_EQ(Writes(), 0);
  const auto results = EditTogether({SetData("a", "1"), SetData("b", "2", /*create=*/false)});
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"b", "2"}}));  // b's object exists by its turn
}

TEST_F(SharedObjectEditorTest, AChangeThatThrowsFailsAloneAndNobodyIsLeftWaiting) {
  ObjectEdit throws = SetData("b", "2");
  throws.change = [](json& object) -> Result<bool> {
    return object.at("no such field").get<bool>();  // nlohmann throws out_of_range
  };
  const auto results = EditTogether({SetData("a", "1"), throws, SetData("c", "3")});
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().code(), ErrorCode::kInternal);
  EXPECT_THAT(results[1].error().message(),
              HasSubstr("configmap voice/shared key b: the change threw"));
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(Data(), (json{{"a", "1"}, {"c", "3"}}));
  EXPECT_TRUE(editor_->Edit(SetData("d", "4")).ok());  // the object is free again
}

TEST_F(SharedObjectEditorTest, EditsOfDifferentObjectsDoNotWaitForEachOther) {
  WriteGate gate;
  client_.AddReactor(
      [&gate](const kube::FakeClient::Action& action) { return gate.React(action); });
  Status held = OkStatus();
  std::thread first([&] { held = editor_->Edit(SetData("a", "1")); });
  gate.WaitEntered();
  ObjectEdit other = SetData("b", "2");
  other.name = "other";
  other.new_object["metadata"]["name"] = "other";
  EXPECT_TRUE(editor_->Edit(other).ok());  // would hang here if it queued behind "shared"
  gate.Open();
  first.join();
  EXPECT_TRUE(held.ok());
}

}  // namespace
}  // namespace agentrollout::controllers
