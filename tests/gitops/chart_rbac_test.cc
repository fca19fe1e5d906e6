// The chart's RBAC on a real kube-apiserver (authorization-mode RBAC): apply the rendered
// chart, then ask the apiserver what its ServiceAccount may do (`kubectl auth can-i --as`,
// a SubjectAccessReview), for every rule of the README's table and for the things it must
// not do; and run the operator binary itself as that ServiceAccount. Label integration:
// needs the cluster of hack/cluster.sh and helm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/gitops/helm.h"
#include "tests/harness/cluster.h"
#include "tests/harness/process.h"

namespace agentrollout::gitops_test {
namespace {

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

struct Access {
  std::string verb;
  std::string resource;     // resource.group, as kubectl names it
  std::string subresource;  // "", "status" or "scale"
  std::string namespace_;   // "" = all namespaces (--all-namespaces)
};

std::string Describe(const Access& a) {
  return a.verb + " " + a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) + " in " +
         (a.namespace_.empty() ? "all namespaces" : "namespace " + a.namespace_);
}

class ChartRbacTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(Helm().empty()) << "hack/helm-bin.sh failed"; }

  // Renders the chart as release `release` into `release_namespace` and applies it.
  void Install(const std::string& release, const std::string& release_namespace,
               const std::vector<std::string>& sets) {
    const auto rendered = Render(release, release_namespace, sets);
    ASSERT_FALSE(rendered.objects.empty());
    service_account_name_ =
        rendered.OfKind("ServiceAccount").at(0)["metadata"]["name"].as<std::string>();
    service_account_ = "system:serviceaccount:" + release_namespace + ":" + service_account_name_;
    const auto applied = agentrollout::testing::Cluster().Kubectl(
        {"apply", "--server-side", "--field-manager=chart-rbac-test", "-f", "-"}, rendered.text);
    ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  }

  // Whether the apiserver lets the chart's ServiceAccount do `a`.
  bool Can(const Access& a) {
    std::vector<std::string> args = {"auth", "can-i", a.verb, a.resource, "--as", service_account_};
    if (!a.subresource.empty()) args.push_back("--subresource=" + a.subresource);
    if (a.namespace_.empty()) {
      args.push_back("--all-namespaces");
    } else {
      args.insert(args.end(), {"-n", a.namespace_});
    }
    const auto result = agentrollout::testing::Cluster().Kubectl(args);
    EXPECT_TRUE(result.out.starts_with("yes") || result.out.starts_with("no"))
        << Describe(a) << ": " << result.Describe();
    return result.exit_code == 0 && result.out.starts_with("yes");
  }

  void ExpectAllowed(const std::vector<Access>& accesses) {
    for (const auto& a : accesses) EXPECT_TRUE(Can(a)) << "should be allowed: " << Describe(a);
  }
  void ExpectForbidden(const std::vector<Access>& accesses) {
    for (const auto& a : accesses) EXPECT_FALSE(Can(a)) << "should be forbidden: " << Describe(a);
  }

  std::string service_account_name_;
  std::string service_account_;
};

// Everything the operator does in a namespace it watches (the README's table; the verbs
// its code calls, rbac_verbs_test.cc) with the chart's default values.
std::vector<Access> WatchedNamespaceAccess(const std::string& ns) {
  std::vector<Access> out;
  for (const char* verb : {"get", "list", "watch", "patch"}) {
    out.push_back({verb, "agentrollouts.rollouts.agentops.dev", "", ns});
  }
  out.push_back({"get", "deployments.apps", "scale", ns});
  out.push_back({"patch", "deployments.apps", "scale", ns});
  out.push_back({"update", "agentrollouts.rollouts.agentops.dev", "status", ns});
  for (const char* verb : {"get", "list", "watch", "update"}) {
    out.push_back({verb, "httproutes.gateway.networking.k8s.io", "", ns});
    out.push_back({verb, "virtualservices.networking.istio.io", "", ns});
  }
  for (const char* verb : {"get", "list", "watch", "create", "update"}) {
    out.push_back({verb, "configmaps", "", ns});
    out.push_back({verb, "featureflags.core.openfeature.dev", "", ns});
  }
  out.push_back({"get", "secrets", "", ns});
  out.push_back({"create", "events", "", ns});
  out.push_back({"patch", "events", "", ns});
  return out;
}

// Deployments themselves: only with deploymentEnv.enabled (the flag.deploymentEnv store).
std::vector<Access> DeploymentEnvAccess(const std::string& ns) {
  std::vector<Access> out;
  for (const char* verb : {"get", "list", "watch", "patch"}) {
    out.push_back({verb, "deployments.apps", "", ns});
  }
  return out;
}

// What it must never do, wherever it watches: among others every verb its code does not
// call on the resources it uses (`update` on agentrollouts would let it rewrite spec).
std::vector<Access> NeverAllowed(const std::string& ns) {
  return {
      {"list", "secrets", "", ns},
      {"watch", "secrets", "", ns},
      {"update", "secrets", "", ns},
      {"update", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"delete", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"create", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"get", "agentrollouts.rollouts.agentops.dev", "status", ns},
      {"patch", "agentrollouts.rollouts.agentops.dev", "status", ns},
      {"patch", "configmaps", "", ns},
      {"delete", "configmaps", "", ns},
      {"patch", "featureflags.core.openfeature.dev", "", ns},
      {"delete", "featureflags.core.openfeature.dev", "", ns},
      {"patch", "httproutes.gateway.networking.k8s.io", "", ns},
      {"delete", "httproutes.gateway.networking.k8s.io", "", ns},
      {"patch", "virtualservices.networking.istio.io", "", ns},
      {"update", "deployments.apps", "", ns},
      {"delete", "deployments.apps", "", ns},
      {"update", "deployments.apps", "scale", ns},
      {"get", "pods", "", ns},
      {"create", "pods", "", ns},
      {"create", "serviceaccounts", "", ns},
      {"create", "leases.coordination.k8s.io", "", ns},
      {"create", "rolebindings.rbac.authorization.k8s.io", "", ns},
  };
}

TEST_F(ChartRbacTest, AllNamespacesGrantsExactlyTheTableEverywhereAndTheLeaseAtHome) {
  const std::string release_ns = agentrollout::testing::CreateTestNamespace();
  const std::string other_ns = agentrollout::testing::CreateTestNamespace();
  Install("cw-" + release_ns.substr(release_ns.rfind('-') + 1), release_ns, {});

  ExpectAllowed(WatchedNamespaceAccess(other_ns));
  ExpectAllowed({{"list", "agentrollouts.rollouts.agentops.dev", "", ""},
                 {"watch", "agentrollouts.rollouts.agentops.dev", "", ""},
                 {"list", "configmaps", "", ""}});
  ExpectForbidden(NeverAllowed(other_ns));
  ExpectForbidden(DeploymentEnvAccess(other_ns));
  ExpectForbidden({{"list", "secrets", "", ""},
                   {"update", "customresourcedefinitions.apiextensions.k8s.io", "", ""},
                   {"create", "clusterrolebindings.rbac.authorization.k8s.io", "", ""}});

  // Leases: in the release namespace only, and never deleted.
  ExpectAllowed({{"get", "leases.coordination.k8s.io", "", release_ns},
                 {"create", "leases.coordination.k8s.io", "", release_ns},
                 {"update", "leases.coordination.k8s.io", "", release_ns}});
  ExpectForbidden({{"delete", "leases.coordination.k8s.io", "", release_ns},
                   {"list", "leases.coordination.k8s.io", "", release_ns},
                   {"update", "leases.coordination.k8s.io", "", other_ns}});
}

TEST_F(ChartRbacTest, OneWatchNamespaceGrantsNothingOutsideIt) {
  const std::string release_ns = agentrollout::testing::CreateTestNamespace();
  const std::string watched_ns = agentrollout::testing::CreateTestNamespace();
  const std::string other_ns = agentrollout::testing::CreateTestNamespace();
  Install("ns-" + release_ns.substr(release_ns.rfind('-') + 1), release_ns,
          {"watchNamespace=" + watched_ns});

  ExpectAllowed(WatchedNamespaceAccess(watched_ns));
  ExpectForbidden(NeverAllowed(watched_ns));
  ExpectForbidden(DeploymentEnvAccess(watched_ns));
  // The whole table is refused in any other namespace and cluster-wide.
  ExpectForbidden(WatchedNamespaceAccess(other_ns));
  ExpectForbidden({{"list", "agentrollouts.rollouts.agentops.dev", "", ""},
                   {"get", "secrets", "", release_ns}});
  ExpectAllowed({{"update", "leases.coordination.k8s.io", "", release_ns}});
}

// deploymentEnv.enabled adds Deployments themselves (patch: their pod templates), in the
// watched namespace only, and nothing else.
TEST_F(ChartRbacTest, DeploymentEnvAddsPatchOnDeploymentsInTheWatchedNamespaceOnly) {
  const std::string release_ns = agentrollout::testing::CreateTestNamespace();
  const std::string watched_ns = agentrollout::testing::CreateTestNamespace();
  const std::string other_ns = agentrollout::testing::CreateTestNamespace();
  Install("de-" + release_ns.substr(release_ns.rfind('-') + 1), release_ns,
          {"watchNamespace=" + watched_ns, "deploymentEnv.enabled=true"});

  ExpectAllowed(WatchedNamespaceAccess(watched_ns));
  ExpectAllowed(DeploymentEnvAccess(watched_ns));
  ExpectForbidden(NeverAllowed(watched_ns));
  ExpectForbidden(DeploymentEnvAccess(other_ns));
}

// ---- the operator itself as the ServiceAccount

using nlohmann::json;

// The admin kubeconfig's cluster, with the ServiceAccount's token as the only user.
std::string ServiceAccountKubeconfig(const std::string& token) {
  const YAML::Node admin = YAML::LoadFile(agentrollout::testing::Cluster().kubeconfig().string());
  YAML::Node config;
  config["apiVersion"] = "v1";
  config["kind"] = "Config";
  config["clusters"] = admin["clusters"];
  YAML::Node user;
  user["name"] = "operator";
  user["user"]["token"] = token;
  config["users"].push_back(user);
  YAML::Node context;
  context["name"] = "operator";
  context["context"]["cluster"] = admin["clusters"][0]["name"];
  context["context"]["user"] = "operator";
  config["contexts"].push_back(context);
  config["current-context"] = "operator";
  return YAML::Dump(config);
}

// Two phases (the first bakes for an hour) analysed against a Prometheus that refuses
// connections: the second failed evaluation rolls the rollout back fully. Its credentials
// come from a Secret.
json RolloutSpec(json flag, json traffic) {
  return {
      {"revision", "2"},
      {"flag", std::move(flag)},
      {"traffic", std::move(traffic)},
      {"analysis",
       {{"prometheus",
         {{"address", "http://127.0.0.1:1"},
          {"timeout", "1s"},
          {"bearerTokenSecretRef", {{"name", "prometheus-token"}, {"key", "token"}}}}},
        {"interval", "1s"},
        {"errorLimit", 1},
        {"metrics",
         {{{"name", "error-rate"}, {"query", "errors"}, {"go", "< 0.02"}, {"noGo", "> 0.05"}}}}}},
      {"rollback", {{"mode", "total"}}},
      {"phases",
       {{{"name", "pilot"}, {"flagPercent", 10}, {"trafficWeight", 10}, {"duration", "1h"}},
        {{"name", "all"}, {"flagPercent", 100}, {"trafficWeight", 100}}}}};
}

json Object(const std::string& api_version, const std::string& kind, const std::string& name,
            json fields) {
  fields["apiVersion"] = api_version;
  fields["kind"] = kind;
  fields["metadata"]["name"] = name;
  return fields;
}

json Deployment(const std::string& name, int replicas) {
  return Object("apps/v1", "Deployment", name,
                {{"spec",
                  {{"replicas", replicas},
                   {"selector", {{"matchLabels", {{"app", name}}}}},
                   {"template",
                    {{"metadata", {{"labels", {{"app", name}}}}},
                     {"spec", {{"containers", {{{"name", "agent"}, {"image", "agent:2"}}}}}}}}}}});
}

// What the rollouts use, and the rollouts: a ConfigMap flag (created by the operator) with
// an HTTPRoute, a FeatureFlag (created by the operator) with a VirtualService, and a
// ConfigMap flag with two Deployments; the first carries an action to act on and remove.
json RolloutsAndTheirObjects() {
  json items = json::array();
  items.push_back(Object("v1", "Secret", "prometheus-token",
                         {{"metadata", {{"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
                          {"stringData", {{"token", "secret"}}}}));
  items.push_back(Object("gateway.networking.k8s.io/v1", "HTTPRoute", "bot",
                         {{"spec",
                           {{"rules",
                             {{{"backendRefs",
                                {{{"name", "bot-v1"}, {"port", 80}, {"weight", 100}},
                                 {{"name", "bot-v2"}, {"port", 80}, {"weight", 0}}}}}}}}}}));
  items.push_back(Object("networking.istio.io/v1", "VirtualService", "bot",
                         {{"spec",
                           {{"hosts", {"bot"}},
                            {"http",
                             {{{"route",
                                {{{"destination", {{"host", "bot-v1"}}}, {"weight", 100}},
                                 {{"destination", {{"host", "bot-v2"}}}, {"weight", 0}}}}}}}}}}));
  items.push_back(Deployment("bot-v1", 10));
  items.push_back(Deployment("bot-v2", 0));
  json gateway =
      Object("rollouts.agentops.dev/v1alpha1", "AgentRollout", "gateway-configmap",
             {{"spec", RolloutSpec({{"key", "gateway_bot"}, {"configMap", {{"name", "flags"}}}},
                                   {{"gatewayAPI",
                                     {{"httpRoute", "bot"},
                                      {"stableBackend", "bot-v1"},
                                      {"canaryBackend", "bot-v2"}}}})}});
  gateway["metadata"]["annotations"]["rollouts.agentops.dev/action"] = "pause";
  items.push_back(gateway);
  items.push_back(
      Object("rollouts.agentops.dev/v1alpha1", "AgentRollout", "istio-featureflag",
             {{"spec", RolloutSpec({{"key", "istio_bot"}, {"featureFlag", {{"name", "flags"}}}},
                                   {{"istio",
                                     {{"virtualService", "bot"},
                                      {"stableHost", "bot-v1"},
                                      {"canaryHost", "bot-v2"}}}})}}));
  items.push_back(
      Object("rollouts.agentops.dev/v1alpha1", "AgentRollout", "replicas-configmap",
             {{"spec", RolloutSpec({{"key", "replicas_bot"}, {"configMap", {{"name", "flags"}}}},
                                   {{"replicas",
                                     {{"stableDeployment", "bot-v1"},
                                      {"canaryDeployment", "bot-v2"},
                                      {"totalReplicas", 10}}}})}}));
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}};
}

// kubectl -n NS get RESOURCE -o json, as the admin.
json GetJson(const std::string& ns, const std::string& resource) {
  const auto got =
      agentrollout::testing::Cluster().Kubectl({"-n", ns, "get", resource, "-o", "json"});
  EXPECT_EQ(got.exit_code, 0) << got.Describe();
  return json::parse(got.out, nullptr, false);
}

// Whatever the operator calls in a rollout's life -- informer, status, action annotation,
// both flag stores, the three routers, Secrets, Events, the Lease -- the apiserver allows
// to the chart's ServiceAccount (a TokenRequest token; watchNamespace mode, where the
// grants are narrowest): every rollout reaches RolledBack and nothing is refused.
TEST_F(ChartRbacTest, TheOperatorRunsAsTheServiceAccountWithNothingRefused) {
  const std::string ns = agentrollout::testing::CreateTestNamespace();
  Install("op-" + ns.substr(ns.rfind('-') + 1), ns, {"watchNamespace=" + ns});
  const auto token = agentrollout::testing::Cluster().Kubectl(
      {"-n", ns, "create", "token", service_account_name_, "--duration=1h"});
  ASSERT_EQ(token.exit_code, 0) << token.Describe();
  auto dir = agentrollout::testing::MakeTempDir("chart-rbac-operator");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  const std::filesystem::path kubeconfig = *dir / "kubeconfig";
  std::ofstream(kubeconfig) << ServiceAccountKubeconfig(
      token.out.substr(0, token.out.find_last_not_of('\n') + 1));

  const auto applied = agentrollout::testing::Cluster().Kubectl(
      {"-n", ns, "apply", "--server-side", "--field-manager=chart-rbac-test", "-f", "-"},
      RolloutsAndTheirObjects().dump());
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();

  const std::filesystem::path log = *dir / "operator.log";
  // Leader election with its default timing: the Lease is taken at once (nobody holds it).
  const std::vector<std::string> argv = {AGENTROLLOUT_OPERATOR,
                                         "--kubeconfig=" + kubeconfig.string(),
                                         "--namespace=" + ns,
                                         "--leader-elect",
                                         "--leader-election-namespace=" + ns,
                                         "--health-addr=127.0.0.1:0",
                                         "--metrics-addr=0",
                                         "--pod-name=rbac-test"};
  auto process = agentrollout::testing::BackgroundProcess::Start(argv, log);
  ASSERT_TRUE(process.ok()) << process.error().ToString();

  auto rolled_back = [&] {
    const json rollouts = GetJson(ns, "agentrollouts.rollouts.agentops.dev");
    int count = 0;
    for (const json& rollout : rollouts.value("items", json::array())) {
      if (rollout.value("status", json::object()).value("phase", "") == "RolledBack") ++count;
    }
    return count == 3;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!rolled_back() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!rolled_back()) {
    std::string statuses;
    for (const json& rollout : GetJson(ns, "agentrollouts.rollouts.agentops.dev")["items"]) {
      statuses += "\n  " + rollout["metadata"]["name"].get<std::string>() + ": " +
                  rollout.value("status", json::object()).dump();
    }
    ADD_FAILURE() << "not every rollout rolled back:" << statuses;
  }
  const json gateway = GetJson(ns, "agentrollout/gateway-configmap");
  EXPECT_FALSE(gateway["metadata"]
                   .value("annotations", json::object())
                   .contains("rollouts.agentops.dev/action"))
      << "the action annotation was not removed";
  // The Lease names this process: --pod-name, '_' and a random suffix.
  const json leases = GetJson(ns, "leases.coordination.k8s.io");
  ASSERT_EQ(leases.value("items", json::array()).size(), 1u) << leases.dump(2);
  EXPECT_THAT(leases["items"][0]["spec"].value("holderIdentity", ""),
              ::testing::MatchesRegex("rbac-test_[0-9a-f]{8}"));

  process->Stop();  // SIGTERM: Events sent, Lease released
  std::istringstream text(agentrollout::testing::ReadFileOrEmpty(log));
  std::vector<std::string> refused;
  for (std::string line; std::getline(text, line);) {
    // The first few say enough; a refused write is retried many times.
    if (line.find("forbidden") != std::string::npos && refused.size() < 3) {
      refused.push_back(line);
    }
  }
  EXPECT_THAT(refused, ::testing::IsEmpty()) << "the operator was refused (log " << log << ")";
  EXPECT_EQ(process->exit_code(), 0) << "log " << log;
}

}  // namespace
}  // namespace agentrollout::gitops_test
