#include "controllers/rollout/status_refresh.h"

#include <gtest/gtest.h>

#include "controllers/rollout/test_support.h"

namespace agentrollout::controllers {
namespace {

using api::Verdict;
using namespace fixtures;  // NOLINT: the builders of test_support.h

constexpr StatusRefresh kEvery5m{minutes(5), 0.1};

// status.analysis after folding `evaluation` into a quiet one.
api::AnalysisStatus Folded(const api::Evaluation& evaluation) {
  api::AnalysisStatus status;
  status.last_evaluated = evaluation.at;
  status.metrics = evaluation.metrics;
  return status;
}

// Go's values with latency-p95-ms at `latency` (still Go under 800).
api::AnalysisStatus GoWithLatency(api::Timestamp at, const std::string& latency) {
  api::Evaluation evaluation = Go(at);
  evaluation.metrics[1] = Metric("latency-p95-ms", Verdict::kGo, latency);
  return Folded(evaluation);
}

TEST(StatusRefreshTest, NothingNewIsNeverWorthWriting) {
  const api::AnalysisStatus status = Folded(Go(At()));
  EXPECT_FALSE(AnalysisWorthWriting(status, status, kEvery5m));
  EXPECT_FALSE(AnalysisWorthWriting(status, status, {}));
}

TEST(StatusRefreshTest, ZeroIntervalWritesEveryEvaluation) {
  EXPECT_TRUE(AnalysisWorthWriting(Folded(Go(At())), Folded(Go(At(minutes(1)))), {}));
}

TEST(StatusRefreshTest, ASteadyEvaluationWaitsUntilTheIntervalHasPassed) {
  const api::AnalysisStatus persisted = GoWithLatency(At(), "640");
  EXPECT_FALSE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(1)), "650"), kEvery5m));
  EXPECT_FALSE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(4) + seconds(59)), "630"),
                                    kEvery5m));
  EXPECT_TRUE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(5)), "640"), kEvery5m));
}

TEST(StatusRefreshTest, ValuesMovingByMoreThanTheFractionOfTheirScaleAreWrittenAtOnce) {
  // latency's scale is its noGo line 1200: 10% is 120.
  const api::AnalysisStatus persisted = GoWithLatency(At(), "640");
  EXPECT_FALSE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(1)), "760"), kEvery5m));
  EXPECT_TRUE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(1)), "761"), kEvery5m));
  EXPECT_TRUE(AnalysisWorthWriting(persisted, GoWithLatency(At(minutes(1)), "519"), kEvery5m));
  // A value above every line is its own scale.
  api::Evaluation high = Go(At());
  high.metrics[1].go = "< 8";
  high.metrics[1].no_go = "> 12";
  high.metrics[1].value = "100";
  api::Evaluation higher = high;
  higher.at = At(minutes(1));
  higher.metrics[1].value = "109";
  EXPECT_FALSE(AnalysisWorthWriting(Folded(high), Folded(higher), kEvery5m));
  higher.metrics[1].value = "111";
  EXPECT_TRUE(AnalysisWorthWriting(Folded(high), Folded(higher), kEvery5m));
}

TEST(StatusRefreshTest, AValueNearZeroIsMeasuredAgainstItsLines) {
  // error-rate's lines: go < 0.02, noGo > 0.05, abort > 0.5: the scale is 0.5.
  api::Evaluation zero = Go(At());
  zero.metrics[0] = Metric("error-rate", Verdict::kGo, "0");
  api::Evaluation small = Go(At(minutes(1)));
  small.metrics[0] = Metric("error-rate", Verdict::kGo, "0.0131");
  EXPECT_FALSE(AnalysisWorthWriting(Folded(zero), Folded(small), kEvery5m));
  // Without lines or value to scale by, any change of the number is news.
  zero.metrics[0].go = zero.metrics[0].no_go = zero.metrics[0].abort = "";
  small.metrics[0].go = small.metrics[0].no_go = small.metrics[0].abort = "";
  EXPECT_TRUE(AnalysisWorthWriting(Folded(zero), Folded(small), kEvery5m));
}

TEST(StatusRefreshTest, AMetricChangingZoneIsWrittenAtOnce) {
  const api::AnalysisStatus go = Folded(Go(At()));
  api::AnalysisStatus hold = Folded(Hold(At(minutes(1))));
  EXPECT_TRUE(AnalysisWorthWriting(go, hold, kEvery5m));
  // Even a small move that crosses a line: 799 Go, 801 Hold.
  api::AnalysisStatus below = GoWithLatency(At(), "799");
  api::AnalysisStatus above = below;
  above.last_evaluated = At(minutes(1));
  above.metrics[1] = Metric("latency-p95-ms", Verdict::kHold, "801");
  EXPECT_TRUE(AnalysisWorthWriting(below, above, kEvery5m));
}

TEST(StatusRefreshTest, CountersAreWrittenAtOnce) {
  api::AnalysisStatus persisted = Folded(Errored(At()));
  persisted.consecutive_errors = 1;
  api::AnalysisStatus next = Folded(Errored(At(minutes(1))));
  next.consecutive_errors = 2;
  EXPECT_TRUE(AnalysisWorthWriting(persisted, next, kEvery5m));
  api::AnalysisStatus no_go = Folded(NoGo(At()));
  no_go.consecutive_no_go = 1;
  api::AnalysisStatus again = Folded(NoGo(At(minutes(1))));
  again.consecutive_no_go = 2;
  EXPECT_TRUE(AnalysisWorthWriting(no_go, again, kEvery5m));
}

TEST(StatusRefreshTest, DataAppearingOrGoingAndNewLinesAreWrittenAtOnce) {
  const api::AnalysisStatus persisted = GoWithLatency(At(), "640");
  api::AnalysisStatus no_data = persisted;
  no_data.last_evaluated = At(minutes(1));
  no_data.metrics[1].value = "";
  no_data.metrics[1].message = "no data";
  EXPECT_TRUE(AnalysisWorthWriting(persisted, no_data, kEvery5m));
  EXPECT_TRUE(AnalysisWorthWriting(no_data, persisted, kEvery5m));

  api::AnalysisStatus other_message = no_data;
  other_message.metrics[1].message = "query returned 2 series";
  EXPECT_TRUE(AnalysisWorthWriting(no_data, other_message, kEvery5m));

  api::AnalysisStatus new_line = persisted;
  new_line.last_evaluated = At(minutes(1));
  new_line.metrics[1].go = "< 700";
  EXPECT_TRUE(AnalysisWorthWriting(persisted, new_line, kEvery5m));

  api::AnalysisStatus fewer = persisted;
  fewer.last_evaluated = At(minutes(1));
  fewer.metrics.pop_back();
  EXPECT_TRUE(AnalysisWorthWriting(persisted, fewer, kEvery5m));
}

TEST(StatusRefreshTest, AFirstOrAnOlderEvaluationIsWritten) {
  api::AnalysisStatus never;
  EXPECT_TRUE(AnalysisWorthWriting(never, Folded(Go(At())), kEvery5m));
  EXPECT_TRUE(AnalysisWorthWriting(Folded(Go(At(minutes(1)))), Folded(Go(At())), kEvery5m));
}

TEST(StatusRefreshTest, ComparisonIntervalsFollowTheValueRuleAndCountsWait) {
  api::MetricStatus judged;
  judged.name = "error-rate-vs-stable";
  judged.go = "< 0.005";
  judged.no_go = "> 0.02";
  judged.verdict = Verdict::kGo;
  judged.value = "0.001";
  judged.message = "canary - stable 0.001 is < 0.005 (go)";
  judged.comparison = api::ComparisonStatus{"-0.002", "0.004", {"10", "3000"}, {"9", "3100"}};
  api::AnalysisStatus persisted;
  persisted.last_evaluated = At();
  persisted.metrics = {judged};

  api::AnalysisStatus more_calls = persisted;
  more_calls.last_evaluated = At(minutes(1));
  more_calls.metrics[0].value = "0.0012";
  more_calls.metrics[0].message = "canary - stable 0.0012 is < 0.005 (go)";
  more_calls.metrics[0].comparison = {"-0.0015", "0.0039", {"12", "3600"}, {"11", "3700"}};
  EXPECT_FALSE(AnalysisWorthWriting(persisted, more_calls, kEvery5m));

  // The interval's upper bound moved by 0.0025 > 10% of the scale 0.02.
  api::AnalysisStatus wider = more_calls;
  wider.metrics[0].comparison->high = "0.0065";
  EXPECT_TRUE(AnalysisWorthWriting(persisted, wider, kEvery5m));

  api::AnalysisStatus without = more_calls;
  without.metrics[0].comparison.reset();
  EXPECT_TRUE(AnalysisWorthWriting(persisted, without, kEvery5m));
}

}  // namespace
}  // namespace agentrollout::controllers
