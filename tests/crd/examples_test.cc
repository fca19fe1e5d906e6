// The manifests under examples/ (no server; crd_apply_test applies them to a real
// kube-apiserver): each decodes and validates with the operator's own decoder, the CRD's
// defaults do not change what it means, the controller starts it at phase 0 without
// InvalidSpec, and examples/README.md lists it. The voice-agent example is pinned to the
// runbook of issue 8 (the demo applies a copy of it), and the set as a whole keeps showing
// every router, store and table feature.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/names.h"
#include "api/threshold.h"
#include "api/validate.h"
#include "controllers/rollout/state_machine.h"
#include "tests/crd/crd_schema.h"
#include "tests/harness/cluster.h"
#include "tests/harness/yaml_json.h"

namespace agentrollout::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kExamples = SourceDir() / "examples";

struct Example {
  std::string file;  // relative to examples/
  json manifest;
};

// Every AgentRollout document of every YAML file under examples/.
std::vector<Example> LoadExamples() {
  std::vector<Example> examples;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kExamples)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    auto documents = LoadYamlDocuments(entry.path());
    if (!documents.ok()) {
      ADD_FAILURE() << documents.error().ToString();
      continue;
    }
    for (json& document : *documents) {
      if (document.value("kind", "") != "AgentRollout") continue;
      examples.push_back(
          {std::filesystem::relative(entry.path(), kExamples).string(), std::move(document)});
    }
  }
  return examples;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    examples_ = LoadExamples();
    ASSERT_GE(examples_.size(), 8u) << "examples/ holds fewer AgentRollouts than the runbooks";
  }
  std::vector<Example> examples_;
};

TEST_F(ExamplesTest, EachDecodesAndValidates) {
  for (const Example& example : examples_) {
    SCOPED_TRACE(example.file);
    EXPECT_EQ(example.manifest.value("apiVersion", ""), api::kApiVersion);
    auto rollout = api::DecodeAndValidate(example.manifest);
    EXPECT_TRUE(rollout.ok()) << rollout.error().ToString();
  }
}

// The apiserver stores a manifest with the schema's defaults filled in; the operator must
// read the stored object as the manifest as written.
TEST_F(ExamplesTest, SchemaDefaultsDoNotChangeTheirMeaning) {
  auto crd = LoadCrd();
  ASSERT_TRUE(crd.ok()) << crd.error().ToString();
  const json& spec_schema = OpenApiSchema(*crd)["properties"]["spec"];
  for (const Example& example : examples_) {
    SCOPED_TRACE(example.file);
    json stored = example.manifest["spec"];
    ApplyDefaults(stored, spec_schema);
    auto as_written = api::DecodeSpec(example.manifest["spec"]);
    auto as_stored = api::DecodeSpec(stored);
    ASSERT_TRUE(as_written.ok()) << as_written.error().ToString();
    ASSERT_TRUE(as_stored.ok()) << as_stored.error().ToString();
    EXPECT_EQ(*as_written, *as_stored);
  }
}

// A new object of each example, given to the controller's state machine: it starts at
// phase 0 and writes phase 0's flag percentage and traffic weight, with no InvalidSpec.
TEST_F(ExamplesTest, EachStartsAtPhaseZeroUnderTheController) {
  for (const Example& example : examples_) {
    SCOPED_TRACE(example.file);
    auto rollout = api::DecodeAgentRollout(example.manifest);
    ASSERT_TRUE(rollout.ok()) << rollout.error().ToString();
    controllers::Input input;
    input.metadata = rollout->metadata;
    input.metadata.generation = 1;
    input.spec = rollout->spec;
    input.now = api::Timestamp(std::chrono::seconds(1'800'000'000));

    const controllers::Decision decision = controllers::Decide(input);
    EXPECT_EQ(decision.status.phase, api::RolloutPhase::kProgressing) << decision.status.message;
    ASSERT_TRUE(decision.status.current_phase.has_value());
    EXPECT_EQ(decision.status.current_phase->index, 0);
    EXPECT_EQ(decision.status.current_phase->name, rollout->spec.phases[0].name);
    for (const controllers::Event& event : decision.events) {
      EXPECT_NE(event.reason, api::Name(api::EventReason::kInvalidSpec)) << event.message;
    }
    EXPECT_EQ(decision.flags.has_value(), rollout->spec.flag.has_value());
    if (decision.flags) {
      ASSERT_FALSE(decision.flags->flags.empty());
      EXPECT_EQ(decision.flags->flags[0].key, rollout->spec.flag->key);
      EXPECT_EQ(decision.flags->flags[0].percentage, rollout->spec.phases[0].flag_percent);
    }
    EXPECT_EQ(decision.traffic.has_value(), rollout->spec.traffic.has_value());
    if (decision.traffic) {
      EXPECT_EQ(decision.traffic->weight, rollout->spec.phases[0].traffic_weight);
    }
    EXPECT_EQ(decision.analyse, !rollout->spec.analysis.metrics.empty());
  }
}

TEST_F(ExamplesTest, NamesAreUniqueWithinANamespace) {
  std::set<std::string> seen;
  for (const Example& example : examples_) {
    const std::string key = example.manifest["metadata"].value("namespace", "") + "/" +
                            example.manifest["metadata"].value("name", "");
    EXPECT_TRUE(seen.insert(key).second) << key << " is used twice (" << example.file << ")";
  }
}

TEST_F(ExamplesTest, ReadmeListsEachFileAndNoOther) {
  const std::string readme = ReadText(kExamples / "README.md");
  ASSERT_FALSE(readme.empty()) << "examples/README.md is missing";
  std::set<std::string> files;
  for (const Example& example : examples_) files.insert(example.file);
  for (const std::string& file : files) {
    EXPECT_THAT(readme, HasSubstr("(" + file + ")")) << "examples/README.md does not link " << file;
  }
  // Every link to a YAML file points at an existing example.
  std::size_t at = 0;
  while ((at = readme.find("](", at)) != std::string::npos) {
    const std::size_t end = readme.find(')', at);
    const std::string target = readme.substr(at + 2, end - at - 2);
    at = end;
    if (target.size() > 5 && target.substr(target.size() - 5) == ".yaml") {
      EXPECT_TRUE(files.count(target))
          << "examples/README.md links " << target << ", which is not an example";
    }
  }
}

// examples/voice-agent-v2.yaml is the issue's voice-agent runbook, and the demo's source.
TEST_F(ExamplesTest, VoiceAgentIsTheRunbookOfTheIssue) {
  const Example* voice = nullptr;
  for (const Example& example : examples_) {
    if (example.file == "voice-agent-v2.yaml") voice = &example;
  }
  ASSERT_NE(voice, nullptr) << "examples/voice-agent-v2.yaml is missing";
  auto rollout = api::DecodeAndValidate(voice->manifest);
  ASSERT_TRUE(rollout.ok()) << rollout.error().ToString();
  const api::AgentRolloutSpec& spec = rollout->spec;

  std::vector<std::string> phases;
  for (const api::PhaseSpec& phase : spec.phases) {
    phases.push_back(std::to_string(phase.flag_percent) + "/" +
                     std::to_string(phase.traffic_weight) + (phase.approval ? " approval" : ""));
  }
  // Approval on the 50 % phase: after its bake with Go, wait for a promote before 100 %.
  EXPECT_THAT(phases, ElementsAre("5/5", "10/10", "25/25", "50/50 approval", "100/100"));

  std::vector<std::string> table;
  for (const api::MetricSpec& metric : spec.analysis.metrics) {
    table.push_back(metric.name + " go " + api::FormatThreshold(metric.go) + " noGo " +
                    api::FormatThreshold(metric.no_go));
  }
  EXPECT_THAT(table,
              ElementsAre("error-rate go < 0.02 noGo > 0.05", "latency-p95-ms go < 800 noGo > 1200",
                          "failed-calls go < 0.03 noGo > 0.1",
                          "circuit-breaker-opens go == 0 noGo > 2", "complaints go == 0 noGo > 3"));
  ASSERT_TRUE(spec.traffic && spec.traffic->gateway_api);
  ASSERT_TRUE(spec.flag && spec.flag->config_map);
}

// The examples together show every router, flag store and table feature the docs point to.
TEST_F(ExamplesTest, TogetherTheyShowEveryFeature) {
  std::set<std::string> shown;
  for (const Example& example : examples_) {
    auto rollout = api::DecodeAgentRollout(example.manifest);
    ASSERT_TRUE(rollout.ok()) << example.file << ": " << rollout.error().ToString();
    const api::AgentRolloutSpec& spec = rollout->spec;
    if (spec.flag && spec.flag->config_map) shown.insert("configMap");
    if (spec.flag && spec.flag->feature_flag) shown.insert("featureFlag");
    if (spec.flag && spec.flag->postgres) {
      shown.insert(spec.flag->postgres->json_column.empty() ? "postgres rows"
                                                            : "postgres document");
    }
    if (spec.flag && spec.flag->deployment_env) shown.insert("deploymentEnv");
    if (spec.flag && !spec.traffic) shown.insert("flag-only");
    if (spec.traffic && !spec.flag) shown.insert("traffic-only");
    if (spec.traffic && spec.traffic->gateway_api) shown.insert("gatewayAPI");
    if (spec.traffic && spec.traffic->istio) shown.insert("istio");
    if (spec.traffic && spec.traffic->replicas) shown.insert("replicas");
    if (spec.rollback_mode == api::RollbackMode::kStepBack) shown.insert("stepBack");
    if (!spec.analysis.args.empty()) shown.insert("args");
    if (spec.analysis.failure_limit > 0) shown.insert("failureLimit");
    for (const api::MetricSpec& metric : spec.analysis.metrics) {
      if (metric.abort) shown.insert("abort");
      if (metric.dry_run) shown.insert("dryRun");
    }
    for (const api::PhaseSpec& phase : spec.phases) {
      if (phase.approval) shown.insert("approval");
      if (!phase.flags.empty()) shown.insert("phases[].flags");
    }
  }
  EXPECT_THAT(
      shown, ::testing::IsSupersetOf(
                 {"configMap", "featureFlag", "postgres rows", "postgres document", "deploymentEnv",
                  "flag-only", "traffic-only", "gatewayAPI", "istio", "replicas", "stepBack",
                  "args", "failureLimit", "abort", "dryRun", "approval", "phases[].flags"}));
}

}  // namespace
}  // namespace agentrollout::testing
