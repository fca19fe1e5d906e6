#include "kube/read_cache_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "kube/fake_client.h"

namespace agentrollout::kube {
namespace {

using nlohmann::json;

const ResourceRef kRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};

json ConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", {{"v", value}}}};
}

std::string VersionOf(const json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

class ReadCacheClientTest : public ::testing::Test {
 protected:
  // `watch_backoff`: how long the cache stays behind after BreakWatches().
  std::unique_ptr<ReadCacheClient> NewCache(std::chrono::milliseconds watch_backoff) {
    ReadCacheOptions options;
    options.resources = {kConfigMaps};
    options.namespace_ = "a";
    options.informer.reflector.initial_backoff = watch_backoff;
    options.informer.reflector.max_backoff = watch_backoff;
    return std::make_unique<ReadCacheClient>(fake_, options);
  }

  // Gets sent to the API server so far.
  int ServerGets() const {
    int gets = 0;
    for (const auto& action : fake_->Actions()) gets += action.verb == "get";
    return gets;
  }

  // A first Get starts the cache; waits (10 s at most) until Gets are served from it.
  static bool WarmUp(ReadCacheClient& cache, const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const long before = cache.stats().cache_reads;
      (void)cache.Get(kConfigMaps, "a", name);
      if (cache.stats().cache_reads > before) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // Waits (10 s at most) until the cache answers `name` at `version`.
  static bool CacheReaches(ReadCacheClient& cache, const std::string& name,
                           const std::string& version) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const long before = cache.stats().cache_reads;
      auto read = cache.Get(kConfigMaps, "a", name);
      if (cache.stats().cache_reads > before && read.ok() && VersionOf(*read) == version) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  std::shared_ptr<FakeClient> fake_ = std::make_shared<FakeClient>();
};

TEST_F(ReadCacheClientTest, GetsOfACachedResourceAreAnsweredFromTheCacheOnceSynced) {
  json flags = ConfigMap("flags", "1");
  flags["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  ASSERT_TRUE(fake_->Create(kConfigMaps, "a", flags).ok());
  auto cache = NewCache(std::chrono::milliseconds(5));
  ASSERT_TRUE(WarmUp(*cache, "flags"));
  fake_->ClearActions();

  auto read = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_EQ((*read)["data"]["v"], "1");
  EXPECT_FALSE((*read)["metadata"].contains("managedFields")) << "not kept in the cache";
  auto missing = cache->Get(kConfigMaps, "a", "nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(IsNotFound(missing.error())) << missing.error().ToString();
  EXPECT_EQ(missing.error().message(), "configmaps \"nothing\" not found");
  EXPECT_EQ(ServerGets(), 0);

  // A change by someone else reaches the cache through the watch.
  auto changed = fake_->Update(kConfigMaps, "a", ConfigMap("flags", "2"));
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(CacheReaches(*cache, "flags", VersionOf(*changed)));
  EXPECT_EQ(ServerGets(), 0);
}

TEST_F(ReadCacheClientTest, ACachedObjectReadsBackAsTheServerSentItExceptManagedFields) {
  // The cache keeps objects as MessagePack bytes: every JSON type must come back the same,
  // since the router PUTs what it read.
  json route = ConfigMap("route", "1");
  route["spec"] = json::parse(R"({
    "rules": [{"backendRefs": [{"name": "stable", "port": 8080, "weight": 95},
                               {"name": "canary", "port": 8080, "weight": 5}],
               "timeouts": null, "matches": []}],
    "ratio": 0.25, "whole": 1.0, "negative": -3, "big": 18446744073709551615,
    "enabled": false, "text": "caf\u00e9 \ud83d\ude80 \"quoted\"", "empty": {}})");
  json sent = route;
  route["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  auto created = fake_->Create(kConfigMaps, "a", route);
  ASSERT_TRUE(created.ok());
  auto cache = NewCache(std::chrono::milliseconds(5));
  ASSERT_TRUE(CacheReaches(*cache, "route", VersionOf(*created)));

  auto read = cache->Get(kConfigMaps, "a", "route");
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  json expected = *created;
  expected["metadata"].erase("managedFields");
  EXPECT_EQ(*read, expected);
  EXPECT_EQ(read->dump(), expected.dump());
  EXPECT_EQ((*read)["spec"], sent["spec"]);
}

TEST_F(ReadCacheClientTest, OtherResourcesAndNamespacesAreReadFromTheServer) {
  ASSERT_TRUE(fake_->Create(kConfigMaps, "a", ConfigMap("flags", "1")).ok());
  ASSERT_TRUE(fake_->Create(kConfigMaps, "b", ConfigMap("flags", "1")).ok());
  auto cache = NewCache(std::chrono::milliseconds(5));
  ASSERT_TRUE(WarmUp(*cache, "flags"));
  fake_->ClearActions();

  EXPECT_TRUE(cache->Get(kConfigMaps, "b", "flags").ok());
  EXPECT_FALSE(cache->Get(kRoutes, "a", "route").ok());
  EXPECT_EQ(ServerGets(), 2);
  for (const auto& action : fake_->Actions()) {
    EXPECT_NE(action.verb, "watch") << "no cache is started for " << action.resource.ToString();
  }
}

TEST_F(ReadCacheClientTest, AfterItsOwnWriteReadsGoToTheServerUntilTheCacheHasTheWrite) {
  auto created = fake_->Create(kConfigMaps, "a", ConfigMap("flags", "1"));
  ASSERT_TRUE(created.ok());
  auto cache = NewCache(std::chrono::seconds(2));
  ASSERT_TRUE(WarmUp(*cache, "flags"));
  fake_->BreakWatches();  // the cache stays behind for 2 s

  json object = ConfigMap("flags", "2");
  object["metadata"]["resourceVersion"] = VersionOf(*created);
  auto written = cache->Update(kConfigMaps, "a", object, {});
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  fake_->ClearActions();
  auto read = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(VersionOf(*read), VersionOf(*written));
  EXPECT_EQ(ServerGets(), 1) << "the cache is behind the write: read from the server";

  ASSERT_TRUE(CacheReaches(*cache, "flags", VersionOf(*written)));
  fake_->ClearActions();
  EXPECT_TRUE(cache->Get(kConfigMaps, "a", "flags").ok());
  EXPECT_EQ(ServerGets(), 0) << "the cache has the write: read from it again";
}

TEST_F(ReadCacheClientTest, AConflictSendsTheNextReadToTheServer) {
  ASSERT_TRUE(fake_->Create(kConfigMaps, "a", ConfigMap("flags", "1")).ok());
  auto cache = NewCache(std::chrono::seconds(2));
  ASSERT_TRUE(WarmUp(*cache, "flags"));
  fake_->BreakWatches();
  auto theirs = fake_->Update(kConfigMaps, "a", ConfigMap("flags", "theirs"));
  ASSERT_TRUE(theirs.ok());

  // A read-modify-write as the flag stores do it: the stale read costs one 409.
  auto stale = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ((*stale)["data"]["v"], "1");
  (*stale)["data"]["v"] = "ours";
  auto refused = cache->Update(kConfigMaps, "a", *stale, {});
  ASSERT_FALSE(refused.ok());
  ASSERT_TRUE(IsConflict(refused.error()));

  auto current = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ((*current)["data"]["v"], "theirs");
  (*current)["data"]["v"] = "ours";
  auto written = cache->Update(kConfigMaps, "a", *current, {});
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  auto stored = fake_->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["data"]["v"], "ours");
}

TEST_F(ReadCacheClientTest, ACreateAndADeleteAreSeenAtOnce) {
  ASSERT_TRUE(fake_->Create(kConfigMaps, "a", ConfigMap("other", "1")).ok());
  auto cache = NewCache(std::chrono::seconds(2));
  ASSERT_TRUE(WarmUp(*cache, "other"));
  fake_->BreakWatches();

  ASSERT_TRUE(cache->Create(kConfigMaps, "a", ConfigMap("flags", "1"), {}).ok());
  auto read = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_EQ((*read)["data"]["v"], "1");

  ASSERT_TRUE(cache->Delete(kConfigMaps, "a", "flags", {}).ok());
  auto gone = cache->Get(kConfigMaps, "a", "flags");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsNotFound(gone.error()));
}

TEST_F(ReadCacheClientTest, AfterStopGetsGoToTheServer) {
  ASSERT_TRUE(fake_->Create(kConfigMaps, "a", ConfigMap("flags", "1")).ok());
  auto cache = NewCache(std::chrono::milliseconds(5));
  ASSERT_TRUE(WarmUp(*cache, "flags"));
  cache->Stop();
  fake_->ClearActions();
  EXPECT_TRUE(cache->Get(kConfigMaps, "a", "flags").ok());
  EXPECT_EQ(ServerGets(), 1);
}

}  // namespace
}  // namespace agentrollout::kube
