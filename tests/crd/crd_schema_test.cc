// The CRD file on its own (no server): it parses, its schema is structural, and it covers
// every field of the API contract (../shared/design/API.md §2 and §8).
#include "tests/crd/crd_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace agentrollout::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

// node[key], or an empty JSON value of the same kind when absent (never a temporary that a
// range-for would outlive).
const json& MemberOr(const json& node, const char* key, const json& empty) {
  auto it = node.find(key);
  return it != node.end() ? *it : empty;
}
const json kNoObject = json::object();
const json kNoArray = json::array();

class CrdSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crd = LoadCrd();
    ASSERT_TRUE(crd.ok()) << crd.error().ToString();
    crd_ = *std::move(crd);
  }
  const json& schema() const { return OpenApiSchema(crd_); }
  json crd_;
};

TEST_F(CrdSchemaTest, NamesGroupVersionAndScope) {
  EXPECT_EQ(crd_["apiVersion"], "apiextensions.k8s.io/v1");
  EXPECT_EQ(crd_["kind"], "CustomResourceDefinition");
  EXPECT_EQ(crd_["metadata"]["name"], "agentrollouts.rollouts.agentops.dev");
  const json& spec = crd_["spec"];
  EXPECT_EQ(spec["group"], "rollouts.agentops.dev");
  EXPECT_EQ(spec["scope"], "Namespaced");
  EXPECT_EQ(spec["names"]["kind"], "AgentRollout");
  EXPECT_EQ(spec["names"]["plural"], "agentrollouts");
  EXPECT_EQ(spec["names"]["singular"], "agentrollout");
  EXPECT_EQ(spec["names"]["shortNames"], json::array({"aro"}));
  EXPECT_EQ(spec["names"]["categories"], json::array({"rollouts"}));
  ASSERT_EQ(spec["versions"].size(), 1u);
  const json& version = spec["versions"][0];
  EXPECT_EQ(version["name"], "v1alpha1");
  EXPECT_EQ(version["served"], true);
  EXPECT_EQ(version["storage"], true);
  EXPECT_EQ(version["subresources"]["status"], json::object());
}

TEST_F(CrdSchemaTest, PrinterColumnsAreThoseOfTheContract) {
  std::vector<std::string> columns;
  for (const auto& column : crd_["spec"]["versions"][0]["additionalPrinterColumns"]) {
    columns.push_back(column["name"].get<std::string>() + " " +
                      column["jsonPath"].get<std::string>() + " " +
                      std::to_string(column.value("priority", 0)));
  }
  EXPECT_THAT(columns, ElementsAre("Phase .status.phase 0", "Step .status.currentPhase.name 0",
                                   "Flag% .status.currentPhase.flagPercent 0",
                                   "Weight .status.currentPhase.trafficWeight 0",
                                   "Verdict .status.verdict 0", "Age .metadata.creationTimestamp 0",
                                   "Message .status.message 1"));
}

// Structural schema rules (Kubernetes rejects non-structural CRDs, but only at apply time):
// every node has a type, objects declare properties or additionalProperties, arrays their
// items; nothing keeps unknown fields; required names declared properties.
TEST_F(CrdSchemaTest, SchemaIsStructural) {
  std::function<void(const json&, const std::string&)> check = [&](const json& node,
                                                                   const std::string& path) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(node.contains("type")) << path << " has no type";
    const std::string type = node["type"];
    EXPECT_THAT(type, ::testing::AnyOf("object", "array", "string", "integer", "number", "boolean"))
        << path;
    EXPECT_FALSE(node.contains("x-kubernetes-preserve-unknown-fields")) << path;
    if (type == "object") {
      const bool is_metadata = path == "metadata";
      EXPECT_TRUE(is_metadata || node.contains("properties") ||
                  node.contains("additionalProperties"))
          << path << " is an object without properties";
      if (node.contains("properties")) {
        for (const auto& [name, child] : node["properties"].items())
          check(child, path + "." + name);
      }
      if (node.contains("additionalProperties")) {
        check(node["additionalProperties"], path + "{}");
      }
      for (const auto& name : MemberOr(node, "required", kNoArray)) {
        EXPECT_TRUE(node["properties"].contains(name)) << path << " requires undeclared " << name;
      }
    }
    if (type == "array") {
      ASSERT_TRUE(node.contains("items")) << path << " is an array without items";
      check(node["items"], path + "[]");
    }
  };
  for (const auto& [name, child] : schema()["properties"].items()) check(child, name);
}

TEST_F(CrdSchemaTest, DefaultsAndEnumsHaveTheNodesType) {
  auto matches_type = [](const json& value, const std::string& type) {
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "boolean") return value.is_boolean();
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    return value.is_number();
  };
  std::function<void(const json&, const std::string&)> check = [&](const json& node,
                                                                   const std::string& path) {
    const std::string type = node.value("type", "");
    if (node.contains("default")) {
      EXPECT_TRUE(matches_type(node["default"], type)) << path << " default " << node["default"];
    }
    for (const auto& value : MemberOr(node, "enum", kNoArray)) {
      EXPECT_TRUE(matches_type(value, type)) << path << " enum value " << value;
    }
    for (const auto& [name, child] : MemberOr(node, "properties", kNoObject).items()) {
      check(child, path + "." + name);
    }
    if (node.contains("items")) check(node["items"], path + "[]");
    if (node.contains("additionalProperties")) check(node["additionalProperties"], path + "{}");
  };
  check(schema(), "");
}

// Every CEL rule says what is wrong; messages name the field they are about.
TEST_F(CrdSchemaTest, EveryCelRuleHasAMessageNamingTheField) {
  int rules = 0;
  std::function<void(const json&, const std::string&)> check = [&](const json& node,
                                                                   const std::string& path) {
    for (const auto& rule : MemberOr(node, "x-kubernetes-validations", kNoArray)) {
      ++rules;
      ASSERT_TRUE(rule.contains("rule")) << path;
      const std::string message = rule.value("message", rule.value("messageExpression", ""));
      EXPECT_FALSE(message.empty()) << path << ": rule " << rule["rule"] << " has no message";
      EXPECT_NE(message.find("spec"), std::string::npos)
          << path << ": message " << message << " does not name the field";
    }
    for (const auto& [name, child] : MemberOr(node, "properties", kNoObject).items()) {
      check(child, path + "." + name);
    }
    if (node.contains("items")) check(node["items"], path + "[]");
    if (node.contains("additionalProperties")) check(node["additionalProperties"], path + "{}");
  };
  check(schema(), "");
  EXPECT_GE(rules, 30) << "the CEL rules of the CRD went missing";
}

// Status is written by the operator in pieces; nothing in it may be required.
TEST_F(CrdSchemaTest, NothingInStatusIsRequired) {
  std::function<void(const json&, const std::string&)> check = [&](const json& node,
                                                                   const std::string& path) {
    EXPECT_FALSE(node.contains("required")) << path;
    for (const auto& [name, child] : MemberOr(node, "properties", kNoObject).items()) {
      check(child, path + "." + name);
    }
    if (node.contains("items")) check(node["items"], path + "[]");
  };
  check(schema()["properties"]["status"], "status");
}

// The fields of API.md §2 (spec) and §8 (status), as written in the contract.
TEST_F(CrdSchemaTest, CoversEveryFieldOfTheContract) {
  const std::vector<std::string> contract = {"spec.revision",
                                             "spec.paused",
                                             "spec.onDelete",
                                             "spec.flag.key",
                                             "spec.flag.configMap.name",
                                             "spec.flag.configMap.key",
                                             "spec.flag.featureFlag.name",
                                             "spec.flag.postgres.connectionSecretRef.name",
                                             "spec.flag.postgres.connectionSecretRef.key",
                                             "spec.flag.postgres.table",
                                             "spec.flag.postgres.keyColumn",
                                             "spec.flag.postgres.columns.enabled",
                                             "spec.flag.postgres.columns.percentage",
                                             "spec.flag.postgres.columns.enabledTenants",
                                             "spec.flag.postgres.columns.disabledTenants",
                                             "spec.flag.postgres.jsonColumn",
                                             "spec.flag.postgres.jsonPaths.enabled",
                                             "spec.flag.postgres.jsonPaths.percentage",
                                             "spec.flag.postgres.jsonPaths.enabledTenants",
                                             "spec.flag.postgres.jsonPaths.disabledTenants",
                                             "spec.flag.deploymentEnv.deployment",
                                             "spec.flag.deploymentEnv.container",
                                             "spec.flag.deploymentEnv.variables.enabled",
                                             "spec.flag.deploymentEnv.variables.percentage",
                                             "spec.flag.enabledTenants[]",
                                             "spec.flag.disabledTenants[]",
                                             "spec.traffic.gatewayAPI.httpRoute",
                                             "spec.traffic.gatewayAPI.stableBackend",
                                             "spec.traffic.gatewayAPI.canaryBackend",
                                             "spec.traffic.istio.virtualService",
                                             "spec.traffic.istio.stableHost",
                                             "spec.traffic.istio.canaryHost",
                                             "spec.traffic.istio.stableSubset",
                                             "spec.traffic.istio.canarySubset",
                                             "spec.traffic.replicas.stableDeployment",
                                             "spec.traffic.replicas.canaryDeployment",
                                             "spec.traffic.replicas.totalReplicas",
                                             "spec.analysis.prometheus.address",
                                             "spec.analysis.prometheus.timeout",
                                             "spec.analysis.prometheus.headers{}",
                                             "spec.analysis.prometheus.bearerTokenSecretRef.name",
                                             "spec.analysis.prometheus.bearerTokenSecretRef.key",
                                             "spec.analysis.prometheus.basicAuthSecretRef.name",
                                             "spec.analysis.prometheus.insecureSkipVerify",
                                             "spec.analysis.prometheus.caSecretRef.name",
                                             "spec.analysis.prometheus.caSecretRef.key",
                                             "spec.analysis.interval",
                                             "spec.analysis.failureLimit",
                                             "spec.analysis.errorLimit",
                                             "spec.analysis.noData",
                                             "spec.analysis.args{}",
                                             "spec.analysis.metrics[].name",
                                             "spec.analysis.metrics[].query",
                                             "spec.analysis.metrics[].dryRun",
                                             "spec.analysis.metrics[].go",
                                             "spec.analysis.metrics[].noGo",
                                             "spec.analysis.metrics[].abort",
                                             "spec.rollback.mode",
                                             "spec.phases[].name",
                                             "spec.phases[].flagPercent",
                                             "spec.phases[].trafficWeight",
                                             "spec.phases[].duration",
                                             "spec.phases[].approval",
                                             "spec.phases[].flags{}",
                                             "spec.notifications[].url",
                                             "spec.notifications[].secretRef.name",
                                             "spec.notifications[].secretRef.key",
                                             "spec.notifications[].events[]",
                                             "status.observedGeneration",
                                             "status.revision",
                                             "status.phase",
                                             "status.currentPhase.index",
                                             "status.currentPhase.name",
                                             "status.currentPhase.startedAt",
                                             "status.currentPhase.flagPercent",
                                             "status.currentPhase.trafficWeight",
                                             "status.verdict",
                                             "status.message",
                                             "status.analysis.lastEvaluated",
                                             "status.analysis.consecutiveNoGo",
                                             "status.analysis.consecutiveErrors",
                                             "status.analysis.metrics[].name",
                                             "status.analysis.metrics[].value",
                                             "status.analysis.metrics[].verdict",
                                             "status.analysis.metrics[].go",
                                             "status.analysis.metrics[].noGo",
                                             "status.rollback.at",
                                             "status.rollback.fromPhase",
                                             "status.rollback.metric",
                                             "status.rollback.value",
                                             "status.rollback.line",
                                             "status.rollback.reason",
                                             "status.history[].at",
                                             "status.history[].from",
                                             "status.history[].to",
                                             "status.history[].reason",
                                             "status.conditions[].type",
                                             "status.conditions[].status",
                                             "status.conditions[].reason",
                                             "status.conditions[].message",
                                             "status.conditions[].observedGeneration",
                                             "status.conditions[].lastTransitionTime"};
  std::set<std::string> paths;
  for (const auto& [name, child] : schema()["properties"].items()) {
    paths.merge(SchemaPaths(child, name));
  }
  for (const auto& field : contract) EXPECT_TRUE(paths.contains(field)) << field;
}

// The defaults of API.md §2 (flagPercent and trafficWeight have none in the schema: their
// default is the previous phase's value, which the operator applies).
TEST_F(CrdSchemaTest, DefaultsAreThoseOfTheContract) {
  const json& spec = schema()["properties"]["spec"]["properties"];
  const json& analysis = spec["analysis"]["properties"];
  const json& phase = spec["phases"]["items"]["properties"];
  EXPECT_EQ(spec["revision"]["default"], "");
  EXPECT_EQ(spec["paused"]["default"], false);
  EXPECT_EQ(spec["onDelete"]["default"], "keep");
  EXPECT_EQ(spec["flag"]["properties"]["configMap"]["properties"]["key"]["default"], "flags.json");
  EXPECT_EQ(analysis["prometheus"]["properties"]["timeout"]["default"], "5s");
  EXPECT_EQ(analysis["prometheus"]["properties"]["insecureSkipVerify"]["default"], false);
  EXPECT_EQ(analysis["interval"]["default"], "1m");
  EXPECT_EQ(analysis["failureLimit"]["default"], 0);
  EXPECT_EQ(analysis["errorLimit"]["default"], 3);
  EXPECT_EQ(analysis["noData"]["default"], "hold");
  EXPECT_EQ(analysis["metrics"]["items"]["properties"]["dryRun"]["default"], false);
  EXPECT_EQ(spec["rollback"]["properties"]["mode"]["default"], "total");
  EXPECT_EQ(phase["duration"]["default"], "0");
  EXPECT_EQ(phase["approval"]["default"], false);
  EXPECT_FALSE(phase["flagPercent"].contains("default"));
  EXPECT_FALSE(phase["trafficWeight"].contains("default"));
  EXPECT_EQ(phase["flagPercent"]["minimum"], 0);
  EXPECT_EQ(phase["flagPercent"]["maximum"], 100);
  EXPECT_EQ(spec["phases"]["minItems"], 1);
  EXPECT_EQ(spec["phases"]["maxItems"], 50);
  EXPECT_EQ(analysis["failureLimit"]["minimum"], 0);
  EXPECT_EQ(analysis["errorLimit"]["minimum"], 0);
}

}  // namespace
}  // namespace agentrollout::testing
