// The Helm chart: `helm lint` passes, its kubeVersion is the tested range, RBAC is exactly the
// documented least-privilege table (no wildcards, Role vs ClusterRole by watchNamespace), the
// Deployment is hardened and passes flags the operator accepts, and deploy/install.yaml is what the
// chart renders. helm is built from Go modules by hack/helm-bin.sh (first run: minutes), hence
// label integration.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "operator/options.h"
#include "tests/gitops/helm.h"
#include "tests/gitops/run_command.h"

namespace agentrollout::gitops_test {
namespace {

using ::testing::HasSubstr;

const std::string kRoot = AGENTROLLOUT_SOURCE_DIR;
constexpr char kReleaseNamespace[] = "agentrollout-system";

// (apiGroup, resource, verbs) of one rule; one group and one resource per rule.
using Rule = std::tuple<std::string, std::string, std::set<std::string>>;

const std::set<Rule> kWatchRules = {
    {"rollouts.agentops.dev", "agentrollouts", {"get", "list", "watch", "patch"}},
    {"rollouts.agentops.dev", "agentrollouts/status", {"update"}},
    {"", "configmaps", {"get", "list", "watch", "create", "update"}},
    {"core.openfeature.dev", "featureflags", {"get", "list", "watch", "create", "update"}},
    {"gateway.networking.k8s.io", "httproutes", {"get", "list", "watch", "update"}},
    {"networking.istio.io", "virtualservices", {"get", "list", "watch", "update"}},
    {"apps", "deployments/scale", {"get", "patch"}},
    {"", "secrets", {"get"}},
    {"", "events", {"create", "patch"}},
};
// Added to the watch rules by deploymentEnv.enabled only: the flag.deploymentEnv store.
const Rule kDeploymentEnvRule = {"apps", "deployments", {"get", "list", "watch", "patch"}};
const Rule kLeaseRule = {"coordination.k8s.io", "leases", {"get", "create", "update"}};

std::set<Rule> RulesOf(const YAML::Node& role) {
  std::set<Rule> rules;
  for (const auto& rule : role["rules"]) {
    EXPECT_EQ(rule["apiGroups"].size(), 1u) << YAML::Dump(rule);
    EXPECT_EQ(rule["resources"].size(), 1u) << YAML::Dump(rule);
    std::set<std::string> verbs;
    for (const auto& verb : rule["verbs"]) verbs.insert(verb.as<std::string>());
    rules.insert(
        {rule["apiGroups"][0].as<std::string>(), rule["resources"][0].as<std::string>(), verbs});
  }
  return rules;
}

// The ClusterRoles for people (templates/aggregated-roles.yaml) carry an aggregation label;
// the operator's own roles none.
bool AggregatedForPeople(const YAML::Node& role) {
  for (const auto& label : role["metadata"]["labels"]) {
    if (label.first.as<std::string>().starts_with("rbac.authorization.k8s.io/aggregate-to-")) {
      return true;
    }
  }
  return false;
}

std::vector<YAML::Node> OperatorRoles(const std::vector<YAML::Node>& roles) {
  std::vector<YAML::Node> out;
  for (const auto& role : roles) {
    if (!AggregatedForPeople(role)) out.push_back(role);
  }
  return out;
}

// Any "*" in any string of any Role/ClusterRole rule.
void ExpectNoWildcards(const Rendered& rendered) {
  for (const auto& kind : {"Role", "ClusterRole"}) {
    for (const auto& role : rendered.OfKind(kind)) {
      for (const auto& rule : role["rules"]) {
        for (const auto& field : rule) {
          for (const auto& value : field.second) {
            EXPECT_THAT(value.as<std::string>(), ::testing::Not(HasSubstr("*")))
                << kind << " " << role["metadata"]["name"] << " " << field.first;
          }
        }
      }
    }
  }
}

class ChartTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(Helm().empty()) << "hack/helm-bin.sh failed"; }
};

TEST_F(ChartTest, HelmLintPassesForEveryShapeOfValues) {
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"watchNamespace=voice", "serviceMonitor.enabled=true"},
           {"leaderElection.enabled=false", "replicaCount=1"}}) {
    const auto result = RunCommand(Helm() + " lint --strict " + ShellQuote(kChart) +
                                   " --kube-version " + kKubeVersion + SetFlags(sets));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("0 chart(s) failed"));
  }
}

TEST_F(ChartTest, SchemaRejectsBadValues) {
  for (const auto& set : {"logFormat=xml", "concurrency=0", "watchNamespace=Not_A_Namespace"}) {
    const auto result = RunCommand(Helm() + " template x " + ShellQuote(kChart) +
                                   " --kube-version " + kKubeVersion + " --set " + set);
    EXPECT_NE(result.exit_code, 0) << set;
    EXPECT_THAT(result.output, HasSubstr("values don't meet the specifications")) << set;
  }
}

TEST_F(ChartTest, AllNamespacesIsAClusterRoleWithExactlyTheDocumentedRules) {
  const auto rendered = Render("agentrollout-operator", kReleaseNamespace, {});
  ExpectNoWildcards(rendered);

  const auto cluster_roles = OperatorRoles(rendered.OfKind("ClusterRole"));
  ASSERT_EQ(cluster_roles.size(), 1u);
  EXPECT_EQ(RulesOf(cluster_roles[0]), kWatchRules);
  const auto bindings = rendered.OfKind("ClusterRoleBinding");
  ASSERT_EQ(bindings.size(), 1u);
  EXPECT_EQ(bindings[0]["roleRef"]["name"].as<std::string>(),
            cluster_roles[0]["metadata"]["name"].as<std::string>());
  EXPECT_EQ(bindings[0]["subjects"][0]["kind"].as<std::string>(), "ServiceAccount");
  EXPECT_EQ(bindings[0]["subjects"][0]["namespace"].as<std::string>(), kReleaseNamespace);

  // The only namespaced Role is the Lease's, in the release namespace.
  const auto roles = rendered.OfKind("Role");
  ASSERT_EQ(roles.size(), 1u);
  EXPECT_EQ(roles[0]["metadata"]["namespace"].as<std::string>(), kReleaseNamespace);
  EXPECT_EQ(RulesOf(roles[0]), std::set<Rule>{kLeaseRule});
}

TEST_F(ChartTest, OneWatchNamespaceIsARoleThereAndNoClusterWideAccess) {
  const auto rendered =
      Render("agentrollout-operator", kReleaseNamespace, {"watchNamespace=voice"});
  ExpectNoWildcards(rendered);
  EXPECT_TRUE(OperatorRoles(rendered.OfKind("ClusterRole")).empty());
  EXPECT_TRUE(rendered.OfKind("ClusterRoleBinding").empty());

  std::map<std::string, std::set<Rule>> rules_by_namespace;
  for (const auto& role : rendered.OfKind("Role")) {
    rules_by_namespace[role["metadata"]["namespace"].as<std::string>()] = RulesOf(role);
  }
  EXPECT_EQ(rules_by_namespace["voice"], kWatchRules);
  EXPECT_EQ(rules_by_namespace[kReleaseNamespace], std::set<Rule>{kLeaseRule});
  EXPECT_EQ(rules_by_namespace.size(), 2u);
  for (const auto& binding : rendered.OfKind("RoleBinding")) {
    EXPECT_EQ(binding["subjects"][0]["namespace"].as<std::string>(), kReleaseNamespace);
  }

  const auto deployment = rendered.OfKind("Deployment").at(0);
  const auto args = deployment["spec"]["template"]["spec"]["containers"][0]["args"];
  bool namespace_flag = false;
  for (const auto& arg : args) namespace_flag |= arg.as<std::string>() == "--namespace=voice";
  EXPECT_TRUE(namespace_flag) << YAML::Dump(args);
}

TEST_F(ChartTest, ReadmeTableListsExactlyTheRenderedRules) {
  // Rows like: | `apps` | `deployments` | get, list, watch, patch | why |
  std::ifstream readme(kChart + "/README.md");
  std::set<Rule> documented;
  const std::regex row(R"(^\| `([^`]*)`[^|]*\| `([^`]+)` \| ([a-z, ]+) \|)");
  for (std::string line; std::getline(readme, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    std::string group = m[1];
    if (group == "\"\"") group = "";
    std::set<std::string> verbs;
    std::istringstream verb_list(m[3]);
    for (std::string verb; std::getline(verb_list, verb, ',');) {
      verb.erase(0, verb.find_first_not_of(' '));
      verb.erase(verb.find_last_not_of(' ') + 1);
      verbs.insert(verb);
    }
    documented.insert({group, m[2], verbs});
  }
  auto expected = kWatchRules;
  expected.insert(kLeaseRule);
  expected.insert(kDeploymentEnvRule);
  EXPECT_EQ(documented, expected);
}

TEST_F(ChartTest, DeploymentIsHardenedAndPassesFlagsTheOperatorAccepts) {
  const auto rendered = Render("agentrollout-operator", kReleaseNamespace, {});
  const auto deployments = rendered.OfKind("Deployment");
  ASSERT_EQ(deployments.size(), 1u);
  const auto spec = deployments[0]["spec"];
  EXPECT_EQ(spec["replicas"].as<int>(), 2);
  const auto pod = spec["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 65532);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  ASSERT_EQ(pod["containers"].size(), 1u);
  const auto container = pod["containers"][0];
  const auto security = container["securityContext"];
  EXPECT_FALSE(security["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(security["readOnlyRootFilesystem"].as<bool>());
  EXPECT_TRUE(security["runAsNonRoot"].as<bool>());
  ASSERT_EQ(security["capabilities"]["drop"].size(), 1u);
  EXPECT_EQ(security["capabilities"]["drop"][0].as<std::string>(), "ALL");
  EXPECT_FALSE(security["capabilities"]["add"].IsDefined());
  for (const char* kind : {"requests", "limits"}) {
    EXPECT_TRUE(container["resources"][kind]["cpu"].IsDefined()) << kind;
    EXPECT_TRUE(container["resources"][kind]["memory"].IsDefined()) << kind;
  }

  // POD_NAME from the downward API: the leader-election identity.
  bool pod_name = false;
  for (const auto& env : container["env"]) {
    if (env["name"].as<std::string>() == "POD_NAME") {
      pod_name = env["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>() == "metadata.name";
    }
  }
  EXPECT_TRUE(pod_name);

  // The args parse with the operator's own flag parser, and the ports they name are the
  // ones the probes, the container and the Service use.
  std::vector<std::string> args = {"agentrollout-operator"};
  for (const auto& arg : container["args"]) args.push_back(arg.as<std::string>());
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  const auto options = operator_::ParseOptions(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(options.ok()) << options.error().ToString();
  EXPECT_TRUE(options->leader_elect);
  EXPECT_EQ(options->leader_election_namespace, kReleaseNamespace);
  EXPECT_EQ(options->namespace_, "");

  std::map<std::string, int> ports;
  for (const auto& port : container["ports"]) {
    ports[port["name"].as<std::string>()] = port["containerPort"].as<int>();
  }
  ASSERT_TRUE(options->metrics_address.has_value());
  EXPECT_EQ(ports["metrics"], options->metrics_address->port);
  EXPECT_EQ(ports["health"], options->health_address.port);
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["port"].as<std::string>(), "health");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"].as<std::string>(), "health");

  const auto services = rendered.OfKind("Service");
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "metrics");
  EXPECT_TRUE(rendered.OfKind("ServiceMonitor").empty());
}

TEST_F(ChartTest, ServiceMonitorOnlyWhenEnabled) {
  const auto rendered =
      Render("agentrollout-operator", kReleaseNamespace,
             {"serviceMonitor.enabled=true", "serviceMonitor.labels.release=kps"});
  const auto monitors = rendered.OfKind("ServiceMonitor");
  ASSERT_EQ(monitors.size(), 1u);
  EXPECT_EQ(monitors[0]["metadata"]["labels"]["release"].as<std::string>(), "kps");
  EXPECT_EQ(monitors[0]["spec"]["endpoints"][0]["port"].as<std::string>(), "metrics");
  EXPECT_EQ(monitors[0]["spec"]["endpoints"][0]["path"].as<std::string>(), "/metrics");
}

TEST_F(ChartTest, PlainInstallManifestsAreWhatTheChartRenders) {
  const auto result = RunCommand(kRoot + "/hack/render-chart.sh --check");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::ifstream install(kRoot + "/deploy/install.yaml");
  const auto objects = YAML::LoadAll(install);
  std::multiset<std::string> kinds;
  for (const auto& o : objects) {
    if (o.IsMap()) kinds.insert(o["kind"].as<std::string>());
  }
  for (const char* kind : {"Namespace", "CustomResourceDefinition", "ServiceAccount",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment"}) {
    EXPECT_EQ(kinds.count(kind), 1u) << kind;
  }
  EXPECT_EQ(kinds.count("ClusterRole"), 3u) << "the operator's, and view and edit for people";
}

TEST_F(ChartTest, AggregatedRolesGivePeopleAgentRolloutsOnly) {
  const auto rendered = Render("agentrollout-operator", kReleaseNamespace, {});
  std::map<std::string, std::set<Rule>> by_aggregation;
  for (const auto& role : rendered.OfKind("ClusterRole")) {
    if (!AggregatedForPeople(role)) continue;
    for (const auto& label : role["metadata"]["labels"]) {
      const std::string key = label.first.as<std::string>();
      if (!key.starts_with("rbac.authorization.k8s.io/aggregate-to-")) continue;
      EXPECT_EQ(label.second.as<std::string>(), "true") << key;
      by_aggregation[key] = RulesOf(role);
    }
  }
  const std::set<std::string> read = {"get", "list", "watch"};
  std::set<std::string> write = read;
  write.insert({"create", "update", "patch", "delete"});
  EXPECT_EQ(by_aggregation, (std::map<std::string, std::set<Rule>>{
                                {"rbac.authorization.k8s.io/aggregate-to-view",
                                 {{"rollouts.agentops.dev", "agentrollouts", read}}},
                                {"rbac.authorization.k8s.io/aggregate-to-edit",
                                 {{"rollouts.agentops.dev", "agentrollouts", write}}}}));

  const auto off =
      Render("agentrollout-operator", kReleaseNamespace, {"aggregatedRoles.enabled=false"});
  for (const auto& role : off.OfKind("ClusterRole")) EXPECT_FALSE(AggregatedForPeople(role));
}

TEST_F(ChartTest, ExtraArgsAndEnvReachTheContainerAndParse) {
  const auto rendered = Render("agentrollout-operator", kReleaseNamespace,
                               {"extraArgs={--rollback-on-delete-timeout=5m}",
                                "extraEnv[0].name=GREETING", "extraEnv[0].value=hello"});
  const auto container =
      rendered.OfKind("Deployment").at(0)["spec"]["template"]["spec"]["containers"][0];
  std::vector<std::string> args = {"agentrollout-operator"};
  for (const auto& arg : container["args"]) args.push_back(arg.as<std::string>());
  EXPECT_EQ(args.back(), "--rollback-on-delete-timeout=5m") << "after the chart's own";
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  const auto options = operator_::ParseOptions(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(options.ok()) << options.error().ToString();
  EXPECT_EQ(options->rollback_on_delete_timeout, std::chrono::minutes(5));
  std::map<std::string, std::string> env;
  for (const auto& var : container["env"]) {
    env[var["name"].as<std::string>()] = var["value"] ? var["value"].as<std::string>() : "";
  }
  EXPECT_EQ(env["GREETING"], "hello");
  EXPECT_TRUE(env.contains("POD_NAME"));

  const auto bad = RunCommand(Helm() + " template x " + ShellQuote(kChart) + " --kube-version " +
                              kKubeVersion + " --set extraArgs={namespace}");
  EXPECT_NE(bad.exit_code, 0) << "an argument that is not a flag is refused";
}

// deploymentEnv.enabled turns the deploymentEnv flag store on; by default it is off.
TEST_F(ChartTest, DeploymentEnvValueTurnsTheStoreOn) {
  for (const bool enabled : {false, true}) {
    const auto rendered = Render("agentrollout-operator", kReleaseNamespace,
                                 enabled ? std::vector<std::string>{"deploymentEnv.enabled=true"}
                                         : std::vector<std::string>{});
    const auto container =
        rendered.OfKind("Deployment").at(0)["spec"]["template"]["spec"]["containers"][0];
    std::vector<std::string> args = {"agentrollout-operator"};
    for (const auto& arg : container["args"]) args.push_back(arg.as<std::string>());
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    const auto options = operator_::ParseOptions(static_cast<int>(argv.size()), argv.data());
    ASSERT_TRUE(options.ok()) << options.error().ToString();
    EXPECT_EQ(options->deployment_env_store, enabled);
  }
}

// Deployments themselves (patch above all: a pod template is code that runs) are granted
// only with deploymentEnv.enabled, in a ClusterRole or in watchNamespace's Role; the
// replicas router scales them through deployments/scale either way.
TEST_F(ChartTest, DeploymentsArePatchableOnlyWithDeploymentEnv) {
  for (const bool enabled : {false, true}) {
    for (const bool one_namespace : {false, true}) {
      std::vector<std::string> sets;
      if (enabled) sets.push_back("deploymentEnv.enabled=true");
      if (one_namespace) sets.push_back("watchNamespace=voice");
      SCOPED_TRACE(::testing::PrintToString(sets));
      const auto rendered = Render("agentrollout-operator", kReleaseNamespace, sets);
      ExpectNoWildcards(rendered);
      std::vector<YAML::Node> roles = OperatorRoles(rendered.OfKind("ClusterRole"));
      for (const auto& role : rendered.OfKind("Role")) {
        if (role["metadata"]["namespace"].as<std::string>() == "voice") roles.push_back(role);
      }
      ASSERT_EQ(roles.size(), 1u);
      auto expected = kWatchRules;
      if (enabled) expected.insert(kDeploymentEnvRule);
      EXPECT_EQ(RulesOf(roles[0]), expected);
    }
  }
}

// The value paths of values.yaml: a map is descended into when values.schema.json lists
// its properties, else it is one value (resources, podLabels, metrics.service, ...).
void ValuePaths(const YAML::Node& values, const YAML::Node& schema, const std::string& prefix,
                std::set<std::string>& out) {
  for (const auto& entry : values) {
    const std::string key = entry.first.as<std::string>();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const YAML::Node property = schema["properties"][key];
    if (entry.second.IsMap() && property.IsDefined() && property["properties"].IsDefined()) {
      ValuePaths(entry.second, property, path, out);
    } else {
      out.insert(path);
    }
  }
}

TEST_F(ChartTest, ReadmeDocumentsEveryValue) {
  const YAML::Node values = YAML::LoadFile(kChart + "/values.yaml");
  const YAML::Node schema = YAML::LoadFile(kChart + "/values.schema.json");
  std::set<std::string> paths;
  ValuePaths(values, schema, "", paths);
  ASSERT_GT(paths.size(), 20u);

  // Rows of the "## Values" table: | `path` | default | meaning |
  std::ifstream readme(kChart + "/README.md");
  std::set<std::string> documented;
  bool in_values = false;
  const std::regex row(R"(^\| `([A-Za-z.]+)` \|)");
  for (std::string line; std::getline(readme, line);) {
    if (line.starts_with("## ")) in_values = line == "## Values";
    std::smatch m;
    if (in_values && std::regex_search(line, m, row)) documented.insert(m[1]);
  }
  EXPECT_EQ(documented, paths);
}

// The oldest Kubernetes minor hack/compat.sh runs the CRD and the end-to-end tests against:
// the lowest hack/kube/compat/v1.N (0 when there is none).
int OldestTestedMinor() {
  int oldest = 0;
  const std::regex minor_dir(R"(v1\.([0-9]+))");
  for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/hack/kube/compat")) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !std::regex_match(name, m, minor_dir)) continue;
    const int minor = std::stoi(m[1].str());
    if (oldest == 0 || minor < oldest) oldest = minor;
  }
  return oldest;
}

TEST_F(ChartTest, KubeVersionStartsAtTheOldestTestedMinor) {
  const int minor = OldestTestedMinor();
  ASSERT_GT(minor, 1) << "no hack/kube/compat/v1.N directory";
  const YAML::Node chart = YAML::LoadFile(kChart + "/Chart.yaml");
  EXPECT_EQ(chart["kubeVersion"].as<std::string>(), ">=1." + std::to_string(minor) + ".0-0");

  const auto template_for = [](const std::string& kube_version) {
    return RunCommand(Helm() + " template x " + ShellQuote(kChart) + " --kube-version " +
                      ShellQuote(kube_version));
  };
  // Provider builds carry a pre-release suffix (v1.33.2-eks-...); the -0 floor admits them.
  for (const auto& accepted :
       {"1." + std::to_string(minor) + ".0", "v1." + std::to_string(minor) + ".2-eks-1234abc"}) {
    const auto result = template_for(accepted);
    EXPECT_EQ(result.exit_code, 0) << accepted << "\n" << result.output;
  }
  const std::string too_old = "1." + std::to_string(minor - 1) + ".99";
  const auto refused = template_for(too_old);
  EXPECT_NE(refused.exit_code, 0) << too_old;
  EXPECT_THAT(refused.output, HasSubstr("chart requires kubeVersion")) << too_old;
}

}  // namespace
}  // namespace agentrollout::gitops_test
