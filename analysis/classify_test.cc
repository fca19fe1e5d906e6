#include "analysis/classify.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace agentrollout::analysis {
namespace {

using api::CompareOp;
using api::Verdict;

api::MetricSpec ErrorRate() {
  api::MetricSpec metric;
  metric.name = "error-rate";
  metric.query = "q";
  metric.go = {CompareOp::kLess, 0.02};
  metric.no_go = {CompareOp::kGreater, 0.05};
  metric.abort = api::Threshold{CompareOp::kGreater, 0.5};
  return metric;
}

Result<QueryResult> Value(double value) {
  return QueryResult{QueryResult::Type::kVector, {Sample{{{"version", "v2"}}, value}}, {}};
}
Result<QueryResult> Scalar(double value) {
  return QueryResult{QueryResult::Type::kScalar, {Sample{{}, value}}, {}};
}
Result<QueryResult> NoData() { return QueryResult{}; }

struct ClassifyCase {
  std::string what;
  Result<QueryResult> outcome;
  api::NoDataPolicy no_data;
  Verdict verdict;
  std::string value;
  std::string message;
};

TEST(Classify, Table) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  QueryResult two_series{
      QueryResult::Type::kVector, {Sample{{{"a", "1"}}, 1}, Sample{{{"a", "2"}}, 2}}, {}};
  const std::vector<ClassifyCase> cases = {
      {"go", Value(0.0131), api::NoDataPolicy::kHold, Verdict::kGo, "0.0131", ""},
      {"go scalar", Scalar(0), api::NoDataPolicy::kHold, Verdict::kGo, "0", ""},
      {"grey zone", Value(0.03), api::NoDataPolicy::kHold, Verdict::kHold, "0.03",
       "0.03 is not < 0.02 (go)"},
      {"on the go line", Value(0.02), api::NoDataPolicy::kHold, Verdict::kHold, "0.02",
       "0.02 is not < 0.02 (go)"},
      {"on the noGo line", Value(0.05), api::NoDataPolicy::kHold, Verdict::kHold, "0.05",
       "0.05 is not < 0.02 (go)"},
      {"nogo", Value(0.071), api::NoDataPolicy::kHold, Verdict::kNoGo, "0.071",
       "0.071 is > 0.05 (noGo)"},
      {"abort", Value(0.71), api::NoDataPolicy::kHold, Verdict::kNoGo, "0.71",
       "0.71 is > 0.5 (abort)"},
      {"message rounded, value exact", Value(1349.6666666666663), api::NoDataPolicy::kHold,
       Verdict::kNoGo, "1349.6666666666663", "1350 is > 0.5 (abort)"},
      {"rounding never crosses the line", Value(0.050004), api::NoDataPolicy::kHold, Verdict::kNoGo,
       "0.050004", "0.050004 is > 0.05 (noGo)"},
      {"no data, hold", NoData(), api::NoDataPolicy::kHold, Verdict::kHold, "", "no data"},
      {"no data, nogo", NoData(), api::NoDataPolicy::kNoGo, Verdict::kNoGo, "", "no data"},
      {"NaN", Value(nan), api::NoDataPolicy::kHold, Verdict::kError, "NaN",
       "value NaN is not a number"},
      {"+Inf", Value(inf), api::NoDataPolicy::kHold, Verdict::kError, "+Inf",
       "value +Inf is not a number"},
      {"-Inf", Scalar(-inf), api::NoDataPolicy::kHold, Verdict::kError, "-Inf",
       "value -Inf is not a number"},
      {"two series", two_series, api::NoDataPolicy::kHold, Verdict::kError, "",
       "query returned 2 series; it must return one (aggregate with sum, max, ...)"},
      {"query failed", Unavailable("Prometheus at http://p is unreachable: refused"),
       api::NoDataPolicy::kHold, Verdict::kError, "",
       "Prometheus at http://p is unreachable: refused"},
  };
  for (const ClassifyCase& c : cases) {
    const api::MetricStatus status = Classify(ErrorRate(), c.no_data, c.outcome);
    EXPECT_EQ(status.verdict, c.verdict) << c.what;
    EXPECT_EQ(status.value, c.value) << c.what;
    EXPECT_EQ(status.message, c.message) << c.what;
    EXPECT_EQ(status.name, "error-rate");
    EXPECT_EQ(status.go, "< 0.02");
    EXPECT_EQ(status.no_go, "> 0.05");
    EXPECT_EQ(status.abort, "> 0.5");
    EXPECT_FALSE(status.dry_run);
  }
}

TEST(Classify, NoGoWinsOverAnOverlappingGoLine) {
  api::MetricSpec metric = ErrorRate();
  metric.go = {CompareOp::kLess, 1};  // overlaps noGo: validation rejects it, classify stays safe
  EXPECT_EQ(Classify(metric, api::NoDataPolicy::kHold, Value(0.07)).verdict, Verdict::kNoGo);
}

TEST(Classify, WithoutAbortLine) {
  api::MetricSpec metric = ErrorRate();
  metric.abort.reset();
  const api::MetricStatus status = Classify(metric, api::NoDataPolicy::kHold, Value(0.9));
  EXPECT_EQ(status.verdict, Verdict::kNoGo);
  EXPECT_EQ(status.message, "0.9 is > 0.05 (noGo)");
  EXPECT_EQ(status.abort, "");
}

TEST(Classify, DryRunIsClassifiedAndMarked) {
  api::MetricSpec metric = ErrorRate();
  metric.dry_run = true;
  const api::MetricStatus status = Classify(metric, api::NoDataPolicy::kHold, Value(0.9));
  EXPECT_EQ(status.verdict, Verdict::kNoGo);
  EXPECT_TRUE(status.dry_run);
}

TEST(Classify, WarningsAreShown) {
  QueryResult result{QueryResult::Type::kVector, {Sample{{}, 0.03}}, {"results truncated"}};
  EXPECT_EQ(Classify(ErrorRate(), api::NoDataPolicy::kHold, result).message,
            "0.03 is not < 0.02 (go); Prometheus warned: results truncated");
  result.samples[0].value = 0.01;
  EXPECT_EQ(Classify(ErrorRate(), api::NoDataPolicy::kHold, result).message,
            "Prometheus warned: results truncated");
}

api::MetricStatus Metric(Verdict verdict, bool dry_run = false) {
  api::MetricStatus status;
  status.verdict = verdict;
  status.dry_run = dry_run;
  return status;
}

TEST(TableVerdict, Precedence) {
  using V = Verdict;
  EXPECT_EQ(TableVerdict({}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kGo), Metric(V::kGo)}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kGo), Metric(V::kHold)}), V::kHold);
  EXPECT_EQ(TableVerdict({Metric(V::kHold), Metric(V::kError)}), V::kError);
  EXPECT_EQ(TableVerdict({Metric(V::kError), Metric(V::kNoGo), Metric(V::kHold)}), V::kNoGo);
  EXPECT_EQ(TableVerdict({Metric(V::kNoGo), Metric(V::kGo)}), V::kNoGo);
}

TEST(TableVerdict, DryRunNeverCounts) {
  using V = Verdict;
  EXPECT_EQ(TableVerdict({Metric(V::kGo), Metric(V::kNoGo, true)}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kGo), Metric(V::kError, true)}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kGo), Metric(V::kHold, true)}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kNoGo, true)}), V::kGo);
  EXPECT_EQ(TableVerdict({Metric(V::kHold), Metric(V::kNoGo, true)}), V::kHold);
}

TEST(HitsAbort, OnlyANonDryRunNoGoPastTheAbortLine) {
  const api::MetricSpec metric = ErrorRate();
  EXPECT_TRUE(HitsAbort(metric, Classify(metric, api::NoDataPolicy::kHold, Value(0.71))));
  EXPECT_FALSE(HitsAbort(metric, Classify(metric, api::NoDataPolicy::kHold, Value(0.5))));
  EXPECT_FALSE(HitsAbort(metric, Classify(metric, api::NoDataPolicy::kNoGo, NoData())));
  // The value shown in status parses back exactly, so a value just past the line counts.
  const double just_past = std::nextafter(0.5, 1.0);
  EXPECT_TRUE(HitsAbort(metric, Classify(metric, api::NoDataPolicy::kHold, Value(just_past))));
  api::MetricSpec dry = metric;
  dry.dry_run = true;
  EXPECT_FALSE(HitsAbort(dry, Classify(dry, api::NoDataPolicy::kHold, Value(0.9))));
  api::MetricSpec no_abort = metric;
  no_abort.abort.reset();
  EXPECT_FALSE(HitsAbort(no_abort, Classify(metric, api::NoDataPolicy::kHold, Value(0.9))));
}

}  // namespace
}  // namespace agentrollout::analysis
