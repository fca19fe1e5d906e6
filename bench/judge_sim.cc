#include "bench/judge_sim.h"

#include <algorithm>
#include <cmath>

namespace agentrollout::bench {
namespace {

using analysis::judge::Counts;
using analysis::judge::Interval;

// The two-sided 95 % normal quantile of the naive interval.
constexpr double kNaiveZ = 1.959963984540054;

// The interval a per-interval two-proportion z-test uses: d_hat +- z * unpooled SE, as if
// this evaluation were the only one.
Interval NaiveInterval(Counts canary, Counts stable) {
  const double pc = canary.events / canary.total;
  const double ps = stable.events / stable.total;
  const double se = std::sqrt(pc * (1 - pc) / canary.total + ps * (1 - ps) / stable.total);
  return {pc - ps, pc - ps - kNaiveZ * se, pc - ps + kNaiveZ * se};
}

void Record(int interval, bool happened, int& first) {
  if (happened && first == 0) first = interval;
}

void Cross(int interval, Interval bounds, double truth, const JudgePolicy& policy,
           Crossings& crossings) {
  Record(interval, bounds.low > truth || bounds.high < truth, crossings.excludes_truth);
  for (size_t i = 0; i < policy.no_go_lines.size(); ++i) {
    Record(interval, bounds.low > policy.no_go_lines[i], crossings.no_go[i]);
  }
  for (size_t i = 0; i < policy.go_lines.size(); ++i) {
    Record(interval, bounds.high < policy.go_lines[i], crossings.go[i]);
  }
}

}  // namespace

std::mt19937_64 CellRandom(uint64_t seed, uint64_t cell) {
  std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                         static_cast<uint32_t>(cell), static_cast<uint32_t>(cell >> 32)};
  return std::mt19937_64(sequence);
}

PhaseOutcome SimulatePhase(const JudgeScenario& scenario, const JudgePolicy& policy,
                           std::mt19937_64& random, std::vector<TracePoint>* trace) {
  PhaseOutcome outcome;
  for (Crossings* c : {&outcome.sequence, &outcome.naive}) {
    c->no_go.assign(policy.no_go_lines.size(), 0);
    c->go.assign(policy.go_lines.size(), 0);
  }
  const auto per_interval =
      static_cast<int64_t>(std::llround(scenario.requests_per_second * scenario.interval_seconds));
  const double truth = scenario.canary_rate - scenario.stable_rate;
  std::binomial_distribution<int64_t> binomial;
  using Trials = std::binomial_distribution<int64_t>::param_type;
  Counts canary;
  Counts stable;
  for (int interval = 1; interval <= scenario.intervals; ++interval) {
    const int64_t to_canary = binomial(random, Trials(per_interval, scenario.canary_share));
    const int64_t to_stable = per_interval - to_canary;
    canary.total += static_cast<double>(to_canary);
    stable.total += static_cast<double>(to_stable);
    canary.events += static_cast<double>(binomial(random, Trials(to_canary, scenario.canary_rate)));
    stable.events += static_cast<double>(binomial(random, Trials(to_stable, scenario.stable_rate)));
    if (canary.total == 0 || stable.total == 0) continue;

    Result<Interval> sequence = analysis::judge::ConfidenceSequence(
        canary, stable, policy.confidence, policy.tuned_for_total);
    if (!sequence.ok()) continue;  // the inputs above are always valid
    const Interval naive = NaiveInterval(canary, stable);
    if (trace != nullptr) trace->push_back({interval, canary, stable, *sequence, naive});
    if (canary.total < policy.min_total || stable.total < policy.min_total) {
      Record(interval, sequence->low > truth || sequence->high < truth,
             outcome.sequence_excludes_truth_before_min_total);
      continue;
    }
    Cross(interval, *sequence, truth, policy, outcome.sequence);
    Cross(interval, naive, truth, policy, outcome.naive);
  }
  return outcome;
}

}  // namespace agentrollout::bench
