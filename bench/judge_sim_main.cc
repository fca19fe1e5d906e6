// agentrollout-judge-sim: the measurements behind docs/judge.md (bench/judge_sim.sh runs
// it and bench/judge_report.py turns its JSON into the tables and plots there).
//
//   aa       canary and stable with the same true rate: how often the interval ever
//            excludes the true difference 0 and how often a No-Go line is crossed,
//            for the judge and for a naive per-interval z interval
//   ab       canary worse than stable: the interval at which No-Go comes
//   go       canary as good as stable: the interval at which Go comes; and a canary
//            exactly on the go line: how often Go comes anyway
//   tuning   t* (tunedForTotal) against time to No-Go and A/A coverage
//   trace    one phase, every evaluation, for the plot
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/judge_sim.h"

namespace agentrollout::bench {
namespace {

using nlohmann::json;

struct Run {
  uint64_t seed = 20;
  int aa_phases = 10000;
  int phases = 2000;  // A/B, Go and tuning cells
  uint64_t cell = 0;  // the running cell number: each cell has its own generator
};

constexpr int kShortPhase = 48;  // A/A: 48 one-minute intervals
constexpr int kLongPhase = 240;  // A/B and Go: up to 4 hours

json Scenario(const JudgeScenario& s) {
  return {{"stable_rate", s.stable_rate},           {"canary_rate", s.canary_rate},
          {"canary_share", s.canary_share},         {"rps", s.requests_per_second},
          {"interval_seconds", s.interval_seconds}, {"intervals", s.intervals}};
}

// Runs `phases` phases of one cell; returns per-phase first-crossing intervals.
json Cell(Run& run, const JudgeScenario& scenario, const JudgePolicy& policy, int phases) {
  std::mt19937_64 random = CellRandom(run.seed, run.cell++);
  json excludes = json::array(), naive_excludes = json::array(), early = json::array();
  std::vector<json> no_go(policy.no_go_lines.size(), json::array());
  std::vector<json> naive_no_go(policy.no_go_lines.size(), json::array());
  std::vector<json> go(policy.go_lines.size(), json::array());
  for (int i = 0; i < phases; ++i) {
    const PhaseOutcome outcome = SimulatePhase(scenario, policy, random);
    excludes.push_back(outcome.sequence.excludes_truth);
    naive_excludes.push_back(outcome.naive.excludes_truth);
    early.push_back(outcome.sequence_excludes_truth_before_min_total);
    for (size_t l = 0; l < no_go.size(); ++l) {
      no_go[l].push_back(outcome.sequence.no_go[l]);
      naive_no_go[l].push_back(outcome.naive.no_go[l]);
    }
    for (size_t l = 0; l < go.size(); ++l) go[l].push_back(outcome.sequence.go[l]);
  }
  json result = Scenario(scenario);
  result["phases"] = phases;
  result["confidence"] = policy.confidence;
  result["min_total"] = policy.min_total;
  result["tuned_for_total"] = policy.tuned_for_total;
  result["sequence"] = {{"excludes_truth", excludes}, {"excludes_truth_early", early}};
  result["naive"] = {{"excludes_truth", naive_excludes}};
  result["no_go_lines"] = policy.no_go_lines;
  result["go_lines"] = policy.go_lines;
  result["sequence"]["no_go"] = no_go;
  result["naive"]["no_go"] = naive_no_go;
  result["sequence"]["go"] = go;
  return result;
}

const std::vector<double> kShares{0.05, 0.25};
const std::vector<double> kRates{10, 50, 500};

json AaCells(Run& run) {
  json cells = json::array();
  for (double rate : {0.005, 0.02, 0.10}) {
    for (double share : {0.05, 0.10, 0.50}) {
      for (double rps : kRates) {
        JudgeScenario s{rate, rate, share, rps, 60, kShortPhase};
        JudgePolicy policy;
        policy.no_go_lines = {0, 0.02};
        cells.push_back(Cell(run, s, policy, run.aa_phases));
      }
    }
  }
  return cells;
}

struct Effect {
  const char* name;
  double stable_rate;
  double canary_rate;
  double no_go_line;  // the docs example's line for this kind of comparison
  double go_line;
};
const std::vector<Effect> kEffects{
    {"errors 2x (1% -> 2%)", 0.01, 0.02, 0.02, 0.005},
    {"errors 5x (1% -> 5%)", 0.01, 0.05, 0.02, 0.005},
    {"slow calls +10 points (5% -> 15%)", 0.05, 0.15, 0.05, 0.01},
};

// Appends one cell per canary share and request rate, the 4-hour phases of A/B and Go.
void TrafficGrid(Run& run, const char* name, double stable_rate, double canary_rate,
                 const JudgePolicy& policy, json& cells) {
  for (double share : kShares) {
    for (double rps : kRates) {
      JudgeScenario s{stable_rate, canary_rate, share, rps, 60, kLongPhase};
      json cell = Cell(run, s, policy, run.phases);
      cell["name"] = name;
      cells.push_back(cell);
    }
  }
}

json AbCells(Run& run) {
  json cells = json::array();
  for (const Effect& effect : kEffects) {
    JudgePolicy policy;
    policy.no_go_lines = {0, effect.no_go_line};
    TrafficGrid(run, effect.name, effect.stable_rate, effect.canary_rate, policy, cells);
  }
  return cells;
}

json GoCells(Run& run) {
  json cells = json::array();
  struct Case {
    const char* name;
    double stable_rate;
    double canary_rate;
    double go_line;
  };
  for (const Case& c : {Case{"errors equal (1%), go < 0.005", 0.01, 0.01, 0.005},
                        Case{"slow calls equal (5%), go < 0.01", 0.05, 0.05, 0.01},
                        Case{"errors on the line (1% -> 1.5%), go < 0.005", 0.01, 0.015, 0.005},
                        Case{"slow calls on the line (5% -> 6%), go < 0.01", 0.05, 0.06, 0.01}}) {
    JudgePolicy policy;
    policy.go_lines = {c.go_line};
    TrafficGrid(run, c.name, c.stable_rate, c.canary_rate, policy, cells);
  }
  return cells;
}

json TuningCells(Run& run) {
  json cells = json::array();
  for (double tuned : {1e3, 1e4, 1e5, 1e6}) {
    for (const Effect& effect : {kEffects[1], kEffects[2]}) {
      JudgePolicy policy;
      policy.tuned_for_total = tuned;
      policy.no_go_lines = {0};
      TrafficGrid(run, effect.name, effect.stable_rate, effect.canary_rate, policy, cells);
    }
    // A/A where the counts are smallest: 0.5 %, 5 % canary, 10 rps.
    JudgeScenario aa{0.005, 0.005, 0.05, 10, 60, kShortPhase};
    JudgePolicy policy;
    policy.tuned_for_total = tuned;
    json cell = Cell(run, aa, policy, run.aa_phases);
    cell["name"] = "A/A 0.5%";
    cells.push_back(cell);
  }
  return cells;
}

json Trace(Run& run) {
  std::mt19937_64 random = CellRandom(run.seed, run.cell++);
  JudgeScenario s{0.01, 0.05, 0.05, 50, 60, kShortPhase};
  JudgePolicy policy;
  std::vector<TracePoint> trace;
  SimulatePhase(s, policy, random, &trace);
  json points = json::array();
  for (const TracePoint& p : trace) {
    points.push_back({{"interval", p.interval},
                      {"canary", {p.canary.events, p.canary.total}},
                      {"stable", {p.stable.events, p.stable.total}},
                      {"sequence", {p.sequence.estimate, p.sequence.low, p.sequence.high}},
                      {"naive", {p.naive.estimate, p.naive.low, p.naive.high}}});
  }
  json result = Scenario(s);
  result["min_total"] = policy.min_total;
  result["points"] = points;
  return result;
}

int Main(int argc, char** argv) {
  CLI::App app{"agentrollout-judge-sim: the judge's A/A and A/B simulation (docs/judge.md)"};
  Run run;
  std::string out;
  bool smoke = false;
  app.add_option("--seed", run.seed, "base seed; each cell derives its own")->capture_default_str();
  app.add_option("--aa-phases", run.aa_phases, "phases per A/A cell")->capture_default_str();
  app.add_option("--phases", run.phases, "phases per A/B, Go and tuning cell")
      ->capture_default_str();
  app.add_flag("--smoke", smoke, "300 A/A and 100 other phases per cell (ctest)");
  app.add_option("--out", out, "write the JSON here (default: stdout)");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    run.aa_phases = 300;
    run.phases = 100;
  }
  json result = {{"seed", run.seed}, {"aa_phases", run.aa_phases}, {"phases", run.phases}};
  result["aa"] = AaCells(run);
  result["ab"] = AbCells(run);
  result["go"] = GoCells(run);
  result["tuning"] = TuningCells(run);
  result["trace"] = Trace(run);
  if (out.empty()) {
    std::cout << result.dump() << "\n";
    return 0;
  }
  std::ofstream file(out);
  file << result.dump() << "\n";
  return file ? 0 : 1;
}

}  // namespace
}  // namespace agentrollout::bench

int main(int argc, char** argv) { return agentrollout::bench::Main(argc, argv); }
