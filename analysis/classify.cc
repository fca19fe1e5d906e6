#include "analysis/classify.h"

#include <charconv>
#include <cmath>
#include <string>

#include "api/threshold.h"

namespace agentrollout::analysis {
namespace {

std::string Describe(const char* verb, double value, const api::Threshold& line,
                     const char* line_name) {
  return api::FormatMeasurement(value, line) + verb + api::FormatThreshold(line) + " (" +
         line_name + ")";
}

}  // namespace

std::string WithWarnings(std::string message, const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) {
    message += (message.empty() ? "" : "; ") + std::string("Prometheus warned: ") + warning;
  }
  return message;
}

api::MetricStatus Classify(const api::MetricSpec& metric, api::NoDataPolicy no_data,
                           const Result<QueryResult>& outcome) {
  api::MetricStatus status;
  status.name = metric.name;
  status.go = api::FormatThreshold(metric.go);
  status.no_go = api::FormatThreshold(metric.no_go);
  status.abort = metric.abort ? api::FormatThreshold(*metric.abort) : std::string();
  status.dry_run = metric.dry_run;
  if (!outcome.ok()) {
    status.verdict = api::Verdict::kError;
    status.message = outcome.error().message();
    return status;
  }
  const QueryResult& result = *outcome;
  if (result.samples.size() > 1) {
    status.verdict = api::Verdict::kError;
    status.message = WithWarnings("query returned " + std::to_string(result.samples.size()) +
                                      " series; it must return one (aggregate with sum, max, ...)",
                                  result.warnings);
    return status;
  }
  if (result.samples.empty()) {
    status.verdict =
        no_data == api::NoDataPolicy::kNoGo ? api::Verdict::kNoGo : api::Verdict::kHold;
    status.message = WithWarnings("no data", result.warnings);
    return status;
  }
  const double value = result.samples.front().value;
  status.value = api::FormatNumber(value);  // exact: HitsAbort re-reads it
  std::string message;
  if (!std::isfinite(value)) {
    status.verdict = api::Verdict::kError;
    message = "value " + status.value + " is not a number";
  } else if (metric.abort && api::Matches(*metric.abort, value)) {
    status.verdict = api::Verdict::kNoGo;
    message = Describe(" is ", value, *metric.abort, "abort");
  } else if (api::Matches(metric.no_go, value)) {
    status.verdict = api::Verdict::kNoGo;
    message = Describe(" is ", value, metric.no_go, "noGo");
  } else if (api::Matches(metric.go, value)) {
    status.verdict = api::Verdict::kGo;
  } else {
    status.verdict = api::Verdict::kHold;
    message = Describe(" is not ", value, metric.go, "go");
  }
  status.message = WithWarnings(std::move(message), result.warnings);
  return status;
}

api::Verdict TableVerdict(const std::vector<api::MetricStatus>& metrics) {
  bool any_error = false;
  bool any_hold = false;
  for (const api::MetricStatus& metric : metrics) {
    if (metric.dry_run) continue;
    switch (metric.verdict) {
      case api::Verdict::kNoGo:
        return api::Verdict::kNoGo;
      case api::Verdict::kError:
        any_error = true;
        break;
      case api::Verdict::kHold:
      case api::Verdict::kNone:  // not evaluated: never counts as Go
        any_hold = true;
        break;
      case api::Verdict::kGo:
        break;
    }
  }
  if (any_error) return api::Verdict::kError;
  if (any_hold) return api::Verdict::kHold;
  return api::Verdict::kGo;
}

bool HitsAbort(const api::MetricSpec& metric, const api::MetricStatus& status) {
  if (!metric.abort || status.dry_run || status.verdict != api::Verdict::kNoGo ||
      status.value.empty()) {
    return false;
  }
  double value = 0;
  const char* end = status.value.data() + status.value.size();
  const auto [ptr, ec] = std::from_chars(status.value.data(), end, value);
  return ec == std::errc() && ptr == end && api::Matches(*metric.abort, value);
}

}  // namespace agentrollout::analysis
