// The Kubernetes client against a real kube-apiserver (+ etcd) from hack/cluster.sh:
// REST calls, pagination, conflicts, every patch type, the status subresource, informers,
// leader election, event aggregation and TLS errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>

#include "api/codec.h"
#include "api/types.h"
#include "http/test_server.h"
#include "kube/event_recorder.h"
#include "kube/files.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/read_cache_client.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout::kube {
namespace {

using agentrollout::testing::CreateTestNamespace;
using nlohmann::json;
using testing::ClusterClient;
using testing::ClusterConfig;
using testing::ConfigMap;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::NameOf;

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

const ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};

class KubeClientIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = ClusterClient();
    ASSERT_NE(client_, nullptr);
    ns_ = CreateTestNamespace();
  }
  ClientPtr client_;
  std::string ns_;
};

TEST_F(KubeClientIntegration, ReadsTheClusterThroughItsKubeconfig) {
  RestConfig config = ClusterConfig();
  EXPECT_EQ(config.server, agentrollout::testing::Cluster().server_url());
  EXPECT_FALSE(config.tls.client_cert_pem.empty());
  auto ns = client_->Get(kNamespaces, "", ns_);
  ASSERT_TRUE(ns.ok()) << ns.error().ToString();
  EXPECT_EQ((*ns)["metadata"]["name"], ns_);
  EXPECT_EQ((*ns)["kind"], "Namespace");
}

TEST_F(KubeClientIntegration, ConfigMapCrud) {
  auto created = client_->Create(kConfigMaps, ns_, ConfigMap("flags", {{"flags.json", "{}"}}));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], ns_);
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());

  auto again = client_->Create(kConfigMaps, ns_, ConfigMap("flags"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(IsAlreadyExists(again.error()));
  EXPECT_EQ(again.error().message(), "configmaps \"flags\" already exists");
  ASSERT_TRUE(again.api_status().has_value());
  EXPECT_EQ(again.api_status()->code, 409);
  EXPECT_EQ(again.api_status()->reason, "AlreadyExists");
  EXPECT_EQ(again.api_status()->details["name"], "flags");

  json object = *client_->Get(kConfigMaps, ns_, "flags");
  object["data"]["flags.json"] = R"({"voice_agent_v2":{"enabled":true}})";
  auto updated = client_->Update(kConfigMaps, ns_, object);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], object["metadata"]["resourceVersion"]);
  EXPECT_EQ((*client_->Get(kConfigMaps, ns_, "flags"))["data"]["flags.json"],
            R"({"voice_agent_v2":{"enabled":true}})");

  DeleteOptions stale_uid;
  stale_uid.precondition_uid = "not-the-uid";
  auto refused = client_->Delete(kConfigMaps, ns_, "flags", stale_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsConflict(refused.error())) << refused.error().ToString();

  DeleteOptions right_uid;
  right_uid.precondition_uid = (*updated)["metadata"]["uid"].get<std::string>();
  ASSERT_TRUE(client_->Delete(kConfigMaps, ns_, "flags", right_uid).ok());
  auto gone = client_->Get(kConfigMaps, ns_, "flags");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsNotFound(gone.error()));
  EXPECT_EQ(gone.error().message(), "configmaps \"flags\" not found");
  EXPECT_TRUE(IsNotFound(client_->Delete(kConfigMaps, ns_, "flags").error()));
}

TEST_F(KubeClientIntegration, StaleResourceVersionConflicts) {
  json first = *client_->Create(kConfigMaps, ns_, ConfigMap("shared", {{"a", "1"}}));
  json mine = first;
  mine["data"]["a"] = "2";
  ASSERT_TRUE(client_->Update(kConfigMaps, ns_, mine).ok());
  json theirs = first;  // read before my write
  theirs["data"]["b"] = "x";
  auto conflict = client_->Update(kConfigMaps, ns_, theirs);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(IsConflict(conflict.error()));
  EXPECT_THAT(conflict.error().message(), HasSubstr("the object has been modified"));
  EXPECT_EQ(conflict.api_status()->reason, "Conflict");
  EXPECT_EQ((*client_->Get(kConfigMaps, ns_, "shared"))["data"], json({{"a", "2"}}));
}

TEST_F(KubeClientIntegration, PaginatesOverMoreThan500Objects) {
  constexpr int kCount = 520;
  std::vector<std::future<bool>> creates;
  for (int worker = 0; worker < 8; ++worker) {
    creates.push_back(std::async(std::launch::async, [&, worker] {
      for (int i = worker; i < kCount; i += 8) {
        char name[16];
        std::snprintf(name, sizeof(name), "cm-%04d", i);
        if (!client_->Create(kConfigMaps, ns_, ConfigMap(name, {{"i", std::to_string(i)}})).ok()) {
          return false;
        }
      }
      return true;
    }));
  }
  for (auto& done : creates) ASSERT_TRUE(done.get());

  ListOptions options;
  options.limit = 100;
  std::vector<std::string> names;
  int pages = 0;
  std::string list_version;
  do {
    auto page = client_->List(kConfigMaps, ns_, options);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
    ++pages;
    if (pages == 1) {
      list_version = page->resource_version;
      ASSERT_TRUE(page->remaining_item_count.has_value());
      // kube-root-ca.crt is published by a controller that does not run here.
      EXPECT_EQ(*page->remaining_item_count, kCount - 100);
    }
    EXPECT_LE(page->items.size(), 100u);
    for (const auto& item : page->items) names.push_back(NameOf(item));
    options.continue_token = page->continue_token;
  } while (!options.continue_token.empty());
  EXPECT_EQ(pages, 6);
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));

  ListOptions paged;
  paged.limit = 77;
  auto all = ListAll(*client_, kConfigMaps, ns_, paged);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_EQ(all->items.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(all->items.front()["kind"], "ConfigMap");

  ListOptions selected;
  selected.field_selector = "metadata.name=cm-0007";
  auto one = client_->List(kConfigMaps, ns_, selected);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0]["data"]["i"], "7");
}

TEST_F(KubeClientIntegration, AllPatchTypes) {
  ASSERT_TRUE(client_->Create(kConfigMaps, ns_, ConfigMap("p", {{"a", "1"}, {"b", "2"}})).ok());

  auto merged = client_->Patch(kConfigMaps, ns_, "p", PatchType::kMerge,
                               {{"data", {{"a", nullptr}, {"c", "3"}}}});
  ASSERT_TRUE(merged.ok()) << merged.error().ToString();
  EXPECT_EQ((*merged)["data"], json({{"b", "2"}, {"c", "3"}}));

  auto patched =
      client_->Patch(kConfigMaps, ns_, "p", PatchType::kJson,
                     json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "2"}},
                                  {{"op", "replace"}, {"path", "/data/b"}, {"value", "20"}}}));
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  EXPECT_EQ((*patched)["data"]["b"], "20");
  auto failed_test =
      client_->Patch(kConfigMaps, ns_, "p", PatchType::kJson,
                     json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "2"}}}));
  ASSERT_FALSE(failed_test.ok());
  EXPECT_TRUE(failed_test.api_status().has_value());

  // A merge patch naming a stale resourceVersion is refused like an update.
  auto stale = client_->Patch(kConfigMaps, ns_, "p", PatchType::kMerge,
                              {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"x", "y"}}}});
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(IsConflict(stale.error())) << stale.error().ToString();

  PatchOptions alice;
  alice.field_manager = "alice";
  auto applied = client_->Patch(kConfigMaps, ns_, "applied", PatchType::kApply,
                                ConfigMap("applied", {{"owner", "alice"}}), alice);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();  // apply creates
  EXPECT_EQ((*applied)["data"]["owner"], "alice");
  PatchOptions bob;
  bob.field_manager = "bob";
  auto contested = client_->Patch(kConfigMaps, ns_, "applied", PatchType::kApply,
                                  ConfigMap("applied", {{"owner", "bob"}}), bob);
  ASSERT_FALSE(contested.ok());
  EXPECT_TRUE(IsConflict(contested.error()));
  EXPECT_THAT(contested.error().message(), HasSubstr("alice"));
  bob.force = true;
  auto forced = client_->Patch(kConfigMaps, ns_, "applied", PatchType::kApply,
                               ConfigMap("applied", {{"owner", "bob"}}), bob);
  ASSERT_TRUE(forced.ok()) << forced.error().ToString();
  EXPECT_EQ((*forced)["data"]["owner"], "bob");
}

json Rollout(const std::string& name, const std::string& revision) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"revision", revision},
            {"flag", {{"key", "voice_agent_v2"}, {"configMap", {{"name", "flags"}}}}},
            {"phases", json::array({{{"name", "canary"}, {"flagPercent", 5}}})}}}};
}

TEST_F(KubeClientIntegration, StatusSubresourceOfAgentRollout) {
  auto created = client_->Create(kRollouts, ns_, Rollout("voice", "1"));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ((*created)["metadata"]["generation"], 1);

  json with_status = *created;
  with_status["status"] = {{"phase", "Progressing"}, {"observedGeneration", 1}};
  with_status["spec"]["revision"] = "ignored";
  auto status_written = client_->UpdateStatus(kRollouts, ns_, with_status);
  ASSERT_TRUE(status_written.ok()) << status_written.error().ToString();
  EXPECT_EQ((*status_written)["status"]["phase"], "Progressing");
  EXPECT_EQ((*status_written)["spec"]["revision"], "1") << "/status does not write spec";
  EXPECT_EQ((*status_written)["metadata"]["generation"], 1);

  json spec_change = *status_written;
  spec_change["spec"]["revision"] = "2";
  spec_change["status"]["phase"] = "Succeeded";
  auto spec_written = client_->Update(kRollouts, ns_, spec_change);
  ASSERT_TRUE(spec_written.ok()) << spec_written.error().ToString();
  EXPECT_EQ((*spec_written)["metadata"]["generation"], 2);
  EXPECT_EQ((*spec_written)["status"]["phase"], "Progressing")
      << "the main resource ignores status";

  auto stale = client_->UpdateStatus(kRollouts, ns_, *status_written);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(IsConflict(stale.error()));

  PatchOptions status;
  status.subresource = "status";
  auto patched = client_->Patch(kRollouts, ns_, "voice", PatchType::kMerge,
                                {{"status", {{"message", "waiting for bake"}}}}, status);
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  EXPECT_EQ((*patched)["status"]["message"], "waiting for bake");
  EXPECT_EQ((*patched)["status"]["phase"], "Progressing");
  status.field_manager = "agentrollout";
  status.force = true;
  auto applied = client_->Patch(kRollouts, ns_, "voice", PatchType::kApply,
                                {{"apiVersion", api::kApiVersion},
                                 {"kind", api::kKind},
                                 {"metadata", {{"name", "voice"}}},
                                 {"status", {{"phase", "Paused"}}}},
                                status);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ((*applied)["status"]["phase"], "Paused");
  EXPECT_EQ((*applied)["metadata"]["generation"], 2);
}

class Recorded {
 public:
  void Push(std::string event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  bool Saw(const std::string& event) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(events_.begin(), events_.end(), event) != events_.end();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

TEST_F(KubeClientIntegration, InformerFollowsTheServer) {
  ASSERT_TRUE(
      client_->Create(kConfigMaps, ns_, ConfigMap("before", {{"v", "1"}}, {{"app", "flags"}}))
          .ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, ns_, ConfigMap("unlabelled")).ok());
  InformerOptions options;
  options.reflector.resource = kConfigMaps;
  options.reflector.namespace_ = ns_;
  options.reflector.label_selector = "app=flags";
  options.reflector.page_size = 2;
  Informer<testing::Flags> informer(client_, options, testing::DecodeFlags);
  Recorded recorded;
  EventHandlers<testing::Flags> handlers;
  handlers.on_add = [&](const auto& f) { recorded.Push("add " + f->name); };
  handlers.on_update = [&](const auto&, const auto& f) {
    recorded.Push("update " + f->name + " " + f->data.at("v"));
  };
  handlers.on_delete = [&](const auto& f) { recorded.Push("delete " + f->name); };
  informer.AddEventHandlers(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  EXPECT_TRUE(recorded.Saw("add before"));
  EXPECT_EQ(informer.Get(ns_, "unlabelled"), nullptr);

  ASSERT_TRUE(
      client_->Create(kConfigMaps, ns_, ConfigMap("after", {{"v", "1"}}, {{"app", "flags"}})).ok());
  ASSERT_TRUE(
      client_->Patch(kConfigMaps, ns_, "before", PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, ns_, "after").ok());
  ASSERT_TRUE(Eventually([&] { return recorded.Saw("delete after"); }));
  EXPECT_TRUE(recorded.Saw("add after"));
  EXPECT_TRUE(recorded.Saw("update before 2"));
  EXPECT_EQ(informer.Get(ns_, "before")->data.at("v"), "2");
  EXPECT_EQ(informer.ListNamespace(ns_).size(), 1u);
  informer.Stop();
}

TEST_F(KubeClientIntegration, ReadCacheClientAnswersFromTheWatchAndWritesSafely) {
  ASSERT_TRUE(client_->Create(kConfigMaps, ns_, ConfigMap("flags", {{"v", "1"}})).ok());
  ReadCacheOptions options;
  options.resources = {kConfigMaps};
  options.namespace_ = ns_;
  ReadCacheClient cache(client_, options);
  // Reads `v` through the cache; true when the cache (not the server) answered `want`.
  auto cached_value_is = [&](const std::string& want) {
    const long before = cache.stats().cache_reads;
    auto read = cache.Get(kConfigMaps, ns_, "flags");
    return read.ok() && cache.stats().cache_reads > before && (*read)["data"]["v"] == want;
  };
  ASSERT_TRUE(Eventually(std::bind_front(cached_value_is, "1")));

  // Someone else's change arrives through the watch.
  ASSERT_TRUE(
      client_->Patch(kConfigMaps, ns_, "flags", PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(Eventually(std::bind_front(cached_value_is, "2")));

  // Read-modify-write through the cache, racing a writer that bypasses it: the write with a
  // stale resourceVersion is refused, the next read comes from the server.
  auto read = cache.Get(kConfigMaps, ns_, "flags");
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(
      client_->Patch(kConfigMaps, ns_, "flags", PatchType::kMerge, {{"data", {{"v", "3"}}}}).ok());
  (*read)["data"]["v"] = "ours";
  auto refused = cache.Update(kConfigMaps, ns_, *read, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsConflict(refused.error())) << refused.error().ToString();
  const long live_before = cache.stats().live_reads;
  auto current = cache.Get(kConfigMaps, ns_, "flags");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(cache.stats().live_reads, live_before + 1);
  EXPECT_EQ((*current)["data"]["v"], "3");
  (*current)["data"]["v"] = "ours";
  auto written = cache.Update(kConfigMaps, ns_, *current, {});
  ASSERT_TRUE(written.ok()) << written.error().ToString();

  // Our own write is read back at once, and from the cache once the watch has it.
  auto after = cache.Get(kConfigMaps, ns_, "flags");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["metadata"]["resourceVersion"], (*written)["metadata"]["resourceVersion"]);
  ASSERT_TRUE(Eventually(std::bind_front(cached_value_is, "ours")));

  // The cache leaves managedFields out; a PUT of a cached object keeps the server's.
  auto cached = cache.Get(kConfigMaps, ns_, "flags");
  ASSERT_TRUE(cached.ok());
  EXPECT_FALSE((*cached)["metadata"].contains("managedFields"));
  (*cached)["data"]["v"] = "last";
  ASSERT_TRUE(cache.Update(kConfigMaps, ns_, *cached, {}).ok());
  auto stored = client_->Get(kConfigMaps, ns_, "flags");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["data"]["v"], "last");
  ASSERT_TRUE((*stored)["metadata"].contains("managedFields"));
  EXPECT_FALSE((*stored)["metadata"]["managedFields"].empty());
  cache.Stop();
}

TEST_F(KubeClientIntegration, InformerCachesTypedAgentRollouts) {
  ASSERT_TRUE(client_->Create(kRollouts, ns_, Rollout("voice", "1")).ok());
  InformerOptions options;
  options.reflector.resource = kRollouts;
  options.reflector.namespace_ = ns_;
  Informer<api::AgentRollout> informer(client_, options, api::DecodeAgentRollout);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  auto voice = informer.Get(ns_, "voice");
  ASSERT_NE(voice, nullptr);
  EXPECT_EQ(voice->metadata.generation, 1);
  EXPECT_EQ(voice->spec.revision, "1");
  ASSERT_EQ(voice->spec.phases.size(), 1u);
  EXPECT_EQ(voice->spec.phases[0].flag_percent, 5);
  ASSERT_TRUE(
      client_->Patch(kRollouts, ns_, "voice", PatchType::kMerge, {{"spec", {{"revision", "2"}}}})
          .ok());
  ASSERT_TRUE(Eventually([&] { return informer.Get(ns_, "voice")->spec.revision == "2"; }));
  EXPECT_EQ(informer.Get(ns_, "voice")->metadata.generation, 2);
  EXPECT_EQ(voice->spec.revision, "1") << "objects handed out never change";
  informer.Stop();
}

LeaderElectionConfig ElectionConfig(const std::string& ns, const std::string& identity,
                                    bool release_on_cancel) {
  LeaderElectionConfig config;
  config.lease_namespace = ns;
  config.lease_name = "agentrollout-operator";
  config.identity = identity;
  config.lease_duration = std::chrono::seconds(3);
  config.renew_deadline = std::chrono::seconds(2);
  config.retry_period = std::chrono::milliseconds(500);
  config.release_on_cancel = release_on_cancel;
  return config;
}

TEST_F(KubeClientIntegration, LeaderElectionWithTwoElectors) {
  auto make = [&](const std::string& id, bool release) {
    auto elector = LeaderElector::Create(ClusterClient(), ElectionConfig(ns_, id, release));
    EXPECT_TRUE(elector.ok());
    return std::move(elector).value();
  };
  auto a = make("a", /*release=*/false);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  auto b = make("b", /*release=*/true);
  b->Start();
  // Exactly one leads while a keeps renewing.
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(a->IsLeader());
    ASSERT_FALSE(b->IsLeader());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(b->CurrentLeader(), "a");

  // a stops renewing without releasing: b takes over once a's lease has expired.
  a->Stop();
  const auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return b->IsLeader(); }, std::chrono::seconds(20)));
  const auto takeover = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_GE(takeover, std::chrono::seconds(1)) << "not before a's lease could have expired";
  // Lease duration plus one jittered retry period, with slack for a loaded machine.
  EXPECT_LE(takeover, std::chrono::milliseconds(3000 + 600 + 1500));
  auto lease = client_->Get(kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);

  // A clean release hands over at once: c gets the lease well before it would expire.
  auto c = make("c", /*release=*/true);
  c->Start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_FALSE(c->IsLeader());
  b->Stop();
  const auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return c->IsLeader(); }, std::chrono::seconds(20)));
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, std::chrono::milliseconds(2000));
  c->Stop();
  lease = client_->Get(kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 1);
}

TEST_F(KubeClientIntegration, RepeatedEventsAggregateIntoOneEvent) {
  json rollout = *client_->Create(kRollouts, ns_, Rollout("voice", "1"));
  ObjectReference ref{api::kApiVersion,
                      api::kKind,
                      "voice",
                      ns_,
                      rollout["metadata"]["uid"].get<std::string>(),
                      rollout["metadata"]["resourceVersion"].get<std::string>()};
  EventRecorderOptions options;
  options.component = "agentrollout";
  options.instance = "integration-test";
  EventRecorder recorder(client_, options);
  for (int i = 0; i < 4; ++i) {
    recorder.Record(ref, EventType::kNormal, "AnalysisHold", "latency-p95-ms 912 is not < 800");
  }
  recorder.Record(ref, EventType::kWarning, "AnalysisNoGo", "error-rate 0.07 > 0.05");
  recorder.Flush();
  EXPECT_EQ(recorder.failed(), 0u);
  auto events = client_->List(kEvents, ns_);
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ASSERT_EQ(events->items.size(), 2u);
  for (const json& event : events->items) {
    EXPECT_EQ(event["involvedObject"]["uid"], ref.uid);
    EXPECT_EQ(event["involvedObject"]["kind"], "AgentRollout");
    EXPECT_EQ(event["source"]["component"], "agentrollout");
    EXPECT_EQ(event["reportingComponent"], "agentrollout");
    if (event["reason"] == "AnalysisHold") {
      EXPECT_EQ(event["count"], 4);
      EXPECT_EQ(event["type"], "Normal");
      EXPECT_LE(event["firstTimestamp"].get<std::string>(),
                event["lastTimestamp"].get<std::string>());
    } else {
      EXPECT_EQ(event["reason"], "AnalysisNoGo");
      EXPECT_EQ(event["count"], 1);
      EXPECT_EQ(event["type"], "Warning");
    }
  }
  // kubectl shows them for the object (what `kubectl describe aro` lists).
  auto described = agentrollout::testing::Cluster().Kubectl(
      {"get", "events", "-n", ns_, "--field-selector", "involvedObject.name=voice", "-o", "name"});
  EXPECT_EQ(described.exit_code, 0) << described.Describe();
}

TEST_F(KubeClientIntegration, WrongCaIsAClearTlsError) {
  auto pki = http::testing::GenerateTestPki();
  ASSERT_TRUE(pki.ok()) << pki.error().ToString();
  RestConfig config = ClusterConfig();
  config.tls.ca_pem = pki->other_ca_cert_pem;
  auto client = NewClient(config);
  ASSERT_TRUE(client.ok());
  auto got = (*client)->Get(kNamespaces, "", ns_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(got.error().message(), HasSubstr("TLS handshake failed"));
  EXPECT_THAT(got.error().message(), HasSubstr("certificate verification failed"));

  // The same through a kubeconfig whose certificate-authority file is the wrong CA.
  char dir_template[] = "/tmp/kube-wrong-ca-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  std::ofstream(dir / "other-ca.crt") << pki->other_ca_cert_pem;
  auto original = ReadFileToString(agentrollout::testing::Cluster().kubeconfig());
  ASSERT_TRUE(original.ok()) << original.error().message();
  std::string text = *original;
  const std::size_t at = text.find("certificate-authority-data:");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, text.find('\n', at) - at, "certificate-authority: other-ca.crt");
  std::ofstream(dir / "kubeconfig") << text;
  KubeconfigOptions options;
  options.path = (dir / "kubeconfig").string();
  auto loaded = LoadKubeconfig(options);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  auto via_kubeconfig = NewClient(*loaded);
  ASSERT_TRUE(via_kubeconfig.ok());
  got = (*via_kubeconfig)->Get(kNamespaces, "", ns_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.error().message(), HasSubstr("TLS handshake failed"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace agentrollout::kube
