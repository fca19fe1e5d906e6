// The queries of examples/ against a real Prometheus scraping the project's test exporter
// (agentrollout-test-exporter serving the voice agent's canary, voice-agent-v2, and its
// stable version, voice-agent-v1): every query of every example, comparisons included,
// rendered as the operator renders it, is PromQL that Prometheus parses and evaluates to
// at most one sample; and the go/no-go table of examples/voice-agent-v2.yaml (the demo's
// source) is Go on a healthy agent, its V1-versus-V2 comparisons included.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "analysis/compare.h"
#include "analysis/evaluate_once.h"
#include "analysis/template.h"
#include "api/codec.h"
#include "api/names.h"
#include "tests/harness/cluster.h"
#include "tests/harness/process.h"
#include "tests/harness/prometheus.h"
#include "tests/harness/yaml_json.h"

namespace agentrollout::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Every AgentRollout under examples/, decoded.
std::vector<api::AgentRollout> LoadExamples() {
  std::vector<api::AgentRollout> out;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(SourceDir() / "examples")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    auto documents = LoadYamlDocuments(entry.path());
    if (!documents.ok()) {
      ADD_FAILURE() << documents.error().ToString();
      continue;
    }
    for (const json& document : *documents) {
      if (document.value("kind", "") != "AgentRollout") continue;
      auto rollout = api::DecodeAgentRollout(document);
      if (!rollout.ok()) {
        ADD_FAILURE() << entry.path() << ": " << rollout.error().ToString();
        continue;
      }
      out.push_back(*std::move(rollout));
    }
  }
  return out;
}

class ExamplesPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = MakeTempDir("agentrollout-examples-it");
    if (!dir.ok()) return Fail(dir.error().ToString());
    auto exporter = BackgroundProcess::Start(
        {AGENTROLLOUT_TEST_EXPORTER, "--listen", "127.0.0.1:0", "--version-label", "voice-agent-v2",
         "--stable-version-label", "voice-agent-v1", "--agent", "voice", "--rps", "400",
         "--latency-ms", "300"},
        *dir / "exporter.log");
    if (!exporter.ok()) return Fail(exporter.error().ToString());
    exporter_ = std::make_unique<BackgroundProcess>(*std::move(exporter));
    auto started = exporter_->WaitForLog("serving /metrics and /control on port ", 20s);
    if (!started.ok()) return Fail(started.error().ToString());
    std::smatch port;
    if (!std::regex_search(*started, port, std::regex("on port ([0-9]+)"))) {
      return Fail("no port in " + *started);
    }
    prometheus_ = std::make_unique<PrometheusFixture>();
    if (Status s = prometheus_->Start({"127.0.0.1:" + port[1].str()}); !s.ok()) {
      return Fail(s.error().ToString());
    }
    // rate() needs two scrapes.
    auto rated = prometheus_->WaitForSamples(
        "sum(rate(agent_requests_total{version=\"voice-agent-v2\"}[5m])) > 0", 60s);
    if (!rated.ok()) return Fail(rated.error().ToString());
  }

  static void TearDownTestSuite() {
    prometheus_.reset();
    exporter_.reset();
  }

  static void Fail(const std::string& why) { setup_error_ = why; }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static inline std::string setup_error_;
  static inline std::unique_ptr<BackgroundProcess> exporter_;
  static inline std::unique_ptr<PrometheusFixture> prometheus_;
};

TEST_F(ExamplesPrometheusTest, EveryQueryIsPromQLReturningAtMostOneSample) {
  const std::vector<api::AgentRollout> examples = LoadExamples();
  ASSERT_FALSE(examples.empty());
  int queries = 0;
  for (const api::AgentRollout& rollout : examples) {
    const auto vars = analysis::BuildTemplateVars(rollout, rollout.spec.phases.front().name);
    for (const api::MetricSpec& metric : rollout.spec.analysis.metrics) {
      SCOPED_TRACE(rollout.metadata.name + " " + metric.name);
      auto promql = analysis::Render(metric.query, vars);
      ASSERT_TRUE(promql.ok()) << promql.error().ToString();
      auto result = prometheus_->Query(*promql);
      ASSERT_TRUE(result.ok()) << *promql << "\n" << result.error().ToString();
      const std::string type = (*result)["resultType"];
      EXPECT_THAT(type, ::testing::AnyOf("scalar", "vector")) << *promql;
      if (type == "vector") {
        EXPECT_LE((*result)["result"].size(), 1u) << *promql;
      }
      ++queries;
    }
    const analysis::Versions versions = analysis::VersionsOf(vars);
    for (const api::ComparisonSpec& comparison : rollout.spec.analysis.comparisons) {
      SCOPED_TRACE(rollout.metadata.name + " " + comparison.name);
      for (const auto& promql : analysis::RenderComparison(comparison, vars, versions, "60s")) {
        ASSERT_TRUE(promql.ok()) << promql.error().ToString();
        auto result = prometheus_->Query(*promql);
        ASSERT_TRUE(result.ok()) << *promql << "\n" << result.error().ToString();
        ASSERT_EQ((*result)["resultType"], "vector") << *promql;
        EXPECT_EQ((*result)["result"].size(), 1u) << *promql;
        ++queries;
      }
    }
  }
  EXPECT_GE(queries, 27);
}

// The demo applies a copy of this example to the same exporter: its table must be able
// to say Go, with every metric evaluated (no Hold for missing series, no Error).
TEST_F(ExamplesPrometheusTest, VoiceAgentTableIsGoOnAHealthyAgent) {
  api::AgentRollout voice;
  for (api::AgentRollout& rollout : LoadExamples()) {
    if (rollout.metadata.name == "voice-agent-v2") voice = rollout;
  }
  ASSERT_EQ(voice.metadata.name, "voice-agent-v2") << "examples/voice-agent-v2.yaml is missing";
  analysis::EvaluationInput input;
  input.spec = voice.spec.analysis;
  input.spec.prometheus->address = prometheus_->base_url();
  input.vars = analysis::BuildTemplateVars(voice, voice.spec.phases.front().name);
  input.phase_started = api::Timestamp::clock::now();

  api::Evaluation evaluation;
  const auto deadline = std::chrono::steady_clock::now() + 45s;
  do {
    evaluation = analysis::testing::EvaluateOnce(input);
    if (evaluation.verdict == api::Verdict::kGo) break;
    std::this_thread::sleep_for(500ms);
  } while (std::chrono::steady_clock::now() < deadline);

  std::string table;
  for (const api::MetricStatus& metric : evaluation.metrics) {
    table += metric.name + "=" + metric.value + " " + std::string(api::Name(metric.verdict)) + " " +
             metric.message + "; ";
  }
  EXPECT_EQ(evaluation.verdict, api::Verdict::kGo) << table;
  ASSERT_EQ(evaluation.metrics.size(), 8u) << table;
  for (const api::MetricStatus& metric : evaluation.metrics) {
    EXPECT_FALSE(metric.value.empty()) << metric.name << " has no value: " << table;
  }
}

}  // namespace
}  // namespace agentrollout::testing
