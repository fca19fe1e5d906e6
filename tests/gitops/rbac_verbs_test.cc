// The chart grants exactly the API calls the operator makes: no verb it never uses (each
// is a permission an attacker who takes over the ServiceAccount gets for free, `update` on
// agentrollouts would let it rewrite spec), and none missing (a forbidden call is a
// rollout that cannot progress or roll back).
//
// The operator is wired as operator/main.cc wires it -- informer, executor, real flag
// stores and traffic routers behind the read cache, webhook notifier, event recorder,
// leader election -- over one kube::FakeClient, and runs rollouts that together take
// every call site below. Its call log, mapped to RBAC verbs (GET one -> get, GET list ->
// list, watch -> watch, POST -> create, PUT -> update, PATCH -> patch, DELETE -> delete),
// (a subresource's calls as resource/subresource, as RBAC names them) must equal the rules
// of deploy/install.yaml (the chart rendered with default values: the ClusterRole and the
// Lease Role) and of _helpers.tpl's watchRules (which the Role of `watchNamespace` mode
// shares). The operator runs in every configuration that changes its calls -- all
// namespaces or one (where every call but the Lease's must stay in the watched namespace,
// as a Role there requires), target reads from watch caches or live -- and the chart must
// grant the union: a verb used in any of them is needed. Each of those runs once without
// the deploymentEnv store (the chart's default, install.yaml) and once with it, whose union
// must equal watchRules with deploymentEnv.enabled.
//
// The operator's call sites (`grep -rnE '(client_?|live_|kube)(->|\.)(Get|List|Create|
// Update|UpdateStatus|Patch|Delete|Watch)\(|ListPages\(' kube controllers operator
// analysis`, fake_client and tests aside). A new one must be taken by a scenario here:
//   kube/reflector.cc                 List (ListPages) + Watch: the AgentRollout informer
//                                     and read_cache_client's informers (configmaps,
//                                     featureflags, httproutes, virtualservices; deployments
//                                     with the deploymentEnv store)
//   kube/read_cache_client.cc         Get to the server before its cache has synced and
//                                     after a write (live_->Get); every other method passes
//                                     its caller's call through
//   kube/event_recorder.cc            Create events; Patch events (a repeat)
//   kube/leader_election.cc           Get, Create (first start), Update (renew, release) leases
//   controllers/rollout/reconciler.cc Get agentrollouts (cache behind our writes);
//                                     Get secrets (Prometheus credentials)
//   controllers/rollout/executor.cc   UpdateStatus agentrollouts (PUT /status); Get
//                                     agentrollouts after a 409; Patch agentrollouts (merge
//                                     patch of metadata: the action annotation's removal)
//   controllers/notify/webhook_notifier.cc      Get secrets (secretRef webhook URLs)
//   controllers/flagstore/configmap_flags.cc    Get, Create, Update configmaps
//   controllers/flagstore/featureflag_flags.cc  Get, Create, Update featureflags
//   controllers/flagstore/postgres_flags.cc     Get secrets (flag.postgres connection URIs;
//                                               the table itself is written over libpq)
//   controllers/traffic/route_router.cc         Get, Update httproutes / virtualservices
//   controllers/traffic/replicas_router.cc      Get, Patch (merge) deployments/scale
//   controllers/flagstore/deployment_env_flags.cc  Get, Patch (JSON) deployments
//                                     (--deployment-env-store, the chart's deploymentEnv.enabled)
// analysis/ talks to Prometheus only; operator/main.cc wires the above (--namespace,
// --cache-target-reads, --leader-elect decide which of them run).
// The kubectl plugin (plugin/) runs as its user, not as this ServiceAccount.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "analysis/fake_prometheus_client.h"
#include "api/types.h"
#include "controllers/flagstore/flag_stores.h"
#include "controllers/notify/webhook_notifier.h"
#include "controllers/rollout/executor.h"
#include "controllers/rollout/reconciler.h"
#include "controllers/traffic/gateway_api_router.h"
#include "controllers/traffic/istio_router.h"
#include "controllers/traffic/replicas_router.h"
#include "controllers/traffic/routers.h"
#include "kube/event_recorder.h"
#include "kube/fake_client.h"
#include "kube/leader_election.h"
#include "kube/read_cache_client.h"
#include "operator/metrics.h"

namespace agentrollout::gitops_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kRoot = AGENTROLLOUT_SOURCE_DIR;
constexpr char kRolloutNamespace[] = "voice";
constexpr char kReleaseNamespace[] = "agentrollout-system";

// (apiGroup, resource or resource/subresource, verb): one permission.
using Grant = std::tuple<std::string, std::string, std::string>;

std::string Describe(const std::set<Grant>& grants) {
  std::string out;
  for (const auto& [group, resource, verb] : grants) {
    out += "\n  " + verb + " " + resource + (group.empty() ? "" : "." + group);
  }
  return out.empty() ? " (none)" : out;
}

// Fails with both differences spelled out.
void ExpectSameGrants(const std::set<Grant>& granted, const std::set<Grant>& used,
                      const std::string& what) {
  std::set<Grant> unused;
  std::set<Grant> missing;
  for (const Grant& grant : granted) {
    if (!used.contains(grant)) unused.insert(grant);
  }
  for (const Grant& grant : used) {
    if (!granted.contains(grant)) missing.insert(grant);
  }
  EXPECT_TRUE(unused.empty()) << what << ": granted but never called:" << Describe(unused);
  EXPECT_TRUE(missing.empty()) << what << ": called but not granted:" << Describe(missing);
}

std::set<Grant> GrantsOf(const YAML::Node& rules) {
  std::set<Grant> grants;
  for (const auto& rule : rules) {
    for (const auto& group : rule["apiGroups"]) {
      for (const auto& resource : rule["resources"]) {
        for (const auto& verb : rule["verbs"]) {
          grants.insert(
              {group.as<std::string>(), resource.as<std::string>(), verb.as<std::string>()});
        }
      }
    }
  }
  return grants;
}

// The RBAC verb of a FakeClient action.
std::string RbacVerb(const std::string& verb) {
  if (verb == "update-status") return "update";
  return verb;  // get, list, watch, create, update, patch, delete
}

struct ChartRules {
  std::set<Grant> watch;  // ClusterRole (all namespaces) or Role (watchNamespace)
  std::set<Grant> lease;  // the leader-election Role in the release namespace
};

// The chart's view/edit ClusterRoles for people (aggregated into the built-in roles), which
// the operator's ServiceAccount is not bound to.
bool IsAggregatedForPeople(const YAML::Node& object) {
  const YAML::Node labels = object["metadata"]["labels"];
  if (!labels || !labels.IsMap()) return false;
  for (const auto& label : labels) {
    if (label.first.as<std::string>().rfind("rbac.authorization.k8s.io/aggregate-to-", 0) == 0) {
      return true;
    }
  }
  return false;
}

// deploy/install.yaml: the operator's ClusterRole and the Lease Role rendered with default
// values.
ChartRules InstallYamlRules() {
  std::ifstream file(kRoot + "/deploy/install.yaml");
  ChartRules rules;
  int cluster_roles = 0;
  int roles = 0;
  for (const auto& object : YAML::LoadAll(file)) {
    if (!object.IsMap()) continue;
    const auto kind = object["kind"].as<std::string>();
    if (kind == "ClusterRole" && IsAggregatedForPeople(object)) continue;
    if (kind == "ClusterRole") {
      ++cluster_roles;
      rules.watch = GrantsOf(object["rules"]);
    } else if (kind == "Role") {
      ++roles;
      rules.lease = GrantsOf(object["rules"]);
    }
  }
  EXPECT_EQ(cluster_roles, 1);
  EXPECT_EQ(roles, 1);
  return rules;
}

// The chart's watchRules template (YAML between its define and end) as rendered with
// deploymentEnv.enabled = `deployment_env`: the one conditional block in it is that value's.
std::set<Grant> HelpersWatchRules(bool deployment_env) {
  std::ifstream file(kRoot + "/charts/agentrollout-operator/templates/_helpers.tpl");
  std::stringstream text;
  text << file.rdbuf();
  const std::string all = text.str();
  const std::string define = R"({{- define "agentrollout-operator.watchRules" -}})";
  const auto begin = all.find(define);
  EXPECT_NE(begin, std::string::npos) << "no watchRules in _helpers.tpl";
  if (begin == std::string::npos) return {};
  const auto end = all.find("{{- end -}}", begin);
  std::istringstream lines(all.substr(begin + define.size(), end - begin - define.size()));
  std::string yaml;
  bool in_block = false;
  bool saw_block = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "{{- if .Values.deploymentEnv.enabled }}") {
      in_block = saw_block = true;
    } else if (line == "{{- end }}") {
      in_block = false;
    } else if (!in_block || deployment_env) {
      EXPECT_EQ(line.find("{{"), std::string::npos) << "a template action this test cannot read";
      yaml += line + "\n";
    }
  }
  EXPECT_TRUE(saw_block) << "no {{- if .Values.deploymentEnv.enabled }} block in watchRules";
  return GrantsOf(YAML::Load(yaml));
}

// ------------------------------------------------------------------- the scenarios

json Rollout(const std::string& name, json spec) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

// Two one-minute phases and one metric whose query names the rollout (answers are not
// shared between rollouts).
json Spec(const std::string& query, json flag, json traffic, int failure_limit) {
  return {{"revision", "2"},
          {"flag", std::move(flag)},
          {"traffic", std::move(traffic)},
          {"analysis",
           {{"prometheus",
             {{"address", "http://prometheus:9090"},
              {"bearerTokenSecretRef", {{"name", "prometheus-token"}, {"key", "token"}}}}},
            {"interval", "1m"},
            {"failureLimit", failure_limit},
            {"metrics",
             {{{"name", "error-rate"}, {"query", query}, {"go", "< 0.02"}, {"noGo", "> 0.05"}}}}}},
          {"notifications", {{{"secretRef", {{"name", "webhook"}, {"key", "url"}}}}}},
          {"phases",
           {{{"name", "pilot"}, {"flagPercent", 10}, {"trafficWeight", 10}, {"duration", "1m"}},
            {{"name", "all"}, {"flagPercent", 100}, {"trafficWeight", 100}, {"duration", "1m"}}}}};
}

json Secret(const std::string& name, const std::string& key, const std::string& base64) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
          {"data", {{key, base64}}}};
}

json HttpRoute() {
  return json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "bot"},
    "spec": {"rules": [{"backendRefs": [{"name": "bot-v1", "port": 8080, "weight": 100},
                                        {"name": "bot-v2", "port": 8080, "weight": 0}]}]}})");
}

json VirtualService() {
  return json::parse(R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "bot"},
    "spec": {"hosts": ["bot"],
             "http": [{"route": [{"destination": {"host": "bot-v1"}, "weight": 100},
                                 {"destination": {"host": "bot-v2"}, "weight": 0}]}]}})");
}

json Deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec", {{"replicas", replicas}}}};
}

constexpr char kGatewayQuery[] = R"(errors{rollout="gateway-configmap"})";
constexpr char kIstioQuery[] = R"(errors{rollout="istio-featureflag"})";
constexpr char kReplicasQuery[] = R"(errors{rollout="replicas-configmap"})";
constexpr char kEnvQuery[] = R"(errors{rollout="env-deployment"})";

// The operator's settings that change which calls it makes.
struct Configuration {
  std::string watch_namespace;  // --namespace; "" = all
  bool cache_target_reads;      // --cache-target-reads
  bool deployment_env;          // --deployment-env-store (the chart's deploymentEnv.enabled)
  std::string Name() const {
    return std::string(watch_namespace.empty() ? "all namespaces" : "one namespace") +
           (cache_target_reads ? ", cached target reads" : ", live target reads") +
           (deployment_env ? ", deploymentEnv store" : "");
  }
};

// One operator process over its own fake API server.
class OperatorRun {
 public:
  explicit OperatorRun(Configuration configuration) : configuration_(std::move(configuration)) {}

  // The objects the rollouts use and the rollouts themselves; then the log is cleared, as
  // this is the test's doing, not the operator's.
  void Seed() {
    fake_->EnableStatusSubresource(controllers::kAgentRollouts);
    auto create = [&](const kube::ResourceRef& resource, const std::string& ns, json object) {
      auto created = fake_->Create(resource, ns, object);
      ASSERT_TRUE(created.ok()) << created.error().ToString();
    };
    const std::string ns = kRolloutNamespace;
    create(kube::kSecrets, ns, Secret("prometheus-token", "token", "c2VjcmV0"));
    // http://127.0.0.1:9/hook
    create(kube::kSecrets, ns, Secret("webhook", "url", "aHR0cDovLzEyNy4wLjAuMTo5L2hvb2s="));
    create(controllers::kHttpRoutes, ns, HttpRoute());
    create(controllers::kVirtualServices, ns, VirtualService());
    create(controllers::kDeployments, ns, Deployment("bot-v1", 10));
    create(controllers::kDeployments, ns, Deployment("bot-v2", 0));
    create(kube::kConfigMaps, ns, {{"metadata", {{"name", "existing-flags"}}}});
    json env_deployment = Deployment("bot-env", 1);
    env_deployment["spec"]["template"]["spec"]["containers"] = {
        {{"name", "bot"}, {"image", "bot"}}};
    create(controllers::kDeployments, ns, env_deployment);

    // ConfigMap created on first use, HTTPRoute; runs to Succeeded. Its action annotation
    // is removed once acted on.
    json gateway = Rollout(
        "gateway-configmap",
        Spec(kGatewayQuery, {{"key", "gateway_bot"}, {"configMap", {{"name", "new-flags"}}}},
             {{"gatewayAPI",
               {{"httpRoute", "bot"}, {"stableBackend", "bot-v1"}, {"canaryBackend", "bot-v2"}}}},
             0));
    gateway["metadata"]["annotations"] = {{api::kActionAnnotation, "promote"}};
    create(controllers::kAgentRollouts, ns, gateway);
    // FeatureFlag created on first use, VirtualService; runs to Succeeded.
    create(
        controllers::kAgentRollouts, ns,
        Rollout(
            "istio-featureflag",
            Spec(
                kIstioQuery, {{"key", "istio_bot"}, {"featureFlag", {{"name", "flags"}}}},
                {{"istio",
                  {{"virtualService", "bot"}, {"stableHost", "bot-v1"}, {"canaryHost", "bot-v2"}}}},
                0)));
    // Existing ConfigMap, Deployments; two identical No-Go evaluations (the second Event
    // is a repeat of the first) and a rollback.
    create(controllers::kAgentRollouts, ns,
           Rollout("replicas-configmap",
                   Spec(kReplicasQuery,
                        {{"key", "replicas_bot"}, {"configMap", {{"name", "existing-flags"}}}},
                        {{"replicas",
                          {{"stableDeployment", "bot-v1"},
                           {"canaryDeployment", "bot-v2"},
                           {"totalReplicas", 10}}}},
                        1)));
    prometheus_->SetValue(kGatewayQuery, 0.01);
    prometheus_->SetValue(kIstioQuery, 0.01);
    prometheus_->SetValue(kReplicasQuery, 0.2);
    if (configuration_.deployment_env) {
      SeedDeploymentEnvRollout();
      if (::testing::Test::HasFatalFailure()) return;
    }

    // The first status write of one rollout meets a 409: the executor re-reads the object.
    fake_->AddReactor(
        [conflicted = std::make_shared<std::atomic<bool>>(false)](
            const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
          if (action.verb == "update-status" && action.name == "istio-featureflag" &&
              !conflicted->exchange(true)) {
            return kube::StatusError(409, "Conflict", "the object has been modified");
          }
          return std::nullopt;
        });
    fake_->ClearActions();
  }

  // Flag-only, in a Deployment's environment (flag.deploymentEnv); runs to Succeeded.
  void SeedDeploymentEnvRollout() {
    json env_spec = Spec(
        kEnvQuery,
        {{"key", "env_bot"},
         {"deploymentEnv", {{"deployment", "bot-env"}, {"variables", {{"enabled", "BOT_V2"}}}}}},
        nullptr, 0);
    env_spec.erase("traffic");
    for (json& phase : env_spec["phases"]) phase.erase("trafficWeight");
    auto created = fake_->Create(controllers::kAgentRollouts, kRolloutNamespace,
                                 Rollout("env-deployment", env_spec));
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    prometheus_->SetValue(kEnvQuery, 0.01);
  }

  // Runs the operator as operator/main.cc wires it until every rollout has finished, then
  // shuts it down as main does. The calls it made are fake_->Actions().
  void Run() {
    const std::string& watch_namespace = configuration_.watch_namespace;
    kube::EventRecorderOptions recorder_options;
    recorder_options.component = "agentrollout-operator";
    recorder_options.instance = "operator-0";
    kube::EventRecorder recorder(fake_, recorder_options);

    kube::ReadCacheOptions cache_options;
    cache_options.resources = controllers::FlagStoreResources();
    for (const kube::ResourceRef& resource : controllers::TrafficRouterResources()) {
      cache_options.resources.push_back(resource);
    }
    if (configuration_.deployment_env) cache_options.resources.push_back(controllers::kDeployments);
    const std::size_t cached_kinds = cache_options.resources.size();
    cache_options.namespace_ = watch_namespace;
    kube::ReadCacheClient target_cache(fake_, std::move(cache_options));
    kube::Client& targets =
        configuration_.cache_target_reads ? static_cast<kube::Client&>(target_cache) : *fake_;
    controllers::FlagStorePtr flags = controllers::NewFlagStore(
        targets, {},
        controllers::FlagStoreOptions{.deployment_env = configuration_.deployment_env});
    controllers::TrafficRouterPtr router = controllers::NewTrafficRouter(targets);

    controllers::WebhookNotifierOptions notifier_options;
    notifier_options.max_attempts = 1;
    notifier_options.new_http_client = [](const http::ClientConfig&) -> Result<http::ClientPtr> {
      return Error(ErrorCode::kUnavailable, "no webhook server in this test");
    };
    controllers::WebhookNotifier notifier(fake_, notifier_options);
    controllers::Executor executor(fake_, *flags, *router, recorder, notifier);

    controllers::ReconcilerOptions options;
    options.namespace_ = watch_namespace;
    options.concurrency = 2;
    // Decisions, the scheduler and the workqueue on one clock that the test moves.
    options.clock = clock_;
    options.now = [this] { return clock_->WallNow(); };
    options.scheduler.now = [this] { return clock_->WallNow(); };
    options.scheduler.tick_period = 5ms;
    options.scheduler.spread_evaluations = false;  // the test counts whole intervals
    options.scheduler.connect =
        [this](const analysis::PrometheusTarget&) -> Result<analysis::PrometheusClientPtr> {
      return analysis::PrometheusClientPtr(prometheus_);
    };
    controllers::Reconciler reconciler(fake_, executor, metrics_, options);
    reconciler.StartCaches();
    ASSERT_TRUE(reconciler.WaitForSync(10s));

    std::atomic<bool> leading = false;
    kube::LeaderElectionConfig election;
    election.lease_namespace = kReleaseNamespace;
    election.lease_name = "agentrollout-operator";
    election.identity = "operator-0_0123abcd";
    election.lease_duration = 1500ms;
    election.renew_deadline = 1000ms;
    election.retry_period = 200ms;
    election.on_started_leading = [&] {
      leading = true;
      reconciler.StartWorkers();
    };
    auto elector = kube::LeaderElector::Create(fake_, election);
    ASSERT_TRUE(elector.ok()) << elector.error().ToString();
    (*elector)->Start();

    // Each round moves time past the next evaluation and the bake time; a round whose
    // evaluation was still running when time moved costs one more round, nothing else.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!Finished() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
      if (leading) clock_->Advance(31s);
    }
    // Every informer past its LIST and watching: the rollouts', and with cached target
    // reads one per target kind (the scenarios read every kind).
    const std::size_t informers = 1 + (configuration_.cache_target_reads ? cached_kinds : 0);
    while (fake_->OpenWatches() < informers && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    // The Lease renewed at least once (retry_period) while leading.
    std::this_thread::sleep_for(election.retry_period * 2);
    const bool finished = Finished();
    // Shutdown in main's order; the notifier gets its queued deliveries out first.
    reconciler.Stop();
    notifier.Shutdown();
    recorder.Stop();
    (*elector)->Stop();
    target_cache.Stop();
    ASSERT_TRUE(finished) << metrics_.Serialize();
    EXPECT_GT(notifier.Stats().failed, 0u) << "no webhook delivery was attempted";
  }

  std::vector<kube::FakeClient::Action> Actions() const { return fake_->Actions(); }

 private:
  bool InPhase(const std::string& name, const std::string& phase) {
    return metrics_.Serialize().find("agentrollout_rollout_phase{name=\"" + name +
                                     "\",namespace=\"voice\",phase=\"" + phase + "\"} 1") !=
           std::string::npos;
  }
  bool Finished() {
    return InPhase("gateway-configmap", "Succeeded") && InPhase("istio-featureflag", "Succeeded") &&
           InPhase("replicas-configmap", "RolledBack") &&
           (!configuration_.deployment_env || InPhase("env-deployment", "Succeeded"));
  }

  const Configuration configuration_;
  const std::shared_ptr<kube::FakeClock> clock_ = std::make_shared<kube::FakeClock>();
  std::shared_ptr<kube::FakeClient> fake_ = std::make_shared<kube::FakeClient>();
  std::shared_ptr<analysis::testing::FakePrometheusClient> prometheus_ =
      std::make_shared<analysis::testing::FakePrometheusClient>();
  operator_::Metrics metrics_{"test"};
};

// Runs the operator in `configuration`; its calls' grants go to `watch_used` and, the
// Lease's, to `lease_used`.
void RecordCalls(const Configuration& configuration, std::set<Grant>& watch_used,
                 std::set<Grant>& lease_used) {
  SCOPED_TRACE(configuration.Name());
  OperatorRun run(configuration);
  run.Seed();
  run.Run();
  if (::testing::Test::HasFatalFailure()) return;
  for (const kube::FakeClient::Action& action : run.Actions()) {
    const std::string resource =
        action.resource.resource + (action.subresource.empty() ? "" : "/" + action.subresource);
    const Grant grant{action.resource.group, resource, RbacVerb(action.verb)};
    if (action.resource == kube::kLeases) {
      EXPECT_EQ(action.namespace_, kReleaseNamespace) << "a Lease outside the release namespace";
      lease_used.insert(grant);
      continue;
    }
    watch_used.insert(grant);
    if (!configuration.watch_namespace.empty()) {
      EXPECT_EQ(action.namespace_, configuration.watch_namespace)
          << action.verb << " " << resource << " outside the watched namespace: a Role there "
          << "does not allow it";
    }
  }
}

// Every call of every configuration is granted, and every grant is called in one of them.
TEST(RbacVerbsTest, TheChartGrantsExactlyTheCallsTheOperatorMakes) {
  std::set<Grant> watch_used;              // without the deploymentEnv store
  std::set<Grant> watch_used_deployments;  // with it
  std::set<Grant> lease_used;
  for (const bool deployment_env : {false, true}) {
    for (const Configuration& configuration :
         {Configuration{"", true, deployment_env}, Configuration{"", false, deployment_env},
          Configuration{"voice", true, deployment_env},
          Configuration{"voice", false, deployment_env}}) {
      RecordCalls(configuration, deployment_env ? watch_used_deployments : watch_used, lease_used);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  const ChartRules install = InstallYamlRules();
  ExpectSameGrants(install.watch, watch_used, "deploy/install.yaml ClusterRole");
  ExpectSameGrants(install.lease, lease_used, "deploy/install.yaml leader-election Role");
  // The Role of watchNamespace mode is the same template; install.yaml is its rendering.
  ExpectSameGrants(HelpersWatchRules(false), watch_used, "_helpers.tpl watchRules");
  ExpectSameGrants(HelpersWatchRules(true), watch_used_deployments,
                   "_helpers.tpl watchRules with deploymentEnv.enabled");
  // Only the deploymentEnv store touches Deployments themselves; the replicas router
  // scales them through deployments/scale.
  for (const Grant& grant : watch_used) {
    EXPECT_NE(std::get<1>(grant), "deployments") << std::get<2>(grant) << " deployments";
  }
  EXPECT_TRUE(watch_used_deployments.contains({"apps", "deployments", "patch"}));
  EXPECT_TRUE(watch_used.contains({"apps", "deployments/scale", "patch"}));
}

}  // namespace
}  // namespace agentrollout::gitops_test
