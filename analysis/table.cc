// Counter rules (API.md §3.1 leaves the resets to us; these follow Argo Rollouts'
// consecutive-failure semantics):
// - NoGo:  consecutiveNoGo + 1, consecutiveErrors reset (the queries worked).
// - Error: consecutiveErrors + 1, consecutiveNoGo kept as is: an outage neither extends
//          nor forgives a run of NoGo verdicts.
// - Go, Hold: both reset.
// - no verdict (nothing evaluated): both kept.
// Triggers, first match wins: an abort hit (always, ignoring failureLimit); NoGo with
// consecutiveNoGo > failureLimit; Error with consecutiveErrors > errorLimit (counted as
// NoGo). dryRun metrics never trigger anything: TableVerdict and HitsAbort skip them.
#include "analysis/table.h"

#include <charconv>
#include <string>
#include <system_error>
#include <vector>

#include "analysis/classify.h"
#include "api/threshold.h"

namespace agentrollout::analysis {
namespace {

std::string Evaluations(std::int32_t count) {
  return std::to_string(count) +
         (count == 1 ? " consecutive evaluation" : " consecutive evaluations");
}

// status.value (exact) as a message shows it: at most 4 significant digits, never across
// `line` (api::FormatMeasurement).
std::string Shown(const std::string& value, const api::Threshold& line) {
  double number = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, number);
  return ec == std::errc() && ptr == end ? api::FormatMeasurement(number, line) : value;
}

const api::MetricSpec* FindSpec(const api::AnalysisSpec& spec, const std::string& name) {
  for (const api::MetricSpec& metric : spec.metrics) {
    if (metric.name == name) return &metric;
  }
  return nullptr;
}

std::optional<api::RollbackTrigger> AbortTrigger(const api::AnalysisSpec& spec,
                                                 const api::Evaluation& evaluation) {
  for (const api::MetricStatus& status : evaluation.metrics) {
    const api::MetricSpec* metric = FindSpec(spec, status.name);
    if (metric == nullptr || !HitsAbort(*metric, status)) continue;
    api::RollbackTrigger trigger;
    trigger.kind = api::RollbackTrigger::Kind::kAbort;
    trigger.metric = status.name;
    trigger.value = status.value;
    trigger.line = status.abort;
    trigger.reason = status.name + " is " + Shown(status.value, *metric->abort) +
                     ", past its abort line " + status.abort + ": rolling back fully now.";
    return trigger;
  }
  return std::nullopt;
}

api::RollbackTrigger NoGoTrigger(const api::AnalysisSpec& spec, const api::Evaluation& evaluation,
                                 std::int32_t consecutive) {
  api::RollbackTrigger trigger;
  trigger.kind = api::RollbackTrigger::Kind::kNoGo;
  const std::string tail = " for " + Evaluations(consecutive) + " (failureLimit " +
                           std::to_string(spec.failure_limit) + ").";
  for (const api::MetricStatus& status : evaluation.metrics) {
    if (status.dry_run || status.verdict != api::Verdict::kNoGo) continue;
    trigger.metric = status.name;
    trigger.value = status.value;
    if (status.comparison) {
      // The interval, not the estimate, crossed the line (API.md §3.3).
      trigger.value = "[" + status.comparison->low + ", " + status.comparison->high + "]";
      trigger.line = status.no_go;
      trigger.reason = status.name + ": " + status.message + "," + tail;
    } else if (status.value.empty()) {
      trigger.line = "noData: noGo";
      trigger.reason = status.name + " returned no data (noData: noGo)" + tail;
    } else {
      trigger.line = status.no_go;
      const api::MetricSpec* metric = FindSpec(spec, status.name);
      trigger.reason = status.name + " is " +
                       (metric != nullptr ? Shown(status.value, metric->no_go) : status.value) +
                       ", past its No-Go line " + status.no_go + "," + tail;
    }
    return trigger;
  }
  trigger.reason = "the go/no-go table said NoGo" + tail;
  return trigger;
}

api::RollbackTrigger ErrorTrigger(const api::AnalysisSpec& spec, const api::Evaluation& evaluation,
                                  std::int32_t consecutive) {
  std::vector<const api::MetricStatus*> failed;
  for (const api::MetricStatus& status : evaluation.metrics) {
    if (!status.dry_run && status.verdict == api::Verdict::kError) failed.push_back(&status);
  }
  api::RollbackTrigger trigger;
  trigger.kind = api::RollbackTrigger::Kind::kErrors;
  trigger.line = "errorLimit " + std::to_string(spec.error_limit);
  if (failed.size() == 1) trigger.metric = failed.front()->name;
  trigger.reason = "analysis queries failed for " + Evaluations(consecutive) + " (errorLimit " +
                   std::to_string(spec.error_limit) + ")";
  if (!failed.empty()) {
    trigger.reason += "; " + failed.front()->name + ": " + failed.front()->message;
    if (failed.size() > 1)
      trigger.reason += " (and " + std::to_string(failed.size() - 1) + " more)";
  }
  trigger.reason += ".";
  return trigger;
}

}  // namespace

bool HasTable(const api::AnalysisSpec& spec) {
  return !spec.metrics.empty() || !spec.comparisons.empty();
}

TableOutcome Accumulate(const api::AnalysisSpec& spec, const api::AnalysisStatus& previous,
                        const api::Evaluation& evaluation) {
  TableOutcome outcome;
  api::AnalysisStatus& status = outcome.status;
  status = previous;
  status.last_evaluated = evaluation.at;
  status.metrics = evaluation.metrics;
  switch (evaluation.verdict) {
    case api::Verdict::kNoGo:
      ++status.consecutive_no_go;
      status.consecutive_errors = 0;
      break;
    case api::Verdict::kError:
      ++status.consecutive_errors;
      break;
    case api::Verdict::kGo:
    case api::Verdict::kHold:
      status.consecutive_no_go = 0;
      status.consecutive_errors = 0;
      break;
    case api::Verdict::kNone:
      break;
  }
  if (auto abort = AbortTrigger(spec, evaluation)) {
    outcome.trigger = std::move(abort);
  } else if (evaluation.verdict == api::Verdict::kNoGo &&
             status.consecutive_no_go > spec.failure_limit) {
    outcome.trigger = NoGoTrigger(spec, evaluation, status.consecutive_no_go);
  } else if (evaluation.verdict == api::Verdict::kError &&
             status.consecutive_errors > spec.error_limit) {
    outcome.trigger = ErrorTrigger(spec, evaluation, status.consecutive_errors);
  }
  return outcome;
}

}  // namespace agentrollout::analysis
