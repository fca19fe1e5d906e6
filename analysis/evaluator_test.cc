#include "analysis/evaluator.h"

#include <gtest/gtest.h>

#include <thread>

#include "analysis/evaluate_once.h"
#include "analysis/fake_prometheus_client.h"

namespace agentrollout::analysis {
namespace {

using api::CompareOp;
using api::Verdict;
using testing::EvaluateOnce;
using testing::FakePrometheusClient;

// Scheduler options whose client is `connect`.
SchedulerOptions Connecting(
    Connector connect, Clock now = [] { return api::Timestamp::clock::now(); }) {
  SchedulerOptions options;
  options.connect = std::move(connect);
  options.now = std::move(now);
  return options;
}

api::MetricSpec Metric(std::string name, std::string query) {
  api::MetricSpec metric;
  metric.name = std::move(name);
  metric.query = std::move(query);
  metric.go = {CompareOp::kLess, 1};
  metric.no_go = {CompareOp::kGreater, 2};
  return metric;
}

EvaluationInput Input() {
  EvaluationInput input;
  input.spec.prometheus = api::PrometheusSpec{};
  input.spec.prometheus->address = "http://prometheus:9090";
  input.spec.prometheus->timeout = std::chrono::seconds(2);
  input.spec.metrics = {Metric("errors", R"(errors{version="{{canary}}"})"),
                        Metric("latency", R"(latency{version="{{canary}}"})")};
  input.vars = {{"canary", "v2"}};
  input.credentials.bearer_token = "t";
  return input;
}

const api::Timestamp kNow{std::chrono::seconds(1234)};

TEST(EvaluateOnce, RunsEveryQueryAndCombines) {
  auto prom = std::make_shared<FakePrometheusClient>();
  prom->SetValue(R"(errors{version="v2"})", 0.5);
  prom->SetValue(R"(latency{version="v2"})", 1.5);
  PrometheusTarget seen;
  const api::Evaluation evaluation =
      EvaluateOnce(Input(), Connecting(
                                [&](const PrometheusTarget& target) -> Result<PrometheusClientPtr> {
                                  seen = target;
                                  return PrometheusClientPtr(prom);
                                },
                                [] { return kNow; }));
  EXPECT_EQ(evaluation.at, kNow);
  EXPECT_EQ(evaluation.verdict, Verdict::kHold);
  ASSERT_EQ(evaluation.metrics.size(), 2u);
  EXPECT_EQ(evaluation.metrics[0].name, "errors");
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kGo);
  EXPECT_EQ(evaluation.metrics[1].verdict, Verdict::kHold);
  EXPECT_EQ(evaluation.metrics[1].value, "1.5");
  EXPECT_EQ(seen.address, "http://prometheus:9090");
  EXPECT_EQ(seen.credentials.bearer_token, "t");
  EXPECT_EQ(prom->queries().size(), 2u);
}

TEST(EvaluateOnce, QueriesRunConcurrently) {
  auto prom = std::make_shared<FakePrometheusClient>();
  prom->SetValue(R"(errors{version="v2"})", 0.5);
  prom->SetValue(R"(latency{version="v2"})", 0.5);
  prom->Hold();
  const auto connect = [&](const PrometheusTarget&) -> Result<PrometheusClientPtr> {
    return PrometheusClientPtr(prom);
  };
  std::thread releaser([&] {
    // Both queries are in flight at once before either answers.
    EXPECT_TRUE(prom->WaitForRunning(2, std::chrono::seconds(5)));
    prom->Release();
  });
  const api::Evaluation evaluation = EvaluateOnce(Input(), Connecting(connect));
  releaser.join();
  EXPECT_EQ(evaluation.verdict, Verdict::kGo);
}

TEST(EvaluateOnce, TemplateErrorsAndConnectErrorsAreMetricErrors) {
  EvaluationInput input = Input();
  input.spec.metrics[1].query = R"(latency{region="{{region}}"})";
  auto prom = std::make_shared<FakePrometheusClient>();
  prom->SetValue(R"(errors{version="v2"})", 0.5);
  const auto connect = [&](const PrometheusTarget&) -> Result<PrometheusClientPtr> {
    return PrometheusClientPtr(prom);
  };
  api::Evaluation evaluation = EvaluateOnce(input, Connecting(connect));
  EXPECT_EQ(evaluation.verdict, Verdict::kError);
  EXPECT_EQ(evaluation.metrics[0].verdict, Verdict::kGo);
  EXPECT_EQ(evaluation.metrics[1].verdict, Verdict::kError);
  EXPECT_EQ(evaluation.metrics[1].message, "query template: unknown template variable {{region}}");

  evaluation =
      EvaluateOnce(Input(), Connecting([](const PrometheusTarget&) -> Result<PrometheusClientPtr> {
                     return InvalidArgument(
                         "analysis.prometheus.address: \"x\" is not an http:// or https:// URL");
                   }));
  EXPECT_EQ(evaluation.verdict, Verdict::kError);
  EXPECT_EQ(evaluation.metrics[0].message,
            "analysis.prometheus.address: \"x\" is not an http:// or https:// URL");

  input = Input();
  input.spec.prometheus.reset();
  evaluation = EvaluateOnce(input, Connecting(connect));
  EXPECT_EQ(
      evaluation.metrics[1].message,
      "analysis.prometheus.address is required when analysis.metrics or comparisons are given");
}

TEST(EvaluateOnce, EmptyTableIsGoWithoutConnecting) {
  EvaluationInput input = Input();
  input.spec.metrics.clear();
  input.spec.prometheus.reset();
  bool connected = false;
  const api::Evaluation evaluation =
      EvaluateOnce(input, Connecting([&](const PrometheusTarget&) -> Result<PrometheusClientPtr> {
                     connected = true;
                     return Internal("unused");
                   }));
  EXPECT_EQ(evaluation.verdict, Verdict::kGo);
  EXPECT_TRUE(evaluation.metrics.empty());
  EXPECT_FALSE(connected);
}

// A comparison runs four queries next to the metrics, {{window}} counting from the
// phase's start at the moment the evaluation runs, and joins the verdict.
TEST(EvaluateOnce, ComparisonsQueryBothVersionsSincePhaseStart) {
  auto prom = std::make_shared<FakePrometheusClient>();
  prom->SetValue(R"(errors{version="v2"})", 0.5);
  prom->SetValue(R"(latency{version="v2"})", 0.5);
  prom->SetValue(R"(sum(increase(calls{version="v2",outcome="error"}[754s])))", 120);
  prom->SetValue(R"(sum(increase(calls{version="v2"}[754s])))", 2000);
  prom->SetValue(R"(sum(increase(calls{version="v1",outcome="error"}[754s])))", 100);
  prom->SetValue(R"(sum(increase(calls{version="v1"}[754s])))", 20000);
  EvaluationInput input = Input();
  input.vars["stable"] = "v1";
  input.phase_started = kNow - std::chrono::milliseconds(754300);
  api::ComparisonSpec comparison;
  comparison.name = "errors-vs-stable";
  comparison.events = R"(sum(increase(calls{version="{{version}}",outcome="error"}[{{window}}])))";
  comparison.total = R"(sum(increase(calls{version="{{version}}"}[{{window}}])))";
  comparison.go = {CompareOp::kLess, 0.005};
  comparison.no_go = {CompareOp::kGreater, 0.02};
  input.spec.comparisons = {comparison};
  const api::Evaluation evaluation = EvaluateOnce(
      input, Connecting([&](const PrometheusTarget&) { return PrometheusClientPtr(prom); },
                        [] { return kNow; }));
  ASSERT_EQ(evaluation.metrics.size(), 3u);
  EXPECT_EQ(prom->queries().size(), 6u);
  const api::MetricStatus& judged = evaluation.metrics[2];
  EXPECT_EQ(judged.name, "errors-vs-stable");
  EXPECT_EQ(judged.verdict, Verdict::kNoGo) << judged.message;
  ASSERT_TRUE(judged.comparison);
  EXPECT_EQ(judged.comparison->stable.total, "20000");
  EXPECT_EQ(evaluation.verdict, Verdict::kNoGo);
}

}  // namespace
}  // namespace agentrollout::analysis
