#include "kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/fake_client.h"

namespace agentrollout::kube {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::Le;
using ::testing::UnorderedElementsAre;

// A small typed view of a ConfigMap, as a controller would cache it.
struct Flags {
  std::string ns;
  std::string name;
  std::string resource_version;
  std::map<std::string, std::string> data;
};

Result<Flags> DecodeFlags(const json& object) {
  Flags flags;
  flags.ns = object["metadata"].value("namespace", "");
  flags.name = object["metadata"].value("name", "");
  flags.resource_version = object["metadata"].value("resourceVersion", "");
  if (object.contains("data")) {
    for (const auto& [key, value] : object["data"].items()) {
      if (!value.is_string()) return InvalidArgument("data." + key + ": must be a string");
      flags.data[key] = value.get<std::string>();
    }
  }
  return flags;
}

json ConfigMap(const std::string& name, json data = json::object()) {
  return {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

// Waits (polling) until `condition` holds; false after 10 s.
template <typename Condition>
bool Eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Records handler calls as "add ns/name", "update ns/name v=..", "delete ns/name v=..".
class Recorder {
 public:
  EventHandlers<Flags> Handlers() {
    EventHandlers<Flags> handlers;
    handlers.on_add = [this](const Informer<Flags>::Ptr& f) { Push("add " + Key(*f)); };
    handlers.on_update = [this](const Informer<Flags>::Ptr& old, const Informer<Flags>::Ptr& now) {
      Push("update " + Key(*now) + (old == now ? " resync" : " v=" + Value(*now)));
    };
    handlers.on_delete = [this](const Informer<Flags>::Ptr& f) {
      Push("delete " + Key(*f) + " v=" + Value(*f));
    };
    return handlers;
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  bool Saw(const std::string& event) const {
    auto all = events();
    return std::find(all.begin(), all.end(), event) != all.end();
  }

 private:
  static std::string Key(const Flags& f) { return f.ns + "/" + f.name; }
  static std::string Value(const Flags& f) {
    auto it = f.data.find("v");
    return it == f.data.end() ? "" : it->second;
  }
  void Push(std::string event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

class InformerTest : public ::testing::Test {
 protected:
  InformerOptions Options() {
    InformerOptions options;
    options.reflector.resource = kConfigMaps;
    options.reflector.initial_backoff = std::chrono::milliseconds(1);
    options.reflector.max_backoff = std::chrono::milliseconds(5);
    return options;
  }

  std::vector<std::string> Verbs(const std::string& verb) {
    std::vector<std::string> versions;
    for (const auto& action : client_->Actions()) {
      if (action.verb == verb) versions.push_back(action.resource_version);
    }
    return versions;
  }

  std::shared_ptr<FakeClient> client_ = std::make_shared<FakeClient>();
  Recorder recorder_;
};

TEST_F(InformerTest, ListsThenWatchesIntoATypedCache) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("one", {{"v", "1"}})).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "b", ConfigMap("two", {{"v", "2"}})).ok());
  const std::string listed_at = client_->ResourceVersion();
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  EXPECT_FALSE(informer.HasSynced());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  EXPECT_THAT(recorder_.events(), UnorderedElementsAre("add a/one", "add b/two"));
  auto one = informer.Get("a", "one");
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->data.at("v"), "1");
  EXPECT_EQ(informer.Get("a", "two"), nullptr);
  ASSERT_EQ(informer.ListNamespace("b").size(), 1u);
  EXPECT_EQ(informer.ListNamespace("b")[0]->name, "two");
  EXPECT_THAT(informer.Keys(), ElementsAre("a/one", "b/two"));

  // A LIST of the latest state (never resourceVersion=0, which the API server answers in
  // one piece whatever the limit), then WATCH from the list's version.
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  EXPECT_THAT(Verbs("list"), ElementsAre(""));
  EXPECT_THAT(Verbs("watch"), ElementsAre(listed_at));

  json two = *client_->Get(kConfigMaps, "b", "two");
  two["data"]["v"] = "22";
  ASSERT_TRUE(client_->Update(kConfigMaps, "b", two).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("three")).ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, "a", "one").ok());
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("delete a/one v=1"); }));
  EXPECT_THAT(recorder_.events(), ElementsAre(::testing::_, ::testing::_, "update b/two v=22",
                                              "add a/three", "delete a/one v=1"));
  EXPECT_EQ(informer.Get("b", "two")->data.at("v"), "22");
  EXPECT_EQ(informer.Get("a", "one"), nullptr);
  EXPECT_EQ(informer.Size(), 2u);
  EXPECT_EQ(informer.LastSyncResourceVersion(), client_->ResourceVersion());
  informer.Stop();
  EXPECT_EQ(client_->OpenWatches(), 0u);
}

TEST_F(InformerTest, NormalWatchEndRewatchesFromTheLastVersionWithoutRelisting) {
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("x")).ok());
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("add a/x"); }));
  const std::string seen = client_->ResourceVersion();
  client_->CloseWatches();  // as at timeoutSeconds
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("y")).ok());
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("add a/y"); }));
  EXPECT_EQ(informer.ReflectorStats().lists, 1);
  EXPECT_EQ(informer.ReflectorStats().watches, 2);
  EXPECT_EQ(Verbs("watch").back(), seen);
}

TEST_F(InformerTest, BrokenStreamBacksOffAndRewatches) {
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  client_->BreakWatches();
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("x")).ok());
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("add a/x"); }));
  EXPECT_EQ(informer.ReflectorStats().lists, 1);
  EXPECT_GE(informer.ReflectorStats().failures, 1);
}

TEST_F(InformerTest, GoneAfterCompactionRelistsAndReportsMissedDeletions) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("stays", {{"v", "1"}})).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("goes", {{"v", "last"}})).ok());
  // While `down` is set the "API server" refuses watches, as during an outage.
  std::atomic<bool> down{false};
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "watch" && down) return Error(ErrorCode::kUnavailable, "connection refused");
    return std::nullopt;
  });
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));

  down = true;
  client_->BreakWatches();
  ASSERT_TRUE(client_->Delete(kConfigMaps, "a", "goes").ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("new")).ok());
  client_->Compact();
  down = false;

  // The relist's events come one after another: wait for both, not the add alone.
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("add a/new"); }));
  EXPECT_TRUE(Eventually([&] { return recorder_.Saw("delete a/goes v=last"); }))
      << "the last known object, from the cache";
  EXPECT_EQ(informer.ReflectorStats().relists_on_gone, 1);
  EXPECT_EQ(informer.ReflectorStats().lists, 2);
  EXPECT_THAT(Verbs("list"), ElementsAre("", ""));
  EXPECT_THAT(informer.Keys(), UnorderedElementsAre("a/stays", "a/new"));
  EXPECT_FALSE(recorder_.Saw("update a/stays v=1")) << "unchanged objects are not reported";
}

TEST_F(InformerTest, ExpiredErrorEventRelists) {
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  client_->ExpireWatches();
  ASSERT_TRUE(Eventually([&] { return informer.ReflectorStats().lists == 2; }));
  EXPECT_EQ(informer.ReflectorStats().relists_on_gone, 1);
}

TEST_F(InformerTest, BookmarksOnlyAdvanceTheResourceVersion) {
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  // Changes to another resource move the global version; only a bookmark tells us.
  ASSERT_TRUE(client_->Create(kLeases, "a", {{"metadata", {{"name", "l"}}}}).ok());
  client_->SendBookmarks();
  ASSERT_TRUE(
      Eventually([&] { return informer.LastSyncResourceVersion() == client_->ResourceVersion(); }));
  EXPECT_TRUE(recorder_.events().empty());
  EXPECT_EQ(informer.Size(), 0u);
}

TEST_F(InformerTest, UndecodableObjectsStayOutOfTheCache) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("good", {{"v", "1"}})).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("bad", {{"v", 1}})).ok());
  std::mutex mu;
  std::vector<std::string> rejected;
  InformerOptions options = Options();
  options.on_decode_error = [&](const std::string& key, const Error& error) {
    std::lock_guard<std::mutex> lock(mu);
    rejected.push_back(key + ": " + error.message());
  };
  Informer<Flags> informer(client_, options, DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  EXPECT_THAT(informer.Keys(), ElementsAre("a/good"));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(rejected, ElementsAre("a/bad: data.v: must be a string"));
}

TEST_F(InformerTest, LateHandlersGetTheCacheAsAdds) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("x")).ok());
  Informer<Flags> informer(client_, Options(), DecodeFlags);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  informer.AddEventHandlers(recorder_.Handlers());
  EXPECT_THAT(recorder_.events(), ElementsAre("add a/x"));
}

TEST_F(InformerTest, ResyncReportsEveryObjectPeriodically) {
  auto clock = std::make_shared<FakeClock>();
  ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("x")).ok());
  InformerOptions options = Options();
  options.reflector.clock = clock;
  options.resync_period = std::chrono::seconds(30);
  Informer<Flags> informer(client_, options, DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  EXPECT_FALSE(recorder_.Saw("update a/x resync"));
  clock->Advance(std::chrono::seconds(30));
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("update a/x resync"); }));
}

TEST(ObjectKeys, SplitAndJoin) {
  EXPECT_EQ(ObjectKey("ns", "name"), "ns/name");
  EXPECT_EQ(ObjectKey("", "node-1"), "node-1");
  EXPECT_EQ(SplitObjectKey("ns/name"), std::make_pair(std::string("ns"), std::string("name")));
  EXPECT_EQ(SplitObjectKey("node-1"), std::make_pair(std::string(), std::string("node-1")));
}

// Five ConfigMaps listed two at a time: three pages.
class InformerPagingTest : public InformerTest {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(client_->Create(kConfigMaps, "a", ConfigMap("cm" + std::to_string(i))).ok());
    }
  }
  InformerOptions PagedOptions() {
    InformerOptions options = Options();
    options.reflector.page_size = 2;
    return options;
  }
  int ListCalls() { return static_cast<int>(Verbs("list").size()); }
};

TEST_F(InformerPagingTest, AtMostTwoPagesAreAliveWhileListing) {
  std::atomic<int> decoded{0};
  // Each LIST is sent from its own thread, but one after another (the next is sent only
  // once the previous answered), so the vector needs no lock.
  std::vector<int> decoded_when_listing;
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "list") decoded_when_listing.push_back(decoded.load());
    return std::nullopt;
  });
  Informer<Flags> informer(client_, PagedOptions(), [&](const json& object) {
    ++decoded;
    return DecodeFlags(object);
  });
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  // Pages of two: page n+1 is requested while page n is decoded (anywhere from none to
  // all of it), but only once page n-1 is decoded, so at most two pages of JSON are alive.
  ASSERT_EQ(decoded_when_listing.size(), 3u);
  EXPECT_EQ(decoded_when_listing[0], 0);
  EXPECT_THAT(decoded_when_listing[1], AllOf(Ge(0), Le(2)));
  EXPECT_THAT(decoded_when_listing[2], AllOf(Ge(2), Le(4)));
  EXPECT_EQ(informer.Size(), 5u);
  EXPECT_EQ(recorder_.events().size(), 5u);
}

TEST_F(InformerPagingTest, AnExpiredContinueTokenStartsTheListOverWithoutDuplicates) {
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "list" && ListCalls() == 2) {
      return StatusError(410, "Expired", "The provided continue parameter is too old");
    }
    return std::nullopt;
  });
  Informer<Flags> informer(client_, PagedOptions(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  EXPECT_EQ(ListCalls(), 3) << "first page, expired second page, one unpaginated list";
  EXPECT_THAT(informer.Keys(), ElementsAre("a/cm0", "a/cm1", "a/cm2", "a/cm3", "a/cm4"));
  EXPECT_EQ(recorder_.events().size(), 5u) << "the first page's objects are added once";
  EXPECT_EQ(informer.ReflectorStats().lists, 1);
}

TEST_F(InformerPagingTest, ALatePageFailingLeavesTheCacheAsItWasAndListsAgain) {
  // Declared before the informer, whose threads call the reactor until it is destroyed.
  std::atomic<bool> fail_pages{false};
  Informer<Flags> informer(client_, PagedOptions(), DecodeFlags);
  informer.AddEventHandlers(recorder_.Handlers());
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "watch" && fail_pages) return StatusError(410, "Expired", "too old");
    // Every LIST's second (last) page fails while fail_pages is set.
    if (action.verb == "list" && fail_pages && ListCalls() % 2 == 0) {
      return StatusError(500, "InternalError", "etcd leader changed");
    }
    return std::nullopt;
  });
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return client_->OpenWatches() == 1; }));
  client_->ClearActions();
  fail_pages = true;
  client_->BreakWatches();  // rewatching gets 410, so the informer lists again
  ASSERT_TRUE(client_->Delete(kConfigMaps, "a", "cm1").ok());
  ASSERT_TRUE(Eventually([&] { return ListCalls() >= 4; })) << "two LISTs failed on page two";
  EXPECT_THAT(informer.Keys(), ElementsAre("a/cm0", "a/cm1", "a/cm2", "a/cm3", "a/cm4"))
      << "a LIST that did not finish changes nothing";
  EXPECT_FALSE(recorder_.Saw("delete a/cm1 v="));
  fail_pages = false;
  ASSERT_TRUE(Eventually([&] { return recorder_.Saw("delete a/cm1 v="); }));
  EXPECT_THAT(informer.Keys(), ElementsAre("a/cm0", "a/cm2", "a/cm3", "a/cm4"));
}

}  // namespace
}  // namespace agentrollout::kube
