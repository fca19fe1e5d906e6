#include "analysis/compare.h"

#include <gtest/gtest.h>

#include <limits>

namespace agentrollout::analysis {
namespace {

using api::CompareOp;
using api::Verdict;

api::ComparisonSpec ErrorRateVsStable() {
  api::ComparisonSpec comparison;
  comparison.name = "error-rate-vs-stable";
  comparison.events =
      "sum(increase(calls_total{version=\"{{version}}\",outcome=\"error\"}[{{window}}]))";
  comparison.total = "sum(increase(calls_total{version=\"{{version}}\"}[{{window}}]))";
  comparison.go = {CompareOp::kLess, 0.005};
  comparison.no_go = {CompareOp::kGreater, 0.02};
  comparison.min_total = 200;
  return comparison;
}

const Versions kVersions{"voice-v2", "voice-v1"};

Result<QueryResult> Value(double value) {
  return QueryResult{QueryResult::Type::kVector, {Sample{{}, value}}, {}};
}
Result<QueryResult> NoData() { return QueryResult{}; }

// Canary events/total, then stable events/total.
std::vector<Result<QueryResult>> Counts(double ce, double cn, double se, double sn) {
  return {Value(ce), Value(cn), Value(se), Value(sn)};
}

api::MetricStatus Judged(std::vector<Result<QueryResult>> outcomes) {
  return JudgeComparison(ErrorRateVsStable(), kVersions, outcomes, 0);
}

TEST(PromQLWindow, WholeSecondsAtLeastAMinute) {
  EXPECT_EQ(PromQLWindow(std::chrono::seconds(0)), "60s");
  EXPECT_EQ(PromQLWindow(std::chrono::seconds(-5)), "60s");
  EXPECT_EQ(PromQLWindow(std::chrono::milliseconds(59999)), "60s");
  EXPECT_EQ(PromQLWindow(std::chrono::milliseconds(3725900)), "3725s");
}

TEST(VersionsOf, ArgsOverrideTheRouter) {
  EXPECT_EQ(VersionsOf({{"canary", "svc-v2"}, {"stable", "svc-v1"}}),
            (Versions{"svc-v2", "svc-v1"}));
  EXPECT_EQ(VersionsOf({{"canary", "svc-v2"},
                        {"stable", "svc-v1"},
                        {"canaryVersion", "2.0.0"},
                        {"stableVersion", "1.9.3"}}),
            (Versions{"2.0.0", "1.9.3"}));
}

TEST(RenderComparison, FourQueriesWithVersionAndWindow) {
  auto queries = RenderComparison(ErrorRateVsStable(), {{"canary", "a\"b"}}, {"a\"b", "v1"}, "90s");
  ASSERT_TRUE(queries[kCanaryEvents].ok());
  EXPECT_EQ(*queries[kCanaryEvents],
            "sum(increase(calls_total{version=\"a\\\"b\",outcome=\"error\"}[90s]))");
  EXPECT_EQ(*queries[kStableTotal], "sum(increase(calls_total{version=\"v1\"}[90s]))");
  api::ComparisonSpec unknown = ErrorRateVsStable();
  unknown.total = "sum(x{a=\"{{nope}}\"})";
  auto broken = RenderComparison(unknown, {}, kVersions, "60s");
  ASSERT_FALSE(broken[kCanaryTotal].ok());
  EXPECT_EQ(broken[kCanaryTotal].error().message(),
            "total template: unknown template variable {{nope}}");
}

TEST(JudgeComparison, NoGoWhenTheCanaryIsClearlyWorse) {
  // 6 % of 2000 canary calls fail against 0.5 % of 20000 stable ones.
  const api::MetricStatus status = Judged(Counts(120, 2000, 100, 20000));
  EXPECT_EQ(status.verdict, Verdict::kNoGo);
  ASSERT_TRUE(status.comparison);
  EXPECT_EQ(status.comparison->canary, (api::CountsStatus{"120", "2000"}));
  EXPECT_EQ(status.comparison->stable, (api::CountsStatus{"100", "20000"}));
  EXPECT_EQ(status.value, "0.055");
  EXPECT_GT(std::stod(status.comparison->low), 0.02);
  EXPECT_LT(std::stod(status.comparison->high), 0.1);
  EXPECT_EQ(status.go, "< 0.005");
  EXPECT_EQ(status.no_go, "> 0.02");
  EXPECT_TRUE(status.message.starts_with("canary is worse by ")) << status.message;
  EXPECT_TRUE(status.message.ends_with(" points (No-Go above 2)")) << status.message;
}

TEST(JudgeComparison, GoWhenEqualRatesAreWellMeasured) {
  const api::MetricStatus status = Judged(Counts(50, 100000, 50, 100000));
  EXPECT_EQ(status.verdict, Verdict::kGo) << status.message;
  EXPECT_EQ(status.value, "0");
  EXPECT_TRUE(status.message.ends_with("points (Go below 0.5)")) << status.message;
}

TEST(JudgeComparison, HoldsInTheGreyZoneAndBelowMinTotal) {
  const api::MetricStatus grey = Judged(Counts(20, 1000, 100, 10000));
  EXPECT_EQ(grey.verdict, Verdict::kHold);
  EXPECT_TRUE(grey.message.ends_with("not yet below 0.5 (Go) nor above 2 (No-Go)")) << grey.message;

  const api::MetricStatus few = Judged(Counts(0, 60, 0, 5000));
  EXPECT_EQ(few.verdict, Verdict::kHold);
  EXPECT_EQ(few.message, "needs 140 more canary calls");
  ASSERT_TRUE(few.comparison);  // the counts are shown while it holds
  EXPECT_EQ(few.comparison->canary.total, "60");

  EXPECT_EQ(Judged(Counts(0, 60, 0, 10.5)).message,
            "needs 140 more canary and 190 more stable calls");
}

TEST(JudgeComparison, NoEventSeriesCountsZeroNoTotalHolds) {
  const api::MetricStatus no_errors_yet =
      Judged({NoData(), Value(100000), NoData(), Value(100000)});
  EXPECT_EQ(no_errors_yet.verdict, Verdict::kGo) << no_errors_yet.message;
  EXPECT_EQ(no_errors_yet.comparison->canary.events, "0");

  const api::MetricStatus missing = Judged({Value(0), NoData(), Value(3), Value(500)});
  EXPECT_EQ(missing.verdict, Verdict::kHold);
  EXPECT_EQ(missing.message, "no data for the canary (\"voice-v2\") in this phase yet");
  EXPECT_FALSE(missing.comparison);
}

TEST(JudgeComparison, BadInputIsAnErrorNamingTheQueryAndTheVersion) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const Result<QueryResult> two_series = QueryResult{
      QueryResult::Type::kVector, {Sample{{{"a", "1"}}, 1}, Sample{{{"a", "2"}}, 2}}, {}};
  struct Case {
    std::vector<Result<QueryResult>> outcomes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{two_series, Value(1), Value(1), Value(1)},
       "events query for the canary (\"voice-v2\") returned 2 series; it must return one "
       "(aggregate with sum)"},
      {{Value(1), Value(1), Value(-4), Value(1)},
       "events query for the stable (\"voice-v1\") returned -4, a negative count"},
      {{Value(1), Value(nan), Value(1), Value(1)},
       "total query for the canary (\"voice-v2\") returned NaN, not a count"},
      {{Value(1), Value(1), Value(1), Value(inf)},
       "total query for the stable (\"voice-v1\") returned +Inf, not a count"},
      {{Value(1), Value(1), Value(1), Value(1e300)},
       "total query for the stable (\"voice-v1\") returned 1e+300, beyond any count of calls"},
      {{Value(1), Value(1), Value(1), Unavailable("connection refused")},
       "total query for the stable (\"voice-v1\"): connection refused"},
      {{Value(300), Value(200), Value(1), Value(1000)},
       "canary events 300 > total 200 (canary \"voice-v2\", stable \"voice-v1\")"},
  };
  for (const Case& c : cases) {
    const api::MetricStatus status = Judged(c.outcomes);
    EXPECT_EQ(status.verdict, Verdict::kError) << c.message;
    EXPECT_EQ(status.message, c.message);
    EXPECT_FALSE(status.comparison);
  }
}

TEST(JudgeComparison, RoundingBelowZeroIsZero) {
  // count - bucket of two extrapolated increases may miss zero by a rounding error.
  const api::MetricStatus status = Judged(Counts(-1e-9, 5000, 0, 5000));
  EXPECT_NE(status.verdict, Verdict::kError) << status.message;
  EXPECT_EQ(status.comparison->canary.events, "0");
}

}  // namespace
}  // namespace agentrollout::analysis
