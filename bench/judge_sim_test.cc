#include "bench/judge_sim.h"

#include <gtest/gtest.h>

namespace agentrollout::bench {
namespace {

// The share of `phases` phases in which `crossed` picks a crossing.
template <typename Crossed>
double Share(const JudgeScenario& scenario, const JudgePolicy& policy, int phases,
             Crossed crossed) {
  std::mt19937_64 random = CellRandom(7, 0);
  int hits = 0;
  for (int i = 0; i < phases; ++i) {
    if (crossed(SimulatePhase(scenario, policy, random)) != 0) ++hits;
  }
  return static_cast<double>(hits) / phases;
}

TEST(JudgeSimTest, PeekingInflatesTheNaiveIntervalButNotTheSequence) {
  // 2 % in both, 10 % canary, 50 rps, 48 looks: the naive interval excludes the true 0 in
  // roughly a quarter of the phases; the sequence stays near or below 5 %.
  const JudgeScenario scenario{0.02, 0.02, 0.10, 50, 60, 48};
  const JudgePolicy policy;
  const double naive =
      Share(scenario, policy, 400, [](const PhaseOutcome& o) { return o.naive.excludes_truth; });
  const double sequence =
      Share(scenario, policy, 400, [](const PhaseOutcome& o) { return o.sequence.excludes_truth; });
  EXPECT_GT(naive, 0.12);
  EXPECT_LT(sequence, 0.06);
}

TEST(JudgeSimTest, AFivefoldErrorRateIsCaughtWithinThePhase) {
  JudgeScenario scenario{0.01, 0.05, 0.25, 50, 60, 48};
  JudgePolicy policy;
  policy.no_go_lines = {0.02};
  const double caught =
      Share(scenario, policy, 100, [](const PhaseOutcome& o) { return o.sequence.no_go[0]; });
  EXPECT_EQ(caught, 1.0);
}

TEST(JudgeSimTest, NothingIsJudgedBeforeMinTotal) {
  // 10 rps at 5 %: 30 canary calls a minute, so min_total 200 takes 7 intervals.
  JudgeScenario scenario{0.01, 0.9, 0.05, 10, 60, 48};
  JudgePolicy policy;
  policy.no_go_lines = {0};
  std::mt19937_64 random = CellRandom(7, 1);
  std::vector<TracePoint> trace;
  const PhaseOutcome outcome = SimulatePhase(scenario, policy, random, &trace);
  ASSERT_GT(outcome.sequence.no_go[0], 0);
  const TracePoint& first = trace[outcome.sequence.no_go[0] - 1];
  EXPECT_EQ(first.interval, outcome.sequence.no_go[0]);
  EXPECT_GE(first.canary.total, policy.min_total);
  EXPECT_LT(trace[first.interval - 2].canary.total, policy.min_total);
}

TEST(JudgeSimTest, TheSameSeedGivesTheSamePhases) {
  const JudgeScenario scenario{0.02, 0.03, 0.05, 10, 60, 48};
  std::mt19937_64 a = CellRandom(20, 3);
  std::mt19937_64 b = CellRandom(20, 3);
  std::vector<TracePoint> first, second;
  SimulatePhase(scenario, JudgePolicy{}, a, &first);
  SimulatePhase(scenario, JudgePolicy{}, b, &second);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].canary.events, second[i].canary.events);
    EXPECT_EQ(first[i].stable.total, second[i].stable.total);
  }
}

}  // namespace
}  // namespace agentrollout::bench
