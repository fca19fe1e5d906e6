// The analysis engine against a real Prometheus (hack/prometheus.sh) scraping real
// agentrollout-test-exporter processes, and against local servers that misbehave.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "analysis/evaluate_once.h"
#include "analysis/prometheus_client.h"
#include "analysis/scheduler.h"
#include "analysis/table.h"
#include "analysis/template.h"
#include "api/names.h"
#include "api/threshold.h"
#include "http/test_server.h"
#include "tests/harness/process.h"
#include "tests/harness/prometheus.h"
#include "tests/harness/test_exporter.h"

namespace agentrollout::analysis {
namespace {

using namespace std::chrono_literals;
using api::Verdict;
using PrometheusFixture = ::agentrollout::testing::PrometheusFixture;
using ::agentrollout::testing::TestExporter;
using testing::EvaluateOnce;

// A version label that tries every way out of a label matcher: a quote and brace to close
// it, PromQL after it, a backslash to eat the closing quote, a newline and a tab.
const std::string kEvilVersion = "v2\"} or vector(1) or up{job=\"\\\n\tz\\";

api::Threshold Line(const std::string& text) {
  auto line = api::ParseThreshold(text);
  EXPECT_TRUE(line.ok()) << text;
  return line.ok() ? *line : api::Threshold{};
}

api::MetricSpec Metric(std::string name, std::string query, const std::string& go,
                       const std::string& no_go, const std::string& abort = "") {
  api::MetricSpec metric;
  metric.name = std::move(name);
  metric.query = std::move(query);
  metric.go = Line(go);
  metric.no_go = Line(no_go);
  if (!abort.empty()) metric.abort = Line(abort);
  return metric;
}

// The go/no-go table of API.md §1, with 5 s windows so a test sees changes within seconds.
api::MetricSpec ErrorRate() {
  return Metric("error-rate",
                "sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\",outcome="
                "\"error\"}[5s]))\n/ sum(rate(agent_requests_total{agent=\"voice\",version="
                "\"{{canary}}\"}[5s]))",
                "< 0.02", "> 0.05", "> 0.5");
}
api::MetricSpec LatencyP95() {
  return Metric("latency-p95-ms",
                "histogram_quantile(0.95, sum by (le) (rate(agent_latency_seconds_bucket{version="
                "\"{{canary}}\"}[5s]))) * 1000",
                "< 800", "> 1200");
}

// Whether a value shown in status is `expected` up to floating-point rounding.
bool Near(const std::string& value, double expected) {
  return !value.empty() && std::abs(std::strtod(value.c_str(), nullptr) - expected) < 0.01;
}

std::string Describe(const api::Evaluation& evaluation) {
  std::string text = "verdict " + std::string(api::Name(evaluation.verdict)) + ":";
  for (const auto& metric : evaluation.metrics) {
    text += " [" + metric.name + " value=" + metric.value +
            " verdict=" + std::string(api::Name(metric.verdict)) + " " + metric.message + "]";
  }
  return text;
}

class AnalysisIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = ::agentrollout::testing::MakeTempDir("agentrollout-analysis-it");
    if (!dir.ok()) return Fail(dir.error().ToString());
    std::vector<std::string> targets;
    for (const std::string& version : {std::string("v2"), std::string("v1"), kEvilVersion}) {
      auto exporter = TestExporter::Start(AGENTROLLOUT_TEST_EXPORTER, version, *dir);
      if (!exporter.ok()) return Fail("exporter " + version + ": " + exporter.error().ToString());
      targets.push_back("127.0.0.1:" + std::to_string((*exporter)->port()));
      exporters_.push_back(std::move(*exporter));
    }
    prometheus_ = std::make_unique<PrometheusFixture>();
    if (Status started = prometheus_->Start(targets); !started.ok()) {
      return Fail("prometheus: " + started.error().ToString());
    }
    // Every exporter scraped, and rate() has two samples to work with.
    auto up = prometheus_->WaitForSamples("count(up{job=~\"target-.*\"} == 1) == 3", 60s);
    if (!up.ok()) return Fail(up.error().ToString());
    auto rated =
        prometheus_->WaitForSamples("sum(rate(agent_requests_total{version=\"v2\"}[5s])) > 0", 60s);
    if (!rated.ok()) return Fail(rated.error().ToString());
  }

  static void TearDownTestSuite() {
    prometheus_.reset();
    exporters_.clear();
  }

  static void Fail(const std::string& why) { setup_error_ = why; }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  TestExporter& canary() { return *exporters_[0]; }

  EvaluationInput Input(std::vector<api::MetricSpec> metrics) const {
    EvaluationInput input;
    input.spec.prometheus = api::PrometheusSpec{};
    input.spec.prometheus->address = prometheus_->base_url();
    input.spec.prometheus->timeout = 5s;
    input.spec.metrics = std::move(metrics);
    input.vars = {{"canary", "v2"}, {"stable", "v1"}};
    return input;
  }

  // Evaluates every 500 ms until `done` holds (or 45 s pass); returns the last evaluation.
  api::Evaluation EvaluateUntil(const EvaluationInput& input,
                                const std::function<bool(const api::Evaluation&)>& done) const {
    const auto deadline = std::chrono::steady_clock::now() + 45s;
    api::Evaluation evaluation;
    while (true) {
      evaluation = EvaluateOnce(input);
      if (done(evaluation) || std::chrono::steady_clock::now() > deadline) return evaluation;
      std::this_thread::sleep_for(500ms);
    }
  }
  api::Evaluation EvaluateUntilVerdict(const EvaluationInput& input, Verdict verdict) const {
    return EvaluateUntil(input,
                         [verdict](const api::Evaluation& e) { return e.verdict == verdict; });
  }

  static inline std::string setup_error_;
  static inline std::vector<std::unique_ptr<TestExporter>> exporters_;
  static inline std::unique_ptr<PrometheusFixture> prometheus_;
};

TEST_F(AnalysisIntegrationTest, ErrorRateGoesGoThenHoldThenNoGo) {
  const EvaluationInput input = Input({ErrorRate(), LatencyP95()});
  ASSERT_TRUE(canary().Set(0, 100).ok());
  api::Evaluation evaluation = EvaluateUntilVerdict(input, Verdict::kGo);
  ASSERT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].value, "0") << Describe(evaluation);

  ASSERT_TRUE(canary().Set(0.03, 100).ok());
  evaluation = EvaluateUntilVerdict(input, Verdict::kHold);
  ASSERT_EQ(evaluation.verdict, Verdict::kHold) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kHold);
  EXPECT_EQ(evaluation.metrics[1].verdict, Verdict::kGo);
  EXPECT_TRUE(evaluation.metrics[0].message.ends_with(" is not < 0.02 (go)"))
      << evaluation.metrics[0].message;
  EXPECT_FALSE(Accumulate(input.spec, {}, evaluation).trigger);

  ASSERT_TRUE(canary().Set(0.1, 100).ok());
  evaluation = EvaluateUntilVerdict(input, Verdict::kNoGo);
  ASSERT_EQ(evaluation.verdict, Verdict::kNoGo) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kNoGo);
  EXPECT_TRUE(evaluation.metrics[0].message.ends_with(" is > 0.05 (noGo)"))
      << evaluation.metrics[0].message;
  const TableOutcome outcome = Accumulate(input.spec, {}, evaluation);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, api::RollbackTrigger::Kind::kNoGo);
  EXPECT_EQ(outcome.trigger->metric, "error-rate");
  EXPECT_EQ(outcome.trigger->line, "> 0.05");
}

TEST_F(AnalysisIntegrationTest, LatencyP95GoesGoThenHoldThenNoGo) {
  const EvaluationInput input = Input({ErrorRate(), LatencyP95()});
  ASSERT_TRUE(canary().Set(0, 100).ok());
  api::Evaluation evaluation = EvaluateUntilVerdict(input, Verdict::kGo);
  ASSERT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);

  // Every request takes 900 ms: the 0.8..0.9 s bucket, p95 interpolated to 895 ms (give or
  // take floating-point rounding in Prometheus).
  ASSERT_TRUE(canary().Set(0, 900).ok());
  evaluation = EvaluateUntil(input, [](const api::Evaluation& e) {
    return e.verdict == Verdict::kHold && Near(e.metrics[1].value, 895);
  });
  ASSERT_EQ(evaluation.verdict, Verdict::kHold) << Describe(evaluation);
  EXPECT_TRUE(Near(evaluation.metrics[1].value, 895)) << Describe(evaluation);
  EXPECT_TRUE(evaluation.metrics[1].message.ends_with(" is not < 800 (go)"))
      << Describe(evaluation);

  // 1500 ms: the 1.2..1.5 s bucket, p95 interpolated to 1485 ms.
  ASSERT_TRUE(canary().Set(0, 1500).ok());
  evaluation = EvaluateUntil(input, [](const api::Evaluation& e) {
    return e.verdict == Verdict::kNoGo && Near(e.metrics[1].value, 1485);
  });
  ASSERT_EQ(evaluation.verdict, Verdict::kNoGo) << Describe(evaluation);
  EXPECT_TRUE(evaluation.metrics[1].message.ends_with(" is > 1200 (noGo)")) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kGo);
}

TEST_F(AnalysisIntegrationTest, AbortIgnoresFailureLimit) {
  EvaluationInput input = Input({ErrorRate()});
  input.spec.failure_limit = 10;
  ASSERT_TRUE(canary().Set(0.6, 100).ok());
  const api::Evaluation evaluation = EvaluateUntil(
      input, [](const api::Evaluation& e) { return e.metrics[0].message.ends_with("(abort)"); });
  ASSERT_EQ(evaluation.verdict, Verdict::kNoGo) << Describe(evaluation);
  const TableOutcome outcome = Accumulate(input.spec, {}, evaluation);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, api::RollbackTrigger::Kind::kAbort);
  EXPECT_EQ(outcome.trigger->line, "> 0.5");
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
}

TEST_F(AnalysisIntegrationTest, NoDataHoldsOrIsNoGo) {
  EvaluationInput input = Input(
      {Metric("missing", "sum(rate(agent_requests_total{version=\"{{canary}}-not-deployed\"}[5s]))",
              "< 1", "> 2")});
  api::Evaluation evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kHold) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].message, "no data");
  EXPECT_FALSE(Accumulate(input.spec, {}, evaluation).trigger);

  input.spec.no_data = api::NoDataPolicy::kNoGo;
  evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kNoGo) << Describe(evaluation);
  const TableOutcome outcome = Accumulate(input.spec, {}, evaluation);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->line, "noData: noGo");
}

// ------------------------------------------------------------ comparisons (API.md §3.3)

api::ComparisonSpec ErrorRateVsStable() {
  api::ComparisonSpec comparison;
  comparison.name = "error-rate-vs-stable";
  comparison.events =
      "sum(increase(agent_requests_total{agent=\"voice\",version=\"{{version}}\",outcome=\"error\"}"
      "[{{window}}]))";
  comparison.total =
      "sum(increase(agent_requests_total{agent=\"voice\",version=\"{{version}}\"}[{{window}}]))";
  comparison.go = Line("< 0.005");
  comparison.no_go = Line("> 0.02");
  comparison.min_total = 200;
  return comparison;
}

// One sample's value of `promql`, as Prometheus answers it now.
double Value(const PrometheusFixture& prometheus, const std::string& promql) {
  auto data = prometheus.Query(promql);
  if (!data.ok() || (*data)["result"].empty()) {
    ADD_FAILURE() << promql << ": " << (data.ok() ? data->dump() : data.error().ToString());
    return -1;
  }
  return std::stod((*data)["result"][0]["value"][1].get<std::string>());
}

// {{window}} is the time since the phase started: the counts are increase() over it, so a
// new phase counts afresh (at least 1m back).
TEST_F(AnalysisIntegrationTest, ComparisonCountsWhatHappenedSinceThePhaseStarted) {
  EvaluationInput input = Input({});
  input.spec.comparisons = {ErrorRateVsStable()};
  ASSERT_TRUE(canary().Set(0, 100).ok());
  // Until the exporters have run long enough that 90 s hold more than the 1m minimum.
  ASSERT_TRUE(prometheus_
                  ->WaitForSamples("sum(increase(agent_requests_total{version=\"v1\"}[90s])) > "
                                   "1.2 * sum(increase(agent_requests_total{version=\"v1\"}[60s]))",
                                   120s)
                  .ok());
  const auto total = [&](const std::string& window) {
    return Value(
        *prometheus_,
        "sum(increase(agent_requests_total{agent=\"voice\",version=\"v1\"}[" + window + "]))");
  };
  std::map<std::string, double> seen;
  for (const auto& [since, window] : {std::pair{api::Duration(90s), std::string("90s")},
                                      std::pair{api::Duration(0s), std::string("60s")}}) {
    input.phase_started = api::Timestamp::clock::now() - since;
    const api::Evaluation evaluation = EvaluateOnce(input);
    ASSERT_EQ(evaluation.metrics.size(), 1u);
    const api::MetricStatus& judged = evaluation.metrics[0];
    ASSERT_TRUE(judged.comparison) << Describe(evaluation);
    const double counted = std::stod(judged.comparison->stable.total);
    const double expected = total(window);
    // The test's own query ran a moment later: a few requests more at 200/s.
    EXPECT_NEAR(counted, expected, 0.03 * expected + 50) << window << ": " << Describe(evaluation);
    EXPECT_GT(counted, 0);
    seen[window] = counted;
  }
  EXPECT_GT(seen["90s"], seen["60s"]) << "a later phase start counts less";
}

TEST_F(AnalysisIntegrationTest, ComparisonGoesNoGoWhenTheCanaryFailsMoreThanStable) {
  EvaluationInput input = Input({});
  input.spec.comparisons = {ErrorRateVsStable()};
  input.phase_started = api::Timestamp::clock::now();
  ASSERT_TRUE(canary().Set(0.1, 100).ok());
  const api::Evaluation evaluation = EvaluateUntilVerdict(input, Verdict::kNoGo);
  ASSERT_EQ(evaluation.verdict, Verdict::kNoGo) << Describe(evaluation);
  const api::MetricStatus& judged = evaluation.metrics[0];
  ASSERT_TRUE(judged.comparison);
  EXPECT_GT(std::stod(judged.comparison->low), 0.02) << Describe(evaluation);
  EXPECT_GT(std::stod(judged.comparison->canary.events), 0);
  EXPECT_TRUE(judged.message.starts_with("canary is worse by ")) << judged.message;
  EXPECT_TRUE(judged.message.ends_with(" points (No-Go above 2)")) << judged.message;
  const TableOutcome outcome = Accumulate(input.spec, {}, evaluation);
  ASSERT_TRUE(outcome.trigger) << "a breach rolls back (failureLimit 0)";
  EXPECT_EQ(outcome.trigger->kind, api::RollbackTrigger::Kind::kNoGo);
  EXPECT_EQ(outcome.trigger->metric, "error-rate-vs-stable");
  EXPECT_EQ(outcome.trigger->line, "> 0.02");
  ASSERT_TRUE(canary().Set(0, 100).ok());
}

TEST_F(AnalysisIntegrationTest, ComparisonOfEqualVersionsIsGo) {
  EvaluationInput input = Input({});
  input.spec.comparisons = {ErrorRateVsStable()};
  input.phase_started = api::Timestamp::clock::now();
  // Stable against itself: the same counts, an interval around 0 that shrinks with them.
  input.vars["canaryVersion"] = "v1";
  input.vars["stableVersion"] = "v1";
  const api::Evaluation evaluation = EvaluateUntilVerdict(input, Verdict::kGo);
  ASSERT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].comparison->canary, evaluation.metrics[0].comparison->stable);
}

TEST_F(AnalysisIntegrationTest, ComparisonWithoutDataHolds) {
  EvaluationInput input = Input({});
  input.spec.comparisons = {ErrorRateVsStable()};
  input.phase_started = api::Timestamp::clock::now();
  // One version not deployed: Hold, saying which.
  input.vars["stableVersion"] = "v0";
  api::Evaluation evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kHold) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].message, "no data for the stable (\"v0\") in this phase yet");
  EXPECT_FALSE(Accumulate(input.spec, {}, evaluation).trigger);
  // Neither: Hold too, never an advance.
  input.vars["canaryVersion"] = "v9";
  evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kHold) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].message, "no data for the canary (\"v9\") in this phase yet");
  // A query returning a series per version is an Error naming the query and the version.
  input.vars.erase("canaryVersion");
  input.vars.erase("stableVersion");
  input.spec.comparisons[0].total =
      "sum by (outcome) (increase(agent_requests_total{version=\"{{version}}\"}[{{window}}]))";
  evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kError) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].message,
            "total query for the canary (\"v2\") returned 2 series; it must return one "
            "(aggregate with sum)");
}

TEST_F(AnalysisIntegrationTest, DryRunNeverProducesNoGo) {
  api::MetricSpec shadow = ErrorRate();
  shadow.dry_run = true;
  EvaluationInput input = Input({shadow, LatencyP95()});
  input.spec.error_limit = 0;
  ASSERT_TRUE(canary().Set(0.6, 100).ok());  // past the abort line, even
  const api::Evaluation evaluation = EvaluateUntil(input, [](const api::Evaluation& e) {
    return e.metrics[0].message.ends_with("(abort)") && e.metrics[1].verdict == Verdict::kGo;
  });
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kNoGo) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[1].verdict, Verdict::kGo) << Describe(evaluation);
  EXPECT_TRUE(evaluation.metrics[0].dry_run);
  EXPECT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);
  EXPECT_FALSE(Accumulate(input.spec, {}, evaluation).trigger);
}

TEST_F(AnalysisIntegrationTest, ArgsCannotEscapeTheirLabelMatcher) {
  const TemplateVars vars = {{"evil", kEvilVersion}, {"prefix", "v2\"}"}};
  // Prometheus parses the rendered query and selects exactly the exporter whose version
  // label is the whole evil value: its two series (success, error), nothing else.
  auto query = Render("count by (version) (agent_requests_total{version=\"{{evil}}\"})", vars);
  ASSERT_TRUE(query.ok());
  PrometheusTarget target;
  target.address = prometheus_->base_url();
  auto client = ConnectPrometheus(target);
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  auto result = (*client)->Query(*query, 5s);
  ASSERT_TRUE(result.ok()) << result.error().ToString() << "\nquery: " << *query;
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->samples[0].labels.at("version"), kEvilVersion);
  EXPECT_EQ(result->samples[0].value, 2);

  // A value that would close the matcher right after "v2" selects nothing, not v2.
  EvaluationInput input =
      Input({Metric("escaped", "count(agent_requests_total{version=\"{{prefix}}\"}) or vector(0)",
                    "== 0", "> 0"),
             Metric("evil", "count(agent_requests_total{version=\"{{evil}}\"})", "== 2", "!= 2")});
  input.vars.insert(vars.begin(), vars.end());
  const api::Evaluation evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);
  EXPECT_EQ(evaluation.metrics[0].value, "0");
  EXPECT_EQ(evaluation.metrics[1].value, "2");
}

// A random label value built from every character that could end or bend a PromQL string
// literal (both quotes, backtick, backslash, braces, comment, control characters) and
// multi-byte UTF-8, in random order and with random repetitions.
std::string RandomHostileValue(std::mt19937& random) {
  static const std::vector<std::string> kPieces = {"\"",
                                                   "'",
                                                   "`",
                                                   "\\",
                                                   "{",
                                                   "}",
                                                   "#",
                                                   "\n",
                                                   "\r",
                                                   "\t",
                                                   std::string(1, '\0'),
                                                   "\x01",
                                                   "\x7f",
                                                   " ",
                                                   "=",
                                                   ",",
                                                   "a",
                                                   "Z",
                                                   "9",
                                                   "\xc3\xa9",
                                                   "\xe2\x82\xac",
                                                   "\xf0\x9f\x98\x80",
                                                   "} or vector(9) #",
                                                   "\\'",
                                                   "\\\"",
                                                   "{{x}}"};
  std::vector<std::string> pieces(kPieces.begin(), kPieces.begin() + 13);  // each special once
  const int extra = std::uniform_int_distribution<int>(0, 12)(random);
  for (int i = 0; i < extra; ++i) {
    pieces.push_back(
        kPieces[std::uniform_int_distribution<std::size_t>(0, kPieces.size() - 1)(random)]);
  }
  std::shuffle(pieces.begin(), pieces.end(), random);
  std::string value;
  for (const std::string& piece : pieces) value += piece;
  return value;
}

// API.md §3.2 against the real PromQL parser: whatever an arg holds, the query Prometheus
// parses has exactly that label value. absent() answers with the labels of its selector's
// equality matchers, so the value Prometheus parsed comes back in the answer; a value that
// broke out of its literal fails to parse or adds series (`or vector(9)`).
TEST_F(AnalysisIntegrationTest, EveryArgIsExactlyTheLabelValuePrometheusParses) {
  PrometheusTarget target;
  target.address = prometheus_->base_url();
  auto client = ConnectPrometheus(target);
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  std::mt19937 random(19);
  std::vector<std::string> values = {"z'} or vector(9) #", kEvilVersion, "\\", "'", "\""};
  while (values.size() < 200) values.push_back(RandomHostileValue(random));
  for (const char* query : {"absent(agentrollout_no_such_metric{l=\"{{x}}\"})",
                            "absent(agentrollout_no_such_metric{l='{{x}}'})"}) {
    for (const std::string& value : values) {
      auto rendered = Render(query, {{"x", value}});
      ASSERT_TRUE(rendered.ok()) << rendered.error().ToString();
      auto result = (*client)->Query(*rendered, 5s);
      ASSERT_TRUE(result.ok()) << result.error().ToString() << "\nquery: " << *rendered;
      ASSERT_EQ(result->samples.size(), 1u) << *rendered;
      const auto& labels = result->samples[0].labels;
      ASSERT_EQ(labels.size(), 1u) << *rendered;
      EXPECT_EQ(labels.at("l"), value) << *rendered;
    }
  }
}

TEST_F(AnalysisIntegrationTest, WrongShapesAndPromQLErrorsAreErrors) {
  EvaluationInput input = Input({
      Metric("matrix", "agent_requests_total{version=\"{{canary}}\"}[10s]", "< 1", "> 2"),
      Metric("two-series", "agent_requests_total{version=\"{{canary}}\"}", "< 1", "> 2"),
      Metric("nan", "0 / 0", "< 1", "> 2"),
      Metric("syntax", "sum(rate(agent_requests_total[5m]", "< 1", "> 2"),
      Metric("unknown-var", "up{job=\"{{region}}\"}", "< 1", "> 2"),
  });
  const api::Evaluation evaluation = EvaluateOnce(input);
  EXPECT_EQ(evaluation.verdict, Verdict::kError);
  for (const auto& metric : evaluation.metrics) EXPECT_EQ(metric.verdict, Verdict::kError);
  EXPECT_TRUE(evaluation.metrics[0].message.starts_with("query returned a range vector (matrix)"))
      << evaluation.metrics[0].message;
  EXPECT_TRUE(evaluation.metrics[1].message.starts_with("query returned 2 series"))
      << evaluation.metrics[1].message;
  EXPECT_EQ(evaluation.metrics[2].message, "value NaN is not a number");
  EXPECT_TRUE(
      evaluation.metrics[3].message.starts_with("Prometheus rejected the query (bad_data): "))
      << evaluation.metrics[3].message;
  EXPECT_EQ(evaluation.metrics[4].message, "query template: unknown template variable {{region}}");
}

TEST_F(AnalysisIntegrationTest, LongQueriesArePostedAndAnswered) {
  std::string query = "vector(1)";
  while (query.size() < 3 * kMaxGetQueryBytes) query += " + 0 * vector(1)";
  const api::Evaluation evaluation = EvaluateOnce(Input({Metric("long", query, "== 1", "!= 1")}));
  EXPECT_EQ(evaluation.verdict, Verdict::kGo) << Describe(evaluation);
}

TEST_F(AnalysisIntegrationTest, SchedulerDeduplicatesAcrossRollouts) {
  ASSERT_TRUE(canary().Set(0, 100).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, api::Evaluation> delivered;
  SchedulerOptions options;
  options.concurrency = 4;
  Scheduler scheduler(options, [&](const std::string& key, api::Evaluation evaluation) {
    std::lock_guard lock(mu);
    delivered[key] = std::move(evaluation);
    cv.notify_all();
  });
  constexpr int kRollouts = 25;
  for (int i = 0; i < kRollouts; ++i) {
    EvaluationInput input = Input({ErrorRate(), LatencyP95()});
    input.spec.interval = 1h;
    scheduler.Upsert("ns/rollout-" + std::to_string(i), input);
  }
  scheduler.Tick();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return delivered.size() == kRollouts; }));
  for (const auto& [key, evaluation] : delivered) {
    EXPECT_NE(evaluation.verdict, Verdict::kError) << key << ": " << Describe(evaluation);
  }
  const SchedulerStats stats = scheduler.Stats();
  EXPECT_EQ(stats.evaluations_started, static_cast<std::uint64_t>(kRollouts));
  EXPECT_EQ(stats.queries_sent, 2u);
  EXPECT_EQ(stats.queries_deduplicated, 2u * (kRollouts - 1));
  EXPECT_EQ(stats.queries_failed, 0u);
}

// The reported failure (issue 19): rollouts whose Prometheus accepts each query and never
// answers, with more queries than the scheduler has slots, froze every other rollout's
// analysis until their timeouts. A healthy rollout against the real Prometheus must keep
// being evaluated every interval while all of theirs hang.
TEST_F(AnalysisIntegrationTest, RolloutsAgainstHungServersDoNotDelayAHealthyOne) {
  ASSERT_TRUE(canary().Set(0, 100).ok());
  std::vector<http::testing::TestServerPtr> hung;
  std::atomic<int> hung_asked{0};
  for (int i = 0; i < 4; ++i) {
    auto server = http::testing::StartTestServer([&](http::testing::Exchange& exchange) {
      ++hung_asked;
      while (exchange.Wait(1h)) {
      }
    });
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    hung.push_back(std::move(*server));
  }
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<api::Evaluation>> delivered;
  SchedulerOptions options;
  options.concurrency = 2;
  Scheduler scheduler(options, [&](const std::string& key, api::Evaluation evaluation) {
    std::lock_guard lock(mu);
    delivered[key].push_back(std::move(evaluation));
    cv.notify_all();
  });
  for (int i = 0; i < 8; ++i) {  // 8 rollouts of 2 queries each against 4 hung servers
    EvaluationInput input = Input({ErrorRate(), LatencyP95()});
    input.spec.prometheus->address = hung[static_cast<std::size_t>(i % 4)]->url();
    input.spec.prometheus->timeout = 60s;
    input.spec.interval = 1s;
    input.vars["canary"] = "hung-" + std::to_string(i);
    scheduler.Upsert("ns/hung-" + std::to_string(i), input);
  }
  EvaluationInput healthy = Input({ErrorRate(), LatencyP95()});
  healthy.spec.interval = 1s;
  scheduler.Upsert("ns/healthy", healthy);
  scheduler.Start();

  // Every hung rollout holds a query (8 of them, 2 slots), ...
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (hung_asked.load() < 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(hung_asked.load(), 8);
  // ... and the healthy rollout is still evaluated every second (40 s allow for a loaded
  // machine; the hung queries end only after 60 s).
  std::unique_lock lock(mu);
  const std::size_t before = delivered["ns/healthy"].size();
  EXPECT_TRUE(cv.wait_for(lock, 40s, [&] { return delivered["ns/healthy"].size() >= before + 3; }))
      << delivered["ns/healthy"].size() - before << " evaluations of the healthy rollout";
  for (const api::Evaluation& evaluation : delivered["ns/healthy"]) {
    // Answered by the real Prometheus (Go or not: earlier tests' errors may still be in
    // the 5 s window).
    EXPECT_NE(evaluation.verdict, Verdict::kError) << Describe(evaluation);
  }
  for (int i = 0; i < 8; ++i) {  // theirs all still hang
    EXPECT_TRUE(delivered["ns/hung-" + std::to_string(i)].empty());
  }
  lock.unlock();
  EXPECT_GE(scheduler.Stats().queries_stalled, 8u);
  for (const auto& server : hung) server->Stop();  // the hung queries fail now
  scheduler.Stop();
}

// ------------------------------------------------------------------ misbehaving servers

// A TCP port that is listening (the kernel completes handshakes into the backlog) but whose
// owner never accepts and never answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A loopback port nothing listens on.
std::string ClosedPortUrl() {
  SilentListener listener;
  return listener.url();  // closed when the listener goes
}

int CountEntries(const char* dir) {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++count;
  return count;
}

constexpr char kOneSample[] =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.01"]}]}})";

class MisbehavingServerTest : public ::testing::Test {
 protected:
  static EvaluationInput Input(const std::string& address, std::chrono::milliseconds timeout = 5s) {
    EvaluationInput input;
    input.spec.prometheus = api::PrometheusSpec{};
    input.spec.prometheus->address = address;
    input.spec.prometheus->timeout = timeout;
    input.spec.metrics = {ErrorRate()};
    input.vars = {{"canary", "v2"}};
    return input;
  }

  static http::testing::TestServerPtr Serve(http::testing::Handler handler) {
    auto server = http::testing::StartTestServer(std::move(handler));
    EXPECT_TRUE(server.ok()) << server.error().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  }

  // The single metric's message after one evaluation, which must be an Error.
  static std::string ErrorMessage(const EvaluationInput& input) {
    const api::Evaluation evaluation = EvaluateOnce(input);
    EXPECT_EQ(evaluation.verdict, Verdict::kError) << Describe(evaluation);
    return evaluation.metrics.at(0).message;
  }
};

TEST_F(MisbehavingServerTest, EveryFailureIsAnErrorWithAClearMessage) {
  auto http500 = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(500, {{"Content-Type", "text/plain"}}, "upstream exploded\n");
  });
  auto malformed = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(200, {{"Content-Type", "application/json"}},
                     R"({"status":"success","data":{"resultType")");
  });
  auto matrix = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(200, {{"Content-Type", "application/json"}},
                     R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  });
  auto huge = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(200, {{"Content-Type", "application/json"}}, std::string(20u << 20, ' '));
  });
  auto huge_chunked = Serve([](http::testing::Exchange& exchange) {
    exchange.StartChunked(200, {{"Content-Type", "application/json"}});
    const std::string chunk(1u << 20, ' ');
    for (int i = 0; i < 20; ++i) exchange.WriteChunk(chunk);
    exchange.EndChunks();
  });
  ASSERT_TRUE(http500 && malformed && matrix && huge && huge_chunked);
  SilentListener silent;

  EXPECT_EQ(ErrorMessage(Input(http500->url())), "Prometheus answered HTTP 500: upstream exploded");
  EXPECT_TRUE(ErrorMessage(Input(malformed->url()))
                  .starts_with("malformed response from Prometheus: the body is not JSON: "));
  EXPECT_TRUE(ErrorMessage(Input(matrix->url())).starts_with("query returned a range vector"));
  EXPECT_EQ(ErrorMessage(Input(huge->url())),
            "Prometheus at " + huge->url() +
                " answered with more than 4 MiB; the query must return a single value");
  EXPECT_EQ(ErrorMessage(Input(huge_chunked->url())),
            "Prometheus at " + huge_chunked->url() +
                " answered with more than 4 MiB; the query must return a single value");
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ErrorMessage(Input(silent.url(), 1s)),
            "query to Prometheus at " + silent.url() + " timed out after 1s");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  const std::string down = ClosedPortUrl();
  EXPECT_TRUE(ErrorMessage(Input(down)).starts_with("Prometheus at " + down + " is unreachable: "));
}

TEST_F(MisbehavingServerTest, NoThreadOrSocketLeaks) {
  auto http500 = Serve([](http::testing::Exchange& exchange) { exchange.Respond(500, {}, "no"); });
  auto malformed =
      Serve([](http::testing::Exchange& exchange) { exchange.Respond(200, {}, "{not json"); });
  auto huge = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(200, {}, std::string(8u << 20, ' '));
  });
  auto ok = Serve([](http::testing::Exchange& exchange) { exchange.Respond(200, {}, kOneSample); });
  ASSERT_TRUE(http500 && malformed && huge && ok);
  SilentListener silent;
  const std::string down = ClosedPortUrl();
  const std::vector<EvaluationInput> inputs = {Input(http500->url()),      Input(malformed->url()),
                                               Input(huge->url()),         Input(ok->url()),
                                               Input(silent.url(), 300ms), Input(down)};
  // Warm up: the HTTP library starts its thread pool on first use.
  for (const auto& input : inputs) (void)EvaluateOnce(input);

  const auto settle = [](int baseline, const char* dir) {
    int now = CountEntries(dir);
    for (int i = 0; i < 100 && now > baseline; ++i) {
      std::this_thread::sleep_for(100ms);
      now = CountEntries(dir);
    }
    return now;
  };
  std::this_thread::sleep_for(200ms);  // connections of the warm-up wind down
  const int threads_before = CountEntries("/proc/self/task");
  const int fds_before = CountEntries("/proc/self/fd");
  for (int round = 0; round < 10; ++round) {
    for (const auto& input : inputs) {
      const api::Evaluation evaluation = EvaluateOnce(input);
      EXPECT_EQ(evaluation.verdict,
                input.spec.prometheus->address == ok->url() ? Verdict::kGo : Verdict::kError)
          << Describe(evaluation);
    }
  }
  const int threads_after = settle(threads_before, "/proc/self/task");
  const int fds_after = settle(fds_before, "/proc/self/fd");
  std::cerr << "threads " << threads_before << " -> " << threads_after << ", fds " << fds_before
            << " -> " << fds_after << "\n";
  EXPECT_LE(threads_after, threads_before);
  EXPECT_LE(fds_after, fds_before);
}

TEST_F(MisbehavingServerTest, SlowPrometheusDoesNotPileUpInTheScheduler) {
  SilentListener silent;
  std::atomic<int> delivered{0};
  SchedulerOptions options;
  options.concurrency = 2;
  options.tick_period = 50ms;
  options.spread_evaluations = false;  // slots a whole interval apart from the first
  Scheduler scheduler(options, [&](const std::string&, api::Evaluation) { ++delivered; });
  EvaluationInput input = Input(silent.url(), 1500ms);
  input.spec.interval = 1s;
  scheduler.Upsert("ns/a", input);
  scheduler.Start();
  // Slots fall due at 0, 1, 2, 3, 4 s: stopping half-way between two (3.7 s) keeps a slot
  // from starting just before Stop() drops its query unsent.
  std::this_thread::sleep_for(3700ms);
  scheduler.Stop();
  const SchedulerStats stats = scheduler.Stats();
  // Each evaluation takes 1.5 s against an interval of 1 s: every other slot is skipped.
  EXPECT_LE(stats.evaluations_started, 3u);
  EXPECT_GE(stats.evaluations_skipped, 1u);
  EXPECT_EQ(stats.queries_sent, stats.evaluations_started);
  EXPECT_EQ(stats.queries_failed, stats.evaluations_started);
  EXPECT_GE(delivered.load(), 1);
}

TEST_F(MisbehavingServerTest, CredentialsHeadersAndPathPrefixReachTheServer) {
  std::mutex mu;
  std::vector<http::testing::ReceivedRequest> seen;
  auto server = Serve([&](http::testing::Exchange& exchange) {
    {
      std::lock_guard lock(mu);
      seen.push_back(exchange.request());
    }
    exchange.Respond(200, {{"Content-Type", "application/json"}}, kOneSample);
  });
  ASSERT_TRUE(server);
  EvaluationInput input = Input(server->url() + "/prometheus");
  input.spec.prometheus->headers = {{"X-Scope-OrgID", "tenant-a"}};
  input.credentials.bearer_token = "tok-abc";
  EXPECT_EQ(EvaluateOnce(input).verdict, Verdict::kGo);
  input.credentials.bearer_token.clear();
  input.credentials.basic_auth = BasicAuth{"alice", "open sesame"};
  EXPECT_EQ(EvaluateOnce(input).verdict, Verdict::kGo);
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].target.starts_with("/prometheus/api/v1/query?query=sum%28rate"))
      << seen[0].target;
  EXPECT_EQ(seen[0].Header("X-Scope-OrgID"), "tenant-a");
  EXPECT_EQ(seen[0].Header("Authorization"), "Bearer tok-abc");
  EXPECT_EQ(seen[1].Header("Authorization"), "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
}

TEST_F(MisbehavingServerTest, CredentialsNeverReachAMessage) {
  // A server that echoes the Authorization header back in its error page.
  auto server = Serve([](http::testing::Exchange& exchange) {
    exchange.Respond(401, {},
                     "rejected " + exchange.request().Header("Authorization").value_or(""));
  });
  ASSERT_TRUE(server);
  EvaluationInput input = Input(server->url());
  input.credentials.bearer_token = "tok-do-not-leak";
  std::string message = ErrorMessage(input);
  EXPECT_EQ(message, "Prometheus answered HTTP 401: rejected Bearer <redacted>");
  input.credentials.bearer_token.clear();
  input.credentials.basic_auth = BasicAuth{"alice", "pw-do-not-leak"};
  message = ErrorMessage(input);
  EXPECT_EQ(message.find("pw-do-not-leak"), std::string::npos) << message;
  EXPECT_EQ(message, "Prometheus answered HTTP 401: rejected Basic <redacted>");
}

TEST_F(MisbehavingServerTest, TlsWithCaOrSkipVerify) {
  auto pki = http::testing::GenerateTestPki();
  ASSERT_TRUE(pki.ok()) << pki.error().ToString();
  auto server = http::testing::StartTestServer(
      [](http::testing::Exchange& exchange) { exchange.Respond(200, {}, kOneSample); },
      http::testing::TlsServerOptions{pki->server_cert_pem, pki->server_key_pem, ""});
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  EvaluationInput input = Input((*server)->url());
  const api::Evaluation untrusted = EvaluateOnce(input);
  EXPECT_EQ(untrusted.verdict, Verdict::kError) << Describe(untrusted);
  input.credentials.ca_pem = pki->ca_cert_pem;
  EXPECT_EQ(EvaluateOnce(input).verdict, Verdict::kGo);
  input.credentials.ca_pem = pki->other_ca_cert_pem;
  EXPECT_EQ(EvaluateOnce(input).verdict, Verdict::kError);
  input.credentials.ca_pem.clear();
  input.spec.prometheus->insecure_skip_verify = true;
  EXPECT_EQ(EvaluateOnce(input).verdict, Verdict::kGo);
}

}  // namespace
}  // namespace agentrollout::analysis
