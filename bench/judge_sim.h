// The judge's simulation (docs/judge.md): phases of canary and stable traffic with known
// true rates, evaluated every interval with the judge's confidence sequence and, side by
// side, with the naive fixed-sample interval a per-interval z-test would use.
//
// Traffic model: every interval carries requests_per_second * interval_seconds requests;
// each one goes to the canary with probability canary_share and fails (or is slow) with
// its version's true rate, independently: counts are binomial. The judge sees the
// cumulative counts at the end of each interval, as it would from Prometheus.
// Seeded std::mt19937_64 and libstdc++'s binomial_distribution: the same seed gives the
// same numbers with the same standard library.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "analysis/judge/judge.h"

namespace agentrollout::bench {

struct JudgeScenario {
  double stable_rate = 0.01;
  double canary_rate = 0.01;
  double canary_share = 0.05;
  double requests_per_second = 50;
  double interval_seconds = 60;
  int intervals = 48;
};

// What is asked of both methods at every evaluation where both versions have min_total.
struct JudgePolicy {
  double confidence = 0.95;
  double min_total = 200;
  double tuned_for_total = analysis::judge::kDefaultTunedForTotal;
  std::vector<double> no_go_lines;  // No-Go when low > line
  std::vector<double> go_lines;     // Go when high < line
};

// The first interval (1-based) at which something happened in a phase; 0 = never.
struct Crossings {
  int excludes_truth = 0;  // the interval excluded the true difference
  std::vector<int> no_go;  // per JudgePolicy::no_go_lines
  std::vector<int> go;     // per JudgePolicy::go_lines
};

struct PhaseOutcome {
  Crossings sequence;  // the judge's confidence sequence
  Crossings naive;     // a fresh 95 % Wald interval at every evaluation
  // The sequence excluded the truth at an evaluation before min_total (not acted on).
  int sequence_excludes_truth_before_min_total = 0;
};

// One evaluation of a phase, for plots.
struct TracePoint {
  int interval = 0;
  analysis::judge::Counts canary;
  analysis::judge::Counts stable;
  analysis::judge::Interval sequence;
  analysis::judge::Interval naive;
};

// Simulates one phase. `trace`, when given, receives every evaluation.
PhaseOutcome SimulatePhase(const JudgeScenario& scenario, const JudgePolicy& policy,
                           std::mt19937_64& random, std::vector<TracePoint>* trace = nullptr);

// A generator for cell `cell` of a run seeded `seed`: cells are independent of each other
// and of the order they run in.
std::mt19937_64 CellRandom(uint64_t seed, uint64_t cell);

}  // namespace agentrollout::bench
