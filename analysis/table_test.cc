#include "analysis/table.h"

#include <gtest/gtest.h>

#include "analysis/classify.h"

namespace agentrollout::analysis {
namespace {

using api::CompareOp;
using api::Verdict;
using Kind = api::RollbackTrigger::Kind;

api::MetricSpec Metric(std::string name, bool dry_run = false) {
  api::MetricSpec metric;
  metric.name = std::move(name);
  metric.go = {CompareOp::kLess, 0.02};
  metric.no_go = {CompareOp::kGreater, 0.05};
  metric.abort = api::Threshold{CompareOp::kGreater, 0.5};
  metric.dry_run = dry_run;
  return metric;
}

api::AnalysisSpec Spec(int failure_limit, int error_limit) {
  api::AnalysisSpec spec;
  spec.failure_limit = failure_limit;
  spec.error_limit = error_limit;
  spec.metrics = {Metric("error-rate"), Metric("shadow", /*dry_run=*/true)};
  return spec;
}

Result<QueryResult> Value(double value) {
  return QueryResult{QueryResult::Type::kScalar, {Sample{{}, value}}, {}};
}

// An evaluation of Spec()'s two metrics, made with the real classifier.
api::Evaluation Evaluate(const api::AnalysisSpec& spec, const Result<QueryResult>& error_rate,
                         const Result<QueryResult>& shadow = Value(0)) {
  api::Evaluation evaluation;
  evaluation.at = api::Timestamp(std::chrono::seconds(1000));
  evaluation.metrics = {Classify(spec.metrics[0], spec.no_data, error_rate),
                        Classify(spec.metrics[1], spec.no_data, shadow)};
  evaluation.verdict = TableVerdict(evaluation.metrics);
  return evaluation;
}

TEST(Accumulate, GoResetsAndRecordsTheEvaluation) {
  const api::AnalysisSpec spec = Spec(0, 3);
  api::AnalysisStatus previous;
  previous.consecutive_no_go = 4;
  previous.consecutive_errors = 2;
  const api::Evaluation evaluation = Evaluate(spec, Value(0.01));
  const TableOutcome outcome = Accumulate(spec, previous, evaluation);
  EXPECT_EQ(outcome.status.consecutive_no_go, 0);
  EXPECT_EQ(outcome.status.consecutive_errors, 0);
  EXPECT_EQ(outcome.status.metrics, evaluation.metrics);
  EXPECT_EQ(outcome.status.last_evaluated, evaluation.at);
  EXPECT_FALSE(outcome.trigger);
}

TEST(Accumulate, HoldResetsBothCounters) {
  const api::AnalysisSpec spec = Spec(2, 3);
  api::AnalysisStatus previous;
  previous.consecutive_no_go = 2;
  previous.consecutive_errors = 3;
  const TableOutcome outcome = Accumulate(spec, previous, Evaluate(spec, Value(0.03)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 0);
  EXPECT_EQ(outcome.status.consecutive_errors, 0);
  EXPECT_FALSE(outcome.trigger);
}

TEST(Accumulate, FailureLimitZeroRollsBackAtTheFirstNoGo) {
  const api::AnalysisSpec spec = Spec(0, 3);
  const TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.071)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, Kind::kNoGo);
  EXPECT_EQ(outcome.trigger->metric, "error-rate");
  EXPECT_EQ(outcome.trigger->value, "0.071");
  EXPECT_EQ(outcome.trigger->line, "> 0.05");
  EXPECT_EQ(outcome.trigger->reason,
            "error-rate is 0.071, past its No-Go line > 0.05, for 1 consecutive evaluation "
            "(failureLimit 0).");
}

TEST(Accumulate, ReasonsShowAtMostFourSignificantDigits) {
  const api::AnalysisSpec spec = Spec(0, 3);
  TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.0714285714285714)));
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->value, "0.0714285714285714") << "status keeps the exact value";
  EXPECT_EQ(outcome.trigger->reason,
            "error-rate is 0.07143, past its No-Go line > 0.05, for 1 consecutive evaluation "
            "(failureLimit 0).");
  outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.6666666666666666)));
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->reason,
            "error-rate is 0.6667, past its abort line > 0.5: rolling back fully now.");
}

TEST(Accumulate, FailureLimitToleratesThatManyNoGos) {
  const api::AnalysisSpec spec = Spec(2, 3);
  api::AnalysisStatus status;
  for (int i = 1; i <= 2; ++i) {
    const TableOutcome outcome = Accumulate(spec, status, Evaluate(spec, Value(0.1)));
    EXPECT_EQ(outcome.status.consecutive_no_go, i);
    EXPECT_FALSE(outcome.trigger) << i;
    status = outcome.status;
  }
  const TableOutcome third = Accumulate(spec, status, Evaluate(spec, Value(0.1)));
  EXPECT_EQ(third.status.consecutive_no_go, 3);
  ASSERT_TRUE(third.trigger);
  EXPECT_EQ(third.trigger->kind, Kind::kNoGo);
  EXPECT_EQ(third.trigger->reason,
            "error-rate is 0.1, past its No-Go line > 0.05, for 3 consecutive evaluations "
            "(failureLimit 2).");
}

TEST(Accumulate, AGoBetweenNoGosStartsTheCountAgain) {
  const api::AnalysisSpec spec = Spec(1, 3);
  TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.1)));
  outcome = Accumulate(spec, outcome.status, Evaluate(spec, Value(0.01)));
  outcome = Accumulate(spec, outcome.status, Evaluate(spec, Value(0.1)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  EXPECT_FALSE(outcome.trigger);
}

TEST(Accumulate, AbortIgnoresFailureLimit) {
  const api::AnalysisSpec spec = Spec(5, 3);
  const TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.71)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, Kind::kAbort);
  EXPECT_EQ(outcome.trigger->metric, "error-rate");
  EXPECT_EQ(outcome.trigger->value, "0.71");
  EXPECT_EQ(outcome.trigger->line, "> 0.5");
  EXPECT_EQ(outcome.trigger->reason,
            "error-rate is 0.71, past its abort line > 0.5: rolling back fully now.");
}

TEST(Accumulate, ErrorsPastErrorLimitCountAsNoGo) {
  const api::AnalysisSpec spec = Spec(0, 2);
  const Result<QueryResult> down = Unavailable("Prometheus at http://p is unreachable: refused");
  api::AnalysisStatus status;
  status.consecutive_no_go = 0;
  for (int i = 1; i <= 2; ++i) {
    const TableOutcome outcome = Accumulate(spec, status, Evaluate(spec, down));
    EXPECT_EQ(outcome.status.consecutive_errors, i);
    EXPECT_FALSE(outcome.trigger) << i;
    status = outcome.status;
  }
  const TableOutcome third = Accumulate(spec, status, Evaluate(spec, down));
  EXPECT_EQ(third.status.consecutive_errors, 3);
  ASSERT_TRUE(third.trigger);
  EXPECT_EQ(third.trigger->kind, Kind::kErrors);
  EXPECT_EQ(third.trigger->metric, "error-rate");
  EXPECT_EQ(third.trigger->line, "errorLimit 2");
  EXPECT_EQ(third.trigger->reason,
            "analysis queries failed for 3 consecutive evaluations (errorLimit 2); error-rate: "
            "Prometheus at http://p is unreachable: refused.");
}

TEST(Accumulate, ErrorKeepsTheNoGoCountAndNoGoResetsErrors) {
  const api::AnalysisSpec spec = Spec(1, 3);
  TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.1)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  outcome = Accumulate(spec, outcome.status, Evaluate(spec, Unavailable("down")));
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  EXPECT_EQ(outcome.status.consecutive_errors, 1);
  EXPECT_FALSE(outcome.trigger);
  outcome = Accumulate(spec, outcome.status, Evaluate(spec, Value(0.1)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 2);
  EXPECT_EQ(outcome.status.consecutive_errors, 0);
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, Kind::kNoGo);
}

TEST(Accumulate, NoDataNoGoNamesTheLine) {
  api::AnalysisSpec spec = Spec(0, 3);
  spec.no_data = api::NoDataPolicy::kNoGo;
  const TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, QueryResult{}));
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, Kind::kNoGo);
  EXPECT_EQ(outcome.trigger->value, "");
  EXPECT_EQ(outcome.trigger->line, "noData: noGo");
  EXPECT_EQ(outcome.trigger->reason,
            "error-rate returned no data (noData: noGo) for 1 consecutive evaluation "
            "(failureLimit 0).");
}

TEST(Accumulate, DryRunNeverTriggers) {
  const api::AnalysisSpec spec = Spec(0, 0);
  // The dryRun metric crosses its abort line, then fails: neither counts.
  TableOutcome outcome = Accumulate(spec, {}, Evaluate(spec, Value(0.01), Value(0.9)));
  EXPECT_EQ(outcome.status.consecutive_no_go, 0);
  EXPECT_FALSE(outcome.trigger);
  EXPECT_EQ(outcome.status.metrics[1].verdict, Verdict::kNoGo);  // still shown
  outcome = Accumulate(spec, outcome.status, Evaluate(spec, Value(0.01), Unavailable("down")));
  EXPECT_EQ(outcome.status.consecutive_errors, 0);
  EXPECT_FALSE(outcome.trigger);
}

TEST(Accumulate, SeveralFailedMetricsAreSummarised) {
  api::AnalysisSpec spec = Spec(0, 0);
  spec.metrics[1].dry_run = false;
  const TableOutcome outcome =
      Accumulate(spec, {}, Evaluate(spec, Unavailable("down"), Unavailable("down too")));
  ASSERT_TRUE(outcome.trigger);
  EXPECT_EQ(outcome.trigger->kind, Kind::kErrors);
  EXPECT_EQ(outcome.trigger->metric, "");
  EXPECT_EQ(outcome.trigger->reason,
            "analysis queries failed for 1 consecutive evaluation (errorLimit 0); error-rate: "
            "down (and 1 more).");
}

TEST(Accumulate, NoVerdictKeepsTheCounters) {
  const api::AnalysisSpec spec = Spec(0, 3);
  api::AnalysisStatus previous;
  previous.consecutive_no_go = 1;
  previous.consecutive_errors = 2;
  const TableOutcome outcome = Accumulate(spec, previous, api::Evaluation{});
  EXPECT_EQ(outcome.status.consecutive_no_go, 1);
  EXPECT_EQ(outcome.status.consecutive_errors, 2);
  EXPECT_FALSE(outcome.trigger);
}

}  // namespace
}  // namespace agentrollout::analysis
