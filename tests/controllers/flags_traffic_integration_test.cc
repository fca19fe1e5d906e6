// Flag stores and traffic routers against a real kube-apiserver (+ etcd) with the
// third-party CRDs installed by hack/cluster.sh (Gateway API HTTPRoute, Istio
// VirtualService, OpenFeature FeatureFlag): many rollouts sharing one ConfigMap,
// FeatureFlag or HTTPRoute concurrently, other content kept, CRD validation of what is
// written, idempotence, and missing objects reported without any write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "controllers/flagstore/featureflag_flags.h"
#include "controllers/flagstore/flag_stores.h"
#include "controllers/traffic/gateway_api_router.h"
#include "controllers/traffic/istio_router.h"
#include "controllers/traffic/replicas_router.h"
#include "controllers/traffic/routers.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout::controllers {
namespace {

using agentrollout::testing::CreateTestNamespace;
using kube::testing::ClusterClient;
using nlohmann::json;
using ::testing::HasSubstr;

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

// Forwards to the cluster, counting the 409 Conflict/AlreadyExists answers, so that a
// concurrency test can show its writers really collided.
class ConflictCountingClient final : public kube::Client {
 public:
  explicit ConflictCountingClient(kube::ClientPtr inner) : inner_(std::move(inner)) {}

  kube::ApiResult<json> Get(const kube::ResourceRef& r, std::string_view ns, std::string_view name,
                            const kube::GetOptions& options = {}) override {
    return inner_->Get(r, ns, name, options);
  }
  kube::ApiResult<kube::ObjectList> List(const kube::ResourceRef& r, std::string_view ns,
                                         const kube::ListOptions& options = {}) override {
    return inner_->List(r, ns, options);
  }
  kube::ApiResult<std::string> ListText(const kube::ResourceRef& r, std::string_view ns,
                                        const kube::ListOptions& options = {}) override {
    return inner_->ListText(r, ns, options);
  }
  kube::ApiResult<json> Create(const kube::ResourceRef& r, std::string_view ns, const json& object,
                               const kube::WriteOptions& options = {}) override {
    return Count(inner_->Create(r, ns, object, options));
  }
  kube::ApiResult<json> Update(const kube::ResourceRef& r, std::string_view ns, const json& object,
                               const kube::WriteOptions& options = {}) override {
    return Count(inner_->Update(r, ns, object, options));
  }
  kube::ApiResult<json> UpdateStatus(const kube::ResourceRef& r, std::string_view ns,
                                     const json& object,
                                     const kube::WriteOptions& options = {}) override {
    return Count(inner_->UpdateStatus(r, ns, object, options));
  }
  kube::ApiResult<json> Patch(const kube::ResourceRef& r, std::string_view ns,
                              std::string_view name, kube::PatchType type, const json& patch,
                              const kube::PatchOptions& options = {}) override {
    return Count(inner_->Patch(r, ns, name, type, patch, options));
  }
  kube::ApiResult<json> Delete(const kube::ResourceRef& r, std::string_view ns,
                               std::string_view name,
                               const kube::DeleteOptions& options = {}) override {
    return inner_->Delete(r, ns, name, options);
  }
  kube::ApiResult<kube::WatchStreamPtr> Watch(const kube::ResourceRef& r, std::string_view ns,
                                              const kube::WatchOptions& options) override {
    return inner_->Watch(r, ns, options);
  }

  int conflicts() const { return conflicts_; }

 private:
  kube::ApiResult<json> Count(kube::ApiResult<json> result) {
    if (!result.ok() &&
        (kube::IsConflict(result.error()) || kube::IsAlreadyExists(result.error()))) {
      ++conflicts_;
    }
    return result;
  }

  const kube::ClientPtr inner_;
  std::atomic<int> conflicts_{0};
};

// Runs body(i) on `threads` threads at once.
template <typename Body>
void RunConcurrently(int threads, Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      ++ready;
      while (ready < threads) std::this_thread::yield();
      body(i);
    });
  }
  for (std::thread& worker : workers) worker.join();
}

std::string ResourceVersion(const json& object) { return object["metadata"]["resourceVersion"]; }

class FlagsTrafficIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    kube::ClientPtr cluster = ClusterClient();
    ASSERT_NE(cluster, nullptr);
    client_ = std::make_shared<ConflictCountingClient>(cluster);
    ns_ = CreateTestNamespace();
  }

  json Get(const kube::ResourceRef& resource, const std::string& name) {
    auto object = client_->Get(resource, ns_, name);
    EXPECT_TRUE(object.ok()) << object.error().ToString();
    return object.ok() ? *object : json();
  }
  void Create(const kube::ResourceRef& resource, const json& object) {
    auto created = client_->Create(resource, ns_, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  DesiredFlags ConfigMapFlags(const std::string& rollout, std::vector<flag::FlagState> flags) {
    DesiredFlags desired;
    desired.namespace_ = ns_;
    desired.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
    desired.rollout = ns_ + "/" + rollout;
    desired.phase = "canary";
    desired.updated_at = std::chrono::system_clock::now();
    desired.flags = std::move(flags);
    return desired;
  }

  std::shared_ptr<ConflictCountingClient> client_;
  std::string ns_;
};

TEST_F(FlagsTrafficIntegration, TwentyRolloutsShareOneConfigMapAndNothingIsLost) {
  constexpr int kRollouts = 20;
  std::atomic<int> failures{0};
  RunConcurrently(kRollouts, [&](int i) {
    FlagStorePtr store = NewFlagStore(*client_);
    const std::string key = "flag_" + std::to_string(i);
    for (int percent : {5, 25, 100}) {  // three phases each, racing the others
      const Status status = store->Apply(ConfigMapFlags(
          "rollout-" + std::to_string(i), {{key, true, percent, {"t-" + std::to_string(i)}, {}}}));
      if (!status.ok()) {
        ++failures;
        ADD_FAILURE() << key << " at " << percent << "%: " << status.error().ToString();
      }
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_GT(client_->conflicts(), 0) << "the writers never collided; the test proves nothing";

  const json object = Get(kube::kConfigMaps, "feature-flags");
  const json document = json::parse(object["data"]["flags.json"].get<std::string>());
  ASSERT_EQ(document.size(), static_cast<std::size_t>(kRollouts));
  for (int i = 0; i < kRollouts; ++i) {
    const json& entry = document["flag_" + std::to_string(i)];
    EXPECT_EQ(entry["percentage"], 100) << i;
    EXPECT_EQ(entry["enabledTenants"], json::array({"t-" + std::to_string(i)})) << i;
    EXPECT_EQ(entry["rollout"], ns_ + "/rollout-" + std::to_string(i));
  }
}

TEST_F(FlagsTrafficIntegration, ConfigMapKeepsOtherContentAndRefusesForeignKeys) {
  const std::string manual = R"({"manual_flag": {"enabled": true, "percentage": 3, "owner": "ops"},
    "theirs": {"enabled": true, "percentage": 50, "rollout": "shop/checkout"}})";
  Create(kube::kConfigMaps, {{"apiVersion", "v1"},
                             {"kind", "ConfigMap"},
                             {"metadata", {{"name", "feature-flags"}}},
                             {"data", {{"flags.json", manual}, {"settings.yaml", "a: 1\n"}}}});
  FlagStorePtr store = NewFlagStore(*client_);
  ASSERT_TRUE(
      store->Apply(ConfigMapFlags("voice", {{"voice_agent_v2", true, 10, {}, {"t-vip"}}})).ok());
  json object = Get(kube::kConfigMaps, "feature-flags");
  json document = json::parse(object["data"]["flags.json"].get<std::string>());
  EXPECT_EQ(document["manual_flag"], json::parse(manual)["manual_flag"]);
  EXPECT_EQ(document["theirs"], json::parse(manual)["theirs"]);
  EXPECT_EQ(document["voice_agent_v2"]["disabledTenants"], json::array({"t-vip"}));
  EXPECT_EQ(object["data"]["settings.yaml"], "a: 1\n");

  // Idempotent: the same state again writes nothing.
  const std::string version = ResourceVersion(object);
  ASSERT_TRUE(
      store->Apply(ConfigMapFlags("voice", {{"voice_agent_v2", true, 10, {}, {"t-vip"}}})).ok());
  EXPECT_EQ(ResourceVersion(Get(kube::kConfigMaps, "feature-flags")), version);

  // Another rollout's key is refused, and nothing is written -- not even its own key.
  const Status refused = store->Apply(ConfigMapFlags(
      "voice", {{"voice_agent_v2", true, 50, {}, {}}, {"theirs", true, 100, {}, {}}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(),
              HasSubstr("configmap " + ns_ + "/feature-flags key flags.json"));
  EXPECT_THAT(refused.error().message(), HasSubstr("shop/checkout"));
  EXPECT_EQ(ResourceVersion(Get(kube::kConfigMaps, "feature-flags")), version);
}

TEST_F(FlagsTrafficIntegration, ConfigMapThatIsNotAJsonObjectIsNeverOverwritten) {
  Create(kube::kConfigMaps, {{"apiVersion", "v1"},
                             {"kind", "ConfigMap"},
                             {"metadata", {{"name", "feature-flags"}}},
                             {"data", {{"flags.json", "voice_agent_v2: true\n"}}}});
  const std::string version = ResourceVersion(Get(kube::kConfigMaps, "feature-flags"));
  const Status status = NewFlagStore(*client_)->Apply(
      ConfigMapFlags("voice", {{"voice_agent_v2", true, 10, {}, {}}}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("is not valid JSON"));
  const json object = Get(kube::kConfigMaps, "feature-flags");
  EXPECT_EQ(ResourceVersion(object), version);
  EXPECT_EQ(object["data"]["flags.json"], "voice_agent_v2: true\n");
}

TEST_F(FlagsTrafficIntegration, FeatureFlagKeepsOtherFlagsAndPassesCrdValidation) {
  const json checkout = json::parse(R"({"state": "ENABLED",
    "variants": {"blue": "blue", "green": "green"}, "defaultVariant": "blue",
    "targeting": {"if": [{"$ref": "staff"}, "green", null]}})");
  Create(kFeatureFlags,
         {{"apiVersion", "core.openfeature.dev/v1beta1"},
          {"kind", "FeatureFlag"},
          {"metadata", {{"name", "agent-flags"}}},
          {"spec",
           {{"flagSpec",
             {{"flags", {{"checkout", checkout}}},
              {"$evaluators", {{"staff", {{"in", {"@example.com", {{"var", "email"}}}}}}}}}}}}});
  DesiredFlags desired;
  desired.namespace_ = ns_;
  desired.feature_flag = api::FeatureFlagStore{"agent-flags"};
  desired.rollout = ns_ + "/voice";
  desired.phase = "canary";
  desired.flags = {{"voice_agent_v2", true, 10, {"t-internal"}, {"t-vip"}},
                   {"voucher_creation", false, 0, {}, {}}};
  FlagStorePtr store = NewFlagStore(*client_);
  ASSERT_TRUE(store->Apply(desired).ok());

  json object = Get(kFeatureFlags, "agent-flags");
  const json& flags = object["spec"]["flagSpec"]["flags"];
  EXPECT_EQ(flags["checkout"], checkout);
  EXPECT_EQ(object["spec"]["flagSpec"]["$evaluators"]["staff"]["in"][0], "@example.com");
  EXPECT_EQ(flags["voice_agent_v2"], json::parse(R"({
    "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["t-vip"]]}, "off",
                         {"in": [{"var": "targetingKey"}, ["t-internal"]]}, "on",
                         {"fractional": [["on", 10], ["off", 90]]}]},
    "metadata": {"rollout": ")" + ns_ + R"(/voice"}})"));
  EXPECT_EQ(flags["voucher_creation"]["state"], "DISABLED");

  const std::string version = ResourceVersion(object);
  ASSERT_TRUE(store->Apply(desired).ok());
  EXPECT_EQ(ResourceVersion(Get(kFeatureFlags, "agent-flags")), version);
}

// A deleted rollout lets go of its entries (API.md §2 onDelete) in both stores: the CRD
// accepts a FeatureFlag flag without metadata, nothing is created when the object is gone.
TEST_F(FlagsTrafficIntegration, ReleaseClearsTheOwnerInBothStoresAndNeverCreates) {
  FlagStorePtr store = NewFlagStore(*client_);
  DesiredFlags on = ConfigMapFlags("voice", {{"voice_agent_v2", true, 10, {}, {}}});
  DesiredFlags off = ConfigMapFlags("voice", {{"voice_agent_v2", false, 0, {}, {}}});
  ASSERT_TRUE(store->Release(off, ReleaseMode::kWithState).ok());
  auto missing = client_->Get(kube::kConfigMaps, ns_, "feature-flags");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(kube::IsNotFound(missing.error()));

  ASSERT_TRUE(store->Apply(on).ok());
  ASSERT_TRUE(store->Release(off, ReleaseMode::kWithState).ok());
  const json entry = json::parse(Get(kube::kConfigMaps, "feature-flags")["data"]["flags.json"]
                                     .get<std::string>())["voice_agent_v2"];
  EXPECT_EQ(entry["enabled"], false);
  EXPECT_EQ(entry["percentage"], 0);
  EXPECT_FALSE(entry.contains("rollout")) << entry.dump();

  for (DesiredFlags* desired : {&on, &off}) {
    desired->config_map.reset();
    desired->feature_flag = api::FeatureFlagStore{"agent-flags"};
  }
  ASSERT_TRUE(store->Apply(on).ok());
  ASSERT_TRUE(store->Release(off, ReleaseMode::kOwnerOnly).ok());
  const json flag =
      Get(kFeatureFlags, "agent-flags")["spec"]["flagSpec"]["flags"]["voice_agent_v2"];
  EXPECT_EQ(flag["state"], "ENABLED") << "kOwnerOnly keeps the state";
  EXPECT_FALSE(flag.contains("metadata")) << flag.dump();
}

TEST_F(FlagsTrafficIntegration, FeatureFlagIsCreatedAndSharedByConcurrentRollouts) {
  constexpr int kRollouts = 10;
  std::atomic<int> failures{0};
  RunConcurrently(kRollouts, [&](int i) {
    DesiredFlags desired;
    desired.namespace_ = ns_;
    desired.feature_flag = api::FeatureFlagStore{"shared-flags"};
    desired.rollout = ns_ + "/rollout-" + std::to_string(i);
    desired.flags = {{"flag_" + std::to_string(i), true, 5 * i, {}, {}}};
    if (Status status = NewFlagStore(*client_)->Apply(desired); !status.ok()) {
      ++failures;
      ADD_FAILURE() << status.error().ToString();
    }
  });
  EXPECT_EQ(failures, 0);
  const json flags = Get(kFeatureFlags, "shared-flags")["spec"]["flagSpec"]["flags"];
  ASSERT_EQ(flags.size(), static_cast<std::size_t>(kRollouts));
  for (int i = 0; i < kRollouts; ++i) {
    EXPECT_EQ(flags["flag_" + std::to_string(i)]["targeting"]["fractional"][0][1], 5 * i);
  }
}

json HttpRoute(int pairs) {
  json rules = json::array();
  for (int i = 0; i < pairs; ++i) {
    const std::string n = std::to_string(i);
    rules.push_back({{"matches", {{{"path", {{"type", "PathPrefix"}, {"value", "/r" + n}}}}}},
                     {"backendRefs",
                      {{{"name", "stable-" + n}, {"port", 80}, {"weight", 100}},
                       {{"name", "canary-" + n}, {"port", 80}, {"weight", 0}}}}});
  }
  rules.push_back({{"matches", {{{"path", {{"type", "PathPrefix"}, {"value", "/admin"}}}}}},
                   {"backendRefs", {{{"name", "stable-0"}, {"port", 80}}}}});
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", "agents"}}},
          {"spec",
           {{"parentRefs", {{{"name", "public-gateway"}}}},
            {"hostnames", {"agents.example.com"}},
            {"rules", rules}}}};
}

TrafficTarget GatewayTarget(const std::string& ns, int pair, int weight) {
  TrafficTarget target;
  target.namespace_ = ns;
  const std::string n = std::to_string(pair);
  target.router.gateway_api = api::GatewayApiTraffic{"agents", "stable-" + n, "canary-" + n};
  target.weight = weight;
  return target;
}

TEST_F(FlagsTrafficIntegration, HttpRouteRulesOfConcurrentRolloutsGetTheirWeights) {
  constexpr int kRollouts = 8;
  Create(kHttpRoutes, HttpRoute(kRollouts));
  const json created = Get(kHttpRoutes, "agents");
  std::atomic<int> failures{0};
  RunConcurrently(kRollouts, [&](int i) {
    TrafficRouterPtr router = NewTrafficRouter(*client_);
    for (int weight : {5, 10 + i}) {
      if (Status status = router->SetWeight(GatewayTarget(ns_, i, weight)); !status.ok()) {
        ++failures;
        ADD_FAILURE() << status.error().ToString();
      }
    }
  });
  EXPECT_EQ(failures, 0);
  const json route = Get(kHttpRoutes, "agents");
  // As created (with the API server's defaults), but for the weights of each pair.
  json expected = created["spec"];
  for (int i = 0; i < kRollouts; ++i) {
    expected["rules"][i]["backendRefs"][0]["weight"] = 100 - (10 + i);
    expected["rules"][i]["backendRefs"][1]["weight"] = 10 + i;
  }
  EXPECT_EQ(route["spec"], expected);

  const std::string version = ResourceVersion(route);
  ASSERT_TRUE(NewTrafficRouter(*client_)->SetWeight(GatewayTarget(ns_, 3, 13)).ok());
  EXPECT_EQ(ResourceVersion(Get(kHttpRoutes, "agents")), version);
}

TEST_F(FlagsTrafficIntegration, VirtualServiceWeightsWithOtherRoutesUntouched) {
  Create(kVirtualServices, json::parse(R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "voice"},
    "spec": {"hosts": ["voice.example.com"],
      "http": [
        {"name": "main", "route": [
          {"destination": {"host": "voice", "subset": "v1"}, "weight": 100},
          {"destination": {"host": "voice", "subset": "v2"}, "weight": 0}]},
        {"name": "admin", "route": [{"destination": {"host": "voice", "subset": "v1"}}]}],
      "tcp": [{"route": [{"destination": {"host": "voice", "subset": "v1"}}]}]}})"));
  TrafficTarget target;
  target.namespace_ = ns_;
  target.router.istio = api::IstioTraffic{"voice", "voice", "voice", "v1", "v2"};
  target.weight = 25;
  TrafficRouterPtr router = NewTrafficRouter(*client_);
  ASSERT_TRUE(router->Check(target).ok());
  ASSERT_TRUE(router->SetWeight(target).ok());
  const json service = Get(kVirtualServices, "voice");
  EXPECT_EQ(service["spec"]["http"][0]["route"][0]["weight"], 75);
  EXPECT_EQ(service["spec"]["http"][0]["route"][1]["weight"], 25);
  EXPECT_EQ(
      service["spec"]["http"][1],
      json::parse(
          R"({"name": "admin", "route": [{"destination": {"host": "voice", "subset": "v1"}}]})"));
  EXPECT_EQ(service["spec"]["tcp"],
            json::parse(R"([{"route": [{"destination": {"host": "voice", "subset": "v1"}}]}])"));
  const std::string version = ResourceVersion(service);
  ASSERT_TRUE(router->SetWeight(target).ok());
  EXPECT_EQ(ResourceVersion(Get(kVirtualServices, "voice")), version);
}

json Deployment(const std::string& name, int replicas) {
  json deployment = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}};
  deployment["metadata"]["name"] = name;
  deployment["spec"]["replicas"] = replicas;
  deployment["spec"]["selector"]["matchLabels"]["app"] = name;
  deployment["spec"]["template"]["metadata"]["labels"]["app"] = name;
  deployment["spec"]["template"]["spec"]["containers"] =
      json::array({{{"name", "agent"}, {"image", "agent:" + name}}});
  return deployment;
}

TrafficTarget ReplicasTarget(const std::string& ns, int weight) {
  TrafficTarget target;
  target.namespace_ = ns;
  target.router.replicas = api::ReplicasTraffic{"voice-v1", "voice-v2", 4};
  target.weight = weight;
  return target;
}

TEST_F(FlagsTrafficIntegration, DeploymentReplicasFollowTheWeight) {
  Create(kDeployments, Deployment("voice-v1", 4));
  Create(kDeployments, Deployment("voice-v2", 0));
  TrafficRouterPtr router = NewTrafficRouter(*client_);
  for (const auto& [weight, canary] :
       std::vector<std::pair<int, int>>{{10, 1}, {50, 2}, {51, 3}, {100, 4}, {0, 0}}) {
    ASSERT_TRUE(router->SetWeight(ReplicasTarget(ns_, weight)).ok());
    EXPECT_EQ(Get(kDeployments, "voice-v2")["spec"]["replicas"], canary) << weight;
    EXPECT_EQ(Get(kDeployments, "voice-v1")["spec"]["replicas"], 4 - canary) << weight;
  }
  const std::string version = ResourceVersion(Get(kDeployments, "voice-v2"));
  ASSERT_TRUE(router->SetWeight(ReplicasTarget(ns_, 0)).ok());
  EXPECT_EQ(ResourceVersion(Get(kDeployments, "voice-v2")), version);
}

// What the router relies on in the apiserver's scale subresource: the Scale carries the
// Deployment's resourceVersion and spec.replicas, a patch with a stale one is refused (so
// the router's read-then-patch cannot undo a concurrent change), and a patch of the Scale
// changes only spec.replicas.
TEST_F(FlagsTrafficIntegration, DeploymentScaleSubresourceIsResourceVersionGuarded) {
  Create(kDeployments, Deployment("voice-v1", 3));
  const json deployment = Get(kDeployments, "voice-v1");
  auto scale = client_->Get(kDeployments, ns_, "voice-v1", {.subresource = "scale"});
  ASSERT_TRUE(scale.ok()) << scale.error().ToString();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 3);
  EXPECT_EQ(ResourceVersion(*scale), ResourceVersion(deployment));

  json relabelled = deployment;
  relabelled["metadata"]["labels"]["touched"] = "yes";
  ASSERT_TRUE(client_->Update(kDeployments, ns_, relabelled).ok());
  kube::PatchOptions patch_scale;
  patch_scale.subresource = "scale";
  auto stale = client_->Patch(
      kDeployments, ns_, "voice-v1", kube::PatchType::kMerge,
      {{"metadata", {{"resourceVersion", ResourceVersion(*scale)}}}, {"spec", {{"replicas", 1}}}},
      patch_scale);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(kube::IsConflict(stale.error())) << stale.error().ToString();
  EXPECT_EQ(Get(kDeployments, "voice-v1")["spec"]["replicas"], 3);

  const std::string current = ResourceVersion(Get(kDeployments, "voice-v1"));
  auto scaled = client_->Patch(
      kDeployments, ns_, "voice-v1", kube::PatchType::kMerge,
      {{"metadata", {{"resourceVersion", current}}}, {"spec", {{"replicas", 0}}}}, patch_scale);
  ASSERT_TRUE(scaled.ok()) << scaled.error().ToString();
  const json after = Get(kDeployments, "voice-v1");
  EXPECT_EQ(after["spec"]["replicas"], 0);
  EXPECT_EQ(after["spec"]["template"], deployment["spec"]["template"]);
  EXPECT_EQ(after["metadata"]["labels"]["touched"], "yes");
  EXPECT_EQ(ResourceVersion(*scaled), ResourceVersion(after));
}

TEST_F(FlagsTrafficIntegration, MissingRouterObjectsAreNotFoundAndNothingIsWritten) {
  TrafficRouterPtr router = NewTrafficRouter(*client_);

  // No HTTPRoute at all.
  Status status = router->SetWeight(GatewayTarget(ns_, 0, 10));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message(), "httproute " + ns_ + "/agents: not found");
  EXPECT_FALSE(client_->Get(kHttpRoutes, ns_, "agents").ok());  // not created

  // An HTTPRoute without the canary backend.
  Create(kHttpRoutes, HttpRoute(1));
  const std::string route_version = ResourceVersion(Get(kHttpRoutes, "agents"));
  TrafficTarget wrong = GatewayTarget(ns_, 0, 10);
  wrong.router.gateway_api->canary_backend = "canary-9";
  for (Status s : {router->Check(wrong), router->SetWeight(wrong)}) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
    EXPECT_THAT(s.error().message(), HasSubstr("canary \"canary-9\" is in no rule"));
  }
  EXPECT_EQ(ResourceVersion(Get(kHttpRoutes, "agents")), route_version);

  // No VirtualService.
  TrafficTarget istio;
  istio.namespace_ = ns_;
  istio.router.istio = api::IstioTraffic{"voice", "voice-v1", "voice-v2", "", ""};
  istio.weight = 10;
  status = router->Check(istio);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message(), "virtualservice " + ns_ + "/voice: not found");

  // The stable Deployment exists, the canary does not: the stable one is not scaled.
  Create(kDeployments, Deployment("voice-v1", 4));
  const std::string stable_version = ResourceVersion(Get(kDeployments, "voice-v1"));
  status = router->SetWeight(ReplicasTarget(ns_, 50));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message(), "deployment " + ns_ + "/voice-v2: not found");
  EXPECT_EQ(ResourceVersion(Get(kDeployments, "voice-v1")), stable_version);
}

}  // namespace
}  // namespace agentrollout::controllers
