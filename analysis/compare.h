// A comparison of API.md §3.3 as the scheduler evaluates it: rendered four times (events
// and total, for the canary and for stable) and judged from the four answers by
// analysis/judge. Pure functions, like classify.h.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "analysis/prometheus_client.h"
#include "analysis/template.h"
#include "api/types.h"
#include "common/result.h"

namespace agentrollout::analysis {

// The names {{version}} stands for: analysis.args canaryVersion / stableVersion when set,
// else the traffic router's {{canary}} / {{stable}}.
struct Versions {
  std::string canary;
  std::string stable;
  friend bool operator==(const Versions&, const Versions&) = default;
};
Versions VersionsOf(const TemplateVars& vars);

// {{window}} (API.md §3.2): the time since the phase started, as a PromQL duration in whole
// seconds (rounded down), at least 1m: "60s", "3725s".
std::string PromQLWindow(api::Duration since_phase_start);

// The queries of one comparison, in this order.
enum ComparisonQuery : std::size_t { kCanaryEvents, kCanaryTotal, kStableEvents, kStableTotal };
inline constexpr std::size_t kQueriesPerComparison = 4;

// The four queries of `comparison`, rendered with `vars` plus version and window; a
// template error stands in for a query that cannot run.
std::array<Result<std::string>, kQueriesPerComparison> RenderComparison(
    const api::ComparisonSpec& comparison, const TemplateVars& vars, const Versions& versions,
    const std::string& window);

// Judges one comparison from its four answers (ComparisonQuery order), as
// status.analysis.metrics shows it (value = the estimate of canary - stable; comparison =
// interval and counts):
// - a failed query, more than one series, a count that is negative, NaN, infinite or above
//   2^53, events above total -> Error, the message naming the query and the version;
// - no series for a total -> Hold, "no data for the canary (\"v2\")": that version has no
//   traffic in this phase yet. No series for events counts 0: a counter of failures often
//   has no series before the first one;
// - fewer than minTotal calls -> Hold, "needs 140 more stable calls";
// - else the judge's verdict: "canary is worse by 1.2–3.4 points (No-Go above 2)",
//   "canary − stable is −0.4 to +1.1 points: not yet below 0.5 (Go) nor above 2 (No-Go)".
api::MetricStatus JudgeComparison(const api::ComparisonSpec& comparison, const Versions& versions,
                                  const std::vector<Result<QueryResult>>& outcomes,
                                  std::size_t first);

}  // namespace agentrollout::analysis
