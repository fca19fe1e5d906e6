#include "analysis/judge/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace agentrollout::analysis::judge {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Interval Sequence(Counts canary, Counts stable, double confidence = 0.95,
                  double tuned_for_total = kDefaultTunedForTotal) {
  Result<Interval> interval = ConfidenceSequence(canary, stable, confidence, tuned_for_total);
  EXPECT_TRUE(interval.ok()) << interval.error().ToString();
  return interval.ok() ? *interval : Interval{};
}

double Width(Interval interval) { return interval.high - interval.low; }

// The reference test (tests/judge/reference.py) checks a grid against scipy; this pins one
// value it computed, so a change of the formula fails here first, without Python:
// 30/1,000 canary vs 100/10,000 stable at 95 %, t* = 10,000.
TEST(ConfidenceSequenceTest, MatchesTheScipyReferenceValue) {
  Interval interval = Sequence({30, 1000}, {100, 10000});
  EXPECT_DOUBLE_EQ(interval.estimate, 0.02);
  EXPECT_NEAR(interval.low, 0.002259515258869131, 1e-12);
  EXPECT_NEAR(interval.high, 0.03774048474113086, 1e-12);
}

TEST(ConfidenceSequenceTest, IsWiderThanTheFixedSampleIntervalItReplaces) {
  // The Wald interval at 95 %: 1.96 standard errors; the sequence pays for peeking.
  const Counts canary{30, 1000};
  const Counts stable{100, 10000};
  const double wald_half_width = 1.96 * std::sqrt(0.03 * 0.97 / 1000 + 0.01 * 0.99 / 10000);
  EXPECT_GT(Width(Sequence(canary, stable)), 2 * wald_half_width);
}

TEST(ConfidenceSequenceTest, SwappingVersionsMirrorsTheInterval) {
  Interval forward = Sequence({12, 400}, {80, 7600});
  Interval backward = Sequence({80, 7600}, {12, 400});
  EXPECT_NEAR(forward.low, -backward.high, 1e-15);
  EXPECT_NEAR(forward.high, -backward.low, 1e-15);
}

TEST(ConfidenceSequenceTest, NarrowsAsCountsGrowAndWidensWithConfidence) {
  double previous = 2;
  for (double scale : {1.0, 10.0, 100.0, 1000.0}) {
    const double width = Width(Sequence({2 * scale, 100 * scale}, {20 * scale, 1000 * scale}));
    EXPECT_LT(width, previous) << "at scale " << scale;
    previous = width;
  }
  const Counts canary{20, 1000};
  const Counts stable{200, 10000};
  EXPECT_LT(Width(Sequence(canary, stable, 0.8)), Width(Sequence(canary, stable, 0.95)));
  EXPECT_LT(Width(Sequence(canary, stable, 0.95)), Width(Sequence(canary, stable, 0.999)));
}

TEST(ConfidenceSequenceTest, IsNarrowestWhereItIsTuned) {
  const Counts canary{40, 2000};
  const Counts stable{380, 18000};  // t = 20,000
  const double tuned_here = Width(Sequence(canary, stable, 0.95, 20000));
  EXPECT_LT(tuned_here, Width(Sequence(canary, stable, 0.95, 10000)));
  EXPECT_LT(tuned_here, Width(Sequence(canary, stable, 0.95, 40000)));
}

TEST(ConfidenceSequenceTest, NoEventsIsNotCertainty) {
  // 0 of 150 and 0 of 2,850: the plug-in variance would be 0; the interval must not be.
  Interval interval = Sequence({0, 150}, {0, 2850});
  EXPECT_EQ(interval.estimate, 0);
  EXPECT_LT(interval.low, -0.01);
  EXPECT_GT(interval.high, 0.01);
}

TEST(ConfidenceSequenceTest, AVersionWithoutRequestsKnowsNothing) {
  Interval interval = Sequence({0, 0}, {10, 1000});
  EXPECT_EQ(interval.low, -1);
  EXPECT_EQ(interval.high, 1);
}

TEST(ConfidenceSequenceTest, StaysInsideMinusOneToOne) {
  Interval interval = Sequence({1, 1}, {0, 1});
  EXPECT_GE(interval.low, -1);
  EXPECT_LE(interval.high, 1);
  EXPECT_EQ(interval.high, 1);
}

TEST(ConfidenceSequenceTest, TakesFractionalCountsAsPrometheusExtrapolatesThem) {
  Interval interval = Sequence({10.4, 997.2}, {99.9, 10003.7});
  EXPECT_NEAR(interval.estimate, 10.4 / 997.2 - 99.9 / 10003.7, 1e-15);
}

TEST(ConfidenceSequenceTest, EventsARoundingErrorAboveTotalCountAsTotal) {
  Result<Interval> interval =
      ConfidenceSequence({1000.0000000001, 1000}, {0, 1000}, 0.95, kDefaultTunedForTotal);
  ASSERT_TRUE(interval.ok()) << interval.error().ToString();
  EXPECT_DOUBLE_EQ(interval->estimate, 1);
}

struct BadInput {
  Counts canary;
  Counts stable;
  double confidence;
  double tuned_for_total;
  const char* message;
};

class ConfidenceSequenceBadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(ConfidenceSequenceBadInputTest, IsAnErrorNamingTheFieldAndValue) {
  const BadInput& bad = GetParam();
  Result<Interval> interval =
      ConfidenceSequence(bad.canary, bad.stable, bad.confidence, bad.tuned_for_total);
  ASSERT_FALSE(interval.ok());
  EXPECT_EQ(interval.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(interval.error().message(), HasSubstr(bad.message));
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, ConfidenceSequenceBadInputTest,
    ::testing::Values(
        BadInput{{-1, 10}, {0, 10}, 0.95, 1e4, "canary events -1 is negative"},
        BadInput{{0, -10}, {0, 10}, 0.95, 1e4, "canary total -10 is negative"},
        BadInput{{0, 10}, {kNaN, 10}, 0.95, 1e4, "stable events nan is not a number"},
        BadInput{{0, 10}, {0, kInf}, 0.95, 1e4, "stable total inf is not a number"},
        BadInput{{0, 10}, {0, -kInf}, 0.95, 1e4, "stable total -inf is not a number"},
        BadInput{{11, 10}, {0, 10}, 0.95, 1e4, "canary events 11 > total 10"},
        BadInput{{0, 10}, {5, 4.5}, 0.95, 1e4, "stable events 5 > total 4.5"},
        BadInput{{0, 1e17}, {0, 10}, 0.95, 1e4, "canary total 1e+17 is above 2^53"},
        BadInput{{0, 10}, {0, 10}, 0.5, 1e4, "confidence 0.5 is not in [0.8, 0.999]"},
        BadInput{{0, 10}, {0, 10}, 1, 1e4, "confidence 1 is not in [0.8, 0.999]"},
        BadInput{{0, 10}, {0, 10}, kNaN, 1e4, "confidence nan is not in [0.8, 0.999]"},
        BadInput{{0, 10}, {0, 10}, 0.95, 0, "tunedForTotal 0 is not a positive number"},
        BadInput{{0, 10}, {0, 10}, 0.95, kNaN, "tunedForTotal nan is not a positive"}));

Comparison DocsExample() {
  // API.md §3.3: go "< 0.005", noGo "> 0.02", confidence 0.95, minTotal 200.
  Comparison comparison;
  comparison.go = {Op::kLess, 0.005};
  comparison.no_go = {Op::kGreater, 0.02};
  comparison.min_total = 200;
  return comparison;
}

Judgement Judged(const Comparison& comparison, Counts canary, Counts stable) {
  Result<Judgement> judgement = Judge(comparison, canary, stable);
  EXPECT_TRUE(judgement.ok()) << judgement.error().ToString();
  return judgement.ok() ? *judgement : Judgement{};
}

TEST(JudgeTest, NoGoWhenTheWholeIntervalIsAboveTheNoGoLine) {
  // 10 % against 1 %: the interval is far above +2 points.
  Judgement judgement = Judged(DocsExample(), {500, 5000}, {950, 95000});
  EXPECT_GT(judgement.interval.low, 0.02);
  EXPECT_EQ(judgement.verdict, Verdict::kNoGo);
}

TEST(JudgeTest, GoWhenTheWholeIntervalIsBelowTheGoLine) {
  Judgement judgement = Judged(DocsExample(), {1000, 100000}, {10000, 1000000});
  EXPECT_LT(judgement.interval.high, 0.005);
  EXPECT_EQ(judgement.verdict, Verdict::kGo);
}

TEST(JudgeTest, HoldWhileTheIntervalCrossesALine) {
  Judgement judgement = Judged(DocsExample(), {3, 300}, {57, 5700});
  EXPECT_LT(judgement.interval.low, 0.005);
  EXPECT_GT(judgement.interval.high, 0.005);
  EXPECT_EQ(judgement.verdict, Verdict::kHold);
}

TEST(JudgeTest, HoldWhileAVersionHasFewerThanMinTotalAndSaysHowManyMore) {
  // The interval is entirely above the noGo line, but stable has only 60 requests.
  Judgement judgement = Judged(DocsExample(), {900, 1000}, {0, 60});
  EXPECT_GT(judgement.interval.low, 0.02);
  EXPECT_EQ(judgement.verdict, Verdict::kHold);
  EXPECT_EQ(judgement.canary_needs, 0);
  EXPECT_EQ(judgement.stable_needs, 140);
  EXPECT_EQ(Judged(DocsExample(), {0, 199.5}, {0, 1000}).canary_needs, 1);
}

TEST(JudgeTest, StrictAndInclusiveLinesDifferOnlyOnTheLine) {
  // All of a billion canary calls fail and none of stable's: the interval is clipped at 1.
  Comparison comparison;
  comparison.min_total = 1;
  comparison.no_go = {Op::kGreater, 1};
  comparison.go = {Op::kLessEqual, 1};
  EXPECT_EQ(Judged(comparison, {1e9, 1e9}, {0, 1e9}).interval.high, 1);
  EXPECT_EQ(Judged(comparison, {1e9, 1e9}, {0, 1e9}).verdict, Verdict::kGo);
  comparison.go = {Op::kLess, 1};
  EXPECT_EQ(Judged(comparison, {1e9, 1e9}, {0, 1e9}).verdict, Verdict::kHold);
  // And the mirror image, clipped at -1.
  comparison.go = {Op::kLess, -1};
  comparison.no_go = {Op::kGreaterEqual, -1};
  EXPECT_EQ(Judged(comparison, {0, 1e9}, {1e9, 1e9}).interval.low, -1);
  EXPECT_EQ(Judged(comparison, {0, 1e9}, {1e9, 1e9}).verdict, Verdict::kNoGo);
  comparison.no_go = {Op::kGreater, -1};
  EXPECT_EQ(Judged(comparison, {0, 1e9}, {1e9, 1e9}).verdict, Verdict::kHold);
}

TEST(JudgeTest, NoGoWinsWhenBothLinesHold) {
  Comparison comparison;
  comparison.go = {Op::kLess, 0.5};
  comparison.no_go = {Op::kGreater, 0.01};
  EXPECT_EQ(Judged(comparison, {2000, 10000}, {100, 10000}).verdict, Verdict::kNoGo);
}

TEST(JudgeTest, ZeroMeansTheDefaultTuning) {
  Comparison comparison = DocsExample();
  Judgement by_default = Judged(comparison, {30, 1000}, {100, 10000});
  comparison.tuned_for_total = kDefaultTunedForTotal;
  Judgement explicitly = Judged(comparison, {30, 1000}, {100, 10000});
  EXPECT_EQ(by_default.interval.low, explicitly.interval.low);
  EXPECT_EQ(by_default.interval.high, explicitly.interval.high);
}

TEST(JudgeTest, RejectsLinesPointingTheWrongWay) {
  Comparison comparison = DocsExample();
  comparison.go = {Op::kGreater, 0.005};
  Result<Judgement> judgement = Judge(comparison, {0, 1000}, {0, 1000});
  ASSERT_FALSE(judgement.ok());
  EXPECT_EQ(judgement.error().message(), "go must be < or <=");

  comparison = DocsExample();
  comparison.no_go = {Op::kLessEqual, 0.02};
  judgement = Judge(comparison, {0, 1000}, {0, 1000});
  ASSERT_FALSE(judgement.ok());
  EXPECT_EQ(judgement.error().message(), "noGo must be > or >=");
}

TEST(JudgeTest, RejectsLinesAndMinTotalThatAreNotNumbers) {
  Comparison comparison = DocsExample();
  comparison.no_go.value = kNaN;
  Result<Judgement> judgement = Judge(comparison, {0, 1000}, {0, 1000});
  ASSERT_FALSE(judgement.ok());
  EXPECT_EQ(judgement.error().message(), "noGo nan is not a number");

  comparison = DocsExample();
  comparison.min_total = 0;
  judgement = Judge(comparison, {0, 1000}, {0, 1000});
  ASSERT_FALSE(judgement.ok());
  EXPECT_EQ(judgement.error().message(), "minTotal 0 is not at least 1");
}

TEST(JudgeTest, PassesCountErrorsOn) {
  Result<Judgement> judgement = Judge(DocsExample(), {12, 10}, {0, 1000});
  ASSERT_FALSE(judgement.ok());
  EXPECT_EQ(judgement.error().message(), "canary events 12 > total 10");
}

}  // namespace
}  // namespace agentrollout::analysis::judge
