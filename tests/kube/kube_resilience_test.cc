// The informer against a real kube-apiserver that is killed and restarted, and against
// watches resumed from a compacted resourceVersion. These tests disturb the control plane,
// so the binary runs its own cluster (ClusterMode::kPrivate).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "kube/informer.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout::kube {
namespace {

using agentrollout::testing::Cluster;
using agentrollout::testing::ClusterMode;
using agentrollout::testing::CreateTestNamespace;
using nlohmann::json;
using testing::ClusterClient;
using testing::ConfigMap;
using testing::Eventually;
using testing::Flags;
using testing::NameOf;

const auto* const kCluster =
    agentrollout::testing::RegisterClusterEnvironment(ClusterMode::kPrivate);

// A real client behind a switch that cuts the informer off the API server (as a network
// partition would) while the test keeps writing through its own client.
class PartitionedClient final : public Client {
 public:
  explicit PartitionedClient(ClientPtr inner) : inner_(std::move(inner)) {}

  void Disconnect() {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = false;
    for (auto* stream : streams_) stream->CutOff();
  }
  void Reconnect() {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = true;
  }

  ApiResult<json> Get(const ResourceRef& r, std::string_view ns, std::string_view name,
                      const GetOptions& options = {}) override {
    if (!connected()) return Cut();
    return inner_->Get(r, ns, name, options);
  }
  ApiResult<ObjectList> List(const ResourceRef& r, std::string_view ns,
                             const ListOptions& options) override {
    if (!connected()) return Cut();
    return inner_->List(r, ns, options);
  }
  ApiResult<std::string> ListText(const ResourceRef& r, std::string_view ns,
                                  const ListOptions& options) override {
    if (!connected()) return Cut();
    return inner_->ListText(r, ns, options);
  }
  ApiResult<json> Create(const ResourceRef& r, std::string_view ns, const json& object,
                         const WriteOptions& options) override {
    if (!connected()) return Cut();
    return inner_->Create(r, ns, object, options);
  }
  ApiResult<json> Update(const ResourceRef& r, std::string_view ns, const json& object,
                         const WriteOptions& options) override {
    if (!connected()) return Cut();
    return inner_->Update(r, ns, object, options);
  }
  ApiResult<json> UpdateStatus(const ResourceRef& r, std::string_view ns, const json& object,
                               const WriteOptions& options) override {
    if (!connected()) return Cut();
    return inner_->UpdateStatus(r, ns, object, options);
  }
  ApiResult<json> Patch(const ResourceRef& r, std::string_view ns, std::string_view name,
                        PatchType type, const json& patch, const PatchOptions& options) override {
    if (!connected()) return Cut();
    return inner_->Patch(r, ns, name, type, patch, options);
  }
  ApiResult<json> Delete(const ResourceRef& r, std::string_view ns, std::string_view name,
                         const DeleteOptions& options) override {
    if (!connected()) return Cut();
    return inner_->Delete(r, ns, name, options);
  }
  ApiResult<WatchStreamPtr> Watch(const ResourceRef& r, std::string_view ns,
                                  const WatchOptions& options) override {
    if (!connected()) return Cut();
    auto watch = inner_->Watch(r, ns, options);
    if (!watch.ok()) return watch;
    std::lock_guard<std::mutex> lock(mu_);
    return WatchStreamPtr(std::make_unique<Stream>(*this, std::move(watch).value()));
  }

 private:
  class Stream final : public WatchStream {
   public:
    Stream(PartitionedClient& owner, WatchStreamPtr inner)
        : owner_(owner), inner_(std::move(inner)) {
      owner_.streams_.insert(this);  // the owner's lock is held
    }
    ~Stream() override {
      std::lock_guard<std::mutex> lock(owner_.mu_);
      owner_.streams_.erase(this);
    }
    Result<std::optional<WatchEvent>> Next() override {
      auto next = inner_->Next();
      if (cut_) return Unavailable("test partition: connection lost");
      return next;
    }
    void Stop() override { inner_->Stop(); }
    void CutOff() {
      cut_ = true;
      inner_->Stop();
    }

   private:
    PartitionedClient& owner_;
    WatchStreamPtr inner_;
    std::atomic<bool> cut_{false};
  };

  bool connected() {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_;
  }
  static Error Cut() { return Unavailable("test partition: connection refused"); }

  ClientPtr inner_;
  std::mutex mu_;
  bool connected_ = true;
  std::set<Stream*> streams_;
};

// The last version of each deleted object the delete handler was given.
class Recorded {
 public:
  EventHandlers<Flags> Handlers() {
    EventHandlers<Flags> handlers;
    handlers.on_delete = [this](const auto& f) {
      std::lock_guard<std::mutex> lock(mu_);
      deleted_[f->name] = f->data.count("v") > 0 ? f->data.at("v") : "";
    };
    return handlers;
  }
  std::map<std::string, std::string> deleted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deleted_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> deleted_;
};

class InformerResilience : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = ClusterClient();
    ASSERT_NE(writer_, nullptr);
    ns_ = CreateTestNamespace();
  }

  InformerOptions Options() {
    InformerOptions options;
    options.reflector.resource = kConfigMaps;
    options.reflector.namespace_ = ns_;
    options.reflector.max_backoff = std::chrono::seconds(2);  // keep the test short
    return options;
  }

  // The server's names in the test namespace.
  std::vector<std::string> ServerNames() {
    auto list = ListAll(*writer_, kConfigMaps, ns_, {});
    EXPECT_TRUE(list.ok()) << list.error().ToString();
    std::vector<std::string> names;
    if (list.ok()) {
      for (const auto& item : list->items) names.push_back(NameOf(item));
    }
    return names;
  }

  bool Converged(const Informer<Flags>& informer) {
    std::vector<std::string> cached;
    for (const auto& key : informer.Keys()) cached.push_back(SplitObjectKey(key).second);
    std::vector<std::string> server = ServerNames();
    std::sort(cached.begin(), cached.end());
    std::sort(server.begin(), server.end());
    if (cached != server) return false;
    for (const auto& name : server) {
      auto object = writer_->Get(kConfigMaps, ns_, name);
      auto typed = informer.Get(ns_, name);
      if (!object.ok() || typed == nullptr ||
          typed->resource_version != (*object)["metadata"]["resourceVersion"]) {
        return false;
      }
    }
    return true;
  }

  ClientPtr writer_;
  std::string ns_;
};

TEST_F(InformerResilience, ConvergesAcrossAnApiserverKillAndRestartMidWatch) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        writer_->Create(kConfigMaps, ns_, ConfigMap("cm-" + std::to_string(i), {{"v", "1"}})).ok());
  }
  Informer<Flags> informer(ClusterClient(), Options(), testing::DecodeFlags);
  Recorded recorded;
  informer.AddEventHandlers(recorded.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  ASSERT_EQ(informer.Size(), 5u);
  ASSERT_TRUE(Eventually([&] { return informer.ReflectorStats().watches >= 1; }));

  ASSERT_TRUE(Cluster().StopApiserver().ok());
  // The cache keeps serving what it has while the API server is away.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(informer.HasSynced());
  EXPECT_EQ(informer.Size(), 5u);
  ASSERT_TRUE(Cluster().StartApiserver().ok());

  ASSERT_TRUE(writer_->Delete(kConfigMaps, ns_, "cm-0").ok());
  ASSERT_TRUE(
      writer_->Patch(kConfigMaps, ns_, "cm-1", PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(writer_->Create(kConfigMaps, ns_, ConfigMap("cm-new", {{"v", "1"}})).ok());
  ASSERT_TRUE(Eventually([&] { return Converged(informer); }));
  EXPECT_EQ(informer.Get(ns_, "cm-1")->data.at("v"), "2");
  EXPECT_EQ(recorded.deleted().count("cm-0"), 1u);
  EXPECT_GE(informer.ReflectorStats().failures, 1) << "the watch noticed the outage";
  EXPECT_GE(informer.ReflectorStats().watches, 2);
  informer.Stop();
}

TEST_F(InformerResilience, DeletionsWhileDisconnectedReachTheDeleteHandler) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        writer_->Create(kConfigMaps, ns_, ConfigMap("cm-" + std::to_string(i), {{"v", "old"}}))
            .ok());
  }
  auto partitioned = std::make_shared<PartitionedClient>(ClusterClient());
  Informer<Flags> informer(partitioned, Options(), testing::DecodeFlags);
  Recorded recorded;
  informer.AddEventHandlers(recorded.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  ASSERT_TRUE(Eventually([&] { return informer.ReflectorStats().watches >= 1; }));

  partitioned->Disconnect();
  ASSERT_TRUE(
      writer_->Patch(kConfigMaps, ns_, "cm-0", PatchType::kMerge, {{"data", {{"v", "final"}}}})
          .ok());
  ASSERT_TRUE(writer_->Delete(kConfigMaps, ns_, "cm-0").ok());
  ASSERT_TRUE(writer_->Delete(kConfigMaps, ns_, "cm-1").ok());
  ASSERT_TRUE(writer_->Create(kConfigMaps, ns_, ConfigMap("cm-9", {{"v", "new"}})).ok());
  EXPECT_EQ(informer.Size(), 4u) << "nothing seen while disconnected";
  partitioned->Reconnect();

  ASSERT_TRUE(Eventually([&] { return Converged(informer); }));
  auto deleted = recorded.deleted();
  ASSERT_EQ(deleted.size(), 2u);
  // The watch resumes from the informer's version and replays the DELETED events, whose
  // objects are the final states.
  EXPECT_EQ(deleted.at("cm-0"), "final");
  EXPECT_EQ(deleted.at("cm-1"), "old");
  informer.Stop();
}

TEST_F(InformerResilience, WatchFromACompactedVersionRelistsAndFindsMissedDeletions) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        writer_->Create(kConfigMaps, ns_, ConfigMap("cm-" + std::to_string(i), {{"v", "old"}}))
            .ok());
  }
  auto partitioned = std::make_shared<PartitionedClient>(ClusterClient());
  Informer<Flags> informer(partitioned, Options(), testing::DecodeFlags);
  Recorded recorded;
  informer.AddEventHandlers(recorded.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  ASSERT_TRUE(Eventually([&] { return informer.ReflectorStats().watches >= 1; }));
  const std::string seen = informer.LastSyncResourceVersion();

  partitioned->Disconnect();
  ASSERT_TRUE(
      writer_->Patch(kConfigMaps, ns_, "cm-0", PatchType::kMerge, {{"data", {{"v", "final"}}}})
          .ok());
  ASSERT_TRUE(writer_->Delete(kConfigMaps, ns_, "cm-0").ok());
  ASSERT_TRUE(writer_->Delete(kConfigMaps, ns_, "cm-1").ok());
  ASSERT_TRUE(
      writer_->Patch(kConfigMaps, ns_, "cm-2", PatchType::kMerge, {{"data", {{"v", "new"}}}}).ok());
  ASSERT_TRUE(writer_->Create(kConfigMaps, ns_, ConfigMap("cm-9", {{"v", "new"}})).ok());
  auto compacted = Cluster().CompactEtcd();
  ASSERT_TRUE(compacted.ok()) << compacted.error().ToString();
  ASSERT_GT(*compacted, std::stoll(seen));
  // The API server's watch cache would still replay recent events from memory; a restart
  // leaves only etcd, whose history before the compaction is gone.
  ASSERT_TRUE(Cluster().RestartApiserver().ok());

  // A watch from the informer's old version is refused as too old.
  WatchOptions stale;
  stale.resource_version = seen;
  auto probe = writer_->Watch(kConfigMaps, ns_, stale);
  if (probe.ok()) {
    auto first = (*probe)->Next();
    ASSERT_TRUE(first.ok() && first->has_value()) << "expected an ERROR event";
    EXPECT_EQ((*first)->type, WatchEvent::Type::kError);
    EXPECT_EQ(StatusFromJson((*first)->object, 0).code, 410);
  } else {
    EXPECT_TRUE(IsGone(probe.error())) << probe.error().ToString();
  }

  partitioned->Reconnect();
  ASSERT_TRUE(Eventually([&] { return Converged(informer); }));
  EXPECT_GE(informer.ReflectorStats().relists_on_gone, 1);
  EXPECT_GE(informer.ReflectorStats().lists, 2);
  auto deleted = recorded.deleted();
  ASSERT_EQ(deleted.size(), 2u);
  // Found by the relist: the delete handler gets the last object the cache had.
  EXPECT_EQ(deleted.at("cm-0"), "old");
  EXPECT_EQ(deleted.at("cm-1"), "old");
  EXPECT_EQ(informer.Get(ns_, "cm-2")->data.at("v"), "new");
  informer.Stop();
}

}  // namespace
}  // namespace agentrollout::kube
