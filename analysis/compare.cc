#include "analysis/compare.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>

#include "analysis/classify.h"
#include "analysis/judge/judge.h"
#include "api/template.h"
#include "api/threshold.h"
#include "common/text.h"

namespace agentrollout::analysis {
namespace {

// Counts above 2^53 are no longer exact in a double: no phase sees that many calls.
constexpr double kMaxCount = 9007199254740992.0;
// Two extrapolated increase() results subtracted (count - bucket) may miss zero by rounding.
constexpr double kRoundingSlack = 1e-6;

std::string Printf(const char* format, double value) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// A proportion, or a difference of two, for status: 4 significant digits.
std::string Proportion(double value) { return Printf("%.4g", value == 0 ? 0.0 : value); }

// A count for status: increase() extrapolates, so two decimals at most.
std::string Count(double value) { return api::FormatNumber(std::round(value * 100) / 100); }

// A difference of proportions in percentage points, for messages: "1.2", "0.35", "12".
std::string Points(double difference) {
  const double points = difference * 100;
  if (points == 0) return "0";
  return Printf(std::abs(points) >= 10 ? "%.0f" : "%.2g", points);
}

std::string SignedPoints(double difference) {
  return (difference > 0 ? "+" : "") + Points(difference);
}

// "above 2" for "> 0.02", "at or below 0.5" for "<= 0.005".
std::string LineText(const api::Threshold& line) {
  switch (line.op) {
    case api::CompareOp::kLess:
      return "below " + Points(line.value);
    case api::CompareOp::kLessEqual:
      return "at or below " + Points(line.value);
    case api::CompareOp::kGreater:
      return "above " + Points(line.value);
    case api::CompareOp::kGreaterEqual:
      return "at or above " + Points(line.value);
    case api::CompareOp::kEqual:
    case api::CompareOp::kNotEqual:
      break;  // rejected by validation
  }
  return api::FormatThreshold(line);
}

judge::Line JudgeLine(const api::Threshold& line) {
  judge::Line judged{judge::Op::kLess, line.value};
  switch (line.op) {
    case api::CompareOp::kLess:
      break;
    case api::CompareOp::kLessEqual:
      judged.op = judge::Op::kLessEqual;
      break;
    case api::CompareOp::kGreater:
      judged.op = judge::Op::kGreater;
      break;
    case api::CompareOp::kGreaterEqual:
      judged.op = judge::Op::kGreaterEqual;
      break;
    case api::CompareOp::kEqual:
    case api::CompareOp::kNotEqual:
      break;  // rejected by validation
  }
  return judged;
}

const char* QueryName(std::size_t query) {
  return query == kCanaryEvents || query == kStableEvents ? "events" : "total";
}

// `canary ("voice-v2")`.
std::string VersionName(std::size_t query, const Versions& versions) {
  const bool canary = query == kCanaryEvents || query == kCanaryTotal;
  return std::string(canary ? "canary" : "stable") + " (" +
         QuoteForMessage(canary ? versions.canary : versions.stable) + ")";
}

// One count read from one answer: nullopt (with `error` unset) when the answer has no
// series.
struct Read {
  std::optional<double> count;
  std::optional<std::string> error;
  std::vector<std::string> warnings;
};

Read ReadCount(const Result<QueryResult>& outcome, std::size_t query, const Versions& versions) {
  const std::string what =
      std::string(QueryName(query)) + " query for the " + VersionName(query, versions);
  Read read;
  if (!outcome.ok()) {
    read.error = what + ": " + outcome.error().message();
    return read;
  }
  read.warnings = outcome->warnings;
  if (outcome->samples.size() > 1) {
    read.error = what + " returned " + std::to_string(outcome->samples.size()) +
                 " series; it must return one (aggregate with sum)";
    return read;
  }
  if (outcome->samples.empty()) return read;
  const double value = outcome->samples.front().value;
  if (!std::isfinite(value)) {
    read.error = what + " returned " + api::FormatNumber(value) + ", not a count";
  } else if (value < -kRoundingSlack) {
    read.error = what + " returned " + api::FormatNumber(value) + ", a negative count";
  } else if (value > kMaxCount) {
    read.error = what + " returned " + api::FormatNumber(value) + ", beyond any count of calls";
  } else {
    read.count = std::max(0.0, value);
  }
  return read;
}

std::string NeedsMessage(const judge::Judgement& judgement) {
  std::string needs;
  if (judgement.canary_needs > 0) needs = Count(judgement.canary_needs) + " more canary";
  if (judgement.stable_needs > 0) {
    needs += (needs.empty() ? "" : " and ") + Count(judgement.stable_needs) + " more stable";
  }
  return "needs " + needs + " calls";
}

std::string IntervalMessage(const api::ComparisonSpec& comparison,
                            const judge::Judgement& judgement) {
  const judge::Interval& interval = judgement.interval;
  const std::string range = SignedPoints(interval.low) + " to " + SignedPoints(interval.high);
  switch (judgement.verdict) {
    case judge::Verdict::kNoGo:
      if (interval.low >= 0) {
        return "canary is worse by " + Points(interval.low) + "–" + Points(interval.high) +
               " points (No-Go " + LineText(comparison.no_go) + ")";
      }
      return "canary − stable is " + range + " points (No-Go " + LineText(comparison.no_go) + ")";
    case judge::Verdict::kGo:
      return "canary − stable is " + range + " points (Go " + LineText(comparison.go) + ")";
    case judge::Verdict::kHold:
      break;
  }
  return "canary − stable is " + range + " points: not yet " + LineText(comparison.go) +
         " (Go) nor " + LineText(comparison.no_go) + " (No-Go)";
}

}  // namespace

Versions VersionsOf(const TemplateVars& vars) {
  const auto value = [&](const char* arg, const char* builtin) {
    if (const auto found = vars.find(arg); found != vars.end()) return found->second;
    const auto found = vars.find(builtin);
    return found != vars.end() ? found->second : std::string();
  };
  return {value(api::kCanaryVersionArg, "canary"), value(api::kStableVersionArg, "stable")};
}

std::string PromQLWindow(api::Duration since_phase_start) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_phase_start);
  return std::to_string(std::max<std::int64_t>(seconds.count(), 60)) + "s";
}

std::array<Result<std::string>, kQueriesPerComparison> RenderComparison(
    const api::ComparisonSpec& comparison, const TemplateVars& vars, const Versions& versions,
    const std::string& window) {
  TemplateVars with = vars;
  with[api::kWindowVariable] = window;
  const auto render = [&](const std::string& query, const std::string& version,
                          const char* field) -> Result<std::string> {
    with[api::kVersionVariable] = version;
    Result<std::string> rendered = Render(query, with);
    if (!rendered.ok()) return rendered.error().WithContext(std::string(field) + " template");
    return rendered;
  };
  return {render(comparison.events, versions.canary, "events"),
          render(comparison.total, versions.canary, "total"),
          render(comparison.events, versions.stable, "events"),
          render(comparison.total, versions.stable, "total")};
}

api::MetricStatus JudgeComparison(const api::ComparisonSpec& comparison, const Versions& versions,
                                  const std::vector<Result<QueryResult>>& outcomes,
                                  std::size_t first) {
  api::MetricStatus status;
  status.name = comparison.name;
  status.go = api::FormatThreshold(comparison.go);
  status.no_go = api::FormatThreshold(comparison.no_go);
  std::array<Read, kQueriesPerComparison> reads;
  std::vector<std::string> warnings;
  for (std::size_t query = 0; query < kQueriesPerComparison; ++query) {
    reads[query] = ReadCount(outcomes.at(first + query), query, versions);
    warnings.insert(warnings.end(), reads[query].warnings.begin(), reads[query].warnings.end());
    if (reads[query].error) {
      status.verdict = api::Verdict::kError;
      status.message = WithWarnings(*reads[query].error, warnings);
      return status;
    }
  }
  for (std::size_t query : {kCanaryTotal, kStableTotal}) {
    if (!reads[query].count) {
      status.verdict = api::Verdict::kHold;
      status.message = WithWarnings(
          "no data for the " + VersionName(query, versions) + " in this phase yet", warnings);
      return status;
    }
  }
  const judge::Counts canary{reads[kCanaryEvents].count.value_or(0), *reads[kCanaryTotal].count};
  const judge::Counts stable{reads[kStableEvents].count.value_or(0), *reads[kStableTotal].count};
  judge::Comparison judged;
  judged.go = JudgeLine(comparison.go);
  judged.no_go = JudgeLine(comparison.no_go);
  judged.confidence = comparison.confidence;
  judged.min_total = static_cast<double>(comparison.min_total);
  Result<judge::Judgement> judgement = judge::Judge(judged, canary, stable);
  if (!judgement.ok()) {
    status.verdict = api::Verdict::kError;
    status.message =
        WithWarnings(judgement.error().message() + " (canary " + QuoteForMessage(versions.canary) +
                         ", stable " + QuoteForMessage(versions.stable) + ")",
                     warnings);
    return status;
  }
  api::ComparisonStatus& shown = status.comparison.emplace();
  shown.low = Proportion(judgement->interval.low);
  shown.high = Proportion(judgement->interval.high);
  shown.canary = {Count(canary.events), Count(canary.total)};
  shown.stable = {Count(stable.events), Count(stable.total)};
  status.value = Proportion(judgement->interval.estimate);
  const bool short_of_calls = judgement->canary_needs > 0 || judgement->stable_needs > 0;
  switch (judgement->verdict) {
    case judge::Verdict::kGo:
      status.verdict = api::Verdict::kGo;
      break;
    case judge::Verdict::kNoGo:
      status.verdict = api::Verdict::kNoGo;
      break;
    case judge::Verdict::kHold:
      status.verdict = api::Verdict::kHold;
      break;
  }
  status.message = WithWarnings(
      short_of_calls ? NeedsMessage(*judgement) : IntervalMessage(comparison, *judgement),
      warnings);
  return status;
}

}  // namespace agentrollout::analysis
