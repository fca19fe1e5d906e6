#include "controllers/rollout/status_refresh.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace agentrollout::controllers {
namespace {

// A formatted number ("0.0131", "-2.5e-3"), nullopt when `text` is not exactly one.
std::optional<double> Number(std::string_view text) {
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(number)) {
    return std::nullopt;
  }
  return number;
}

// The threshold of a line as written ("< 0.02", ">= 5"); nullopt without one.
std::optional<double> Threshold(std::string_view line) {
  const std::size_t start = line.find_first_not_of("<>=! ");
  if (start == std::string_view::npos) return std::nullopt;
  return Number(line.substr(start));
}

// Whether a value moved from `before` to `after` by more than `fraction` of its scale.
// Text that is not a number (or "" for no data) moved when it differs at all.
bool MovedFar(const std::string& before, const std::string& after, const api::MetricStatus& metric,
              double fraction) {
  if (before == after) return false;
  const std::optional<double> old_value = Number(before);
  const std::optional<double> new_value = Number(after);
  if (!old_value || !new_value) return true;
  double scale = std::abs(*old_value);
  for (const std::string* line : {&metric.go, &metric.no_go, &metric.abort}) {
    if (const std::optional<double> threshold = Threshold(*line)) {
      scale = std::max(scale, std::abs(*threshold));
    }
  }
  return std::abs(*new_value - *old_value) > fraction * scale;
}

bool MetricWorthWriting(const api::MetricStatus& before, const api::MetricStatus& after,
                        double fraction) {
  // The zone (verdict), the lines and the kind of entry are what a person reads first.
  if (before.name != after.name || before.verdict != after.verdict || before.go != after.go ||
      before.no_go != after.no_go || before.abort != after.abort ||
      before.dry_run != after.dry_run ||
      before.comparison.has_value() != after.comparison.has_value()) {
    return true;
  }
  if (MovedFar(before.value, after.value, after, fraction)) return true;
  // A message about a value ("912 is not < 800 (go)") follows the value; one without
  // ("no data", "query returned 2 series") is the news itself.
  if (before.message != after.message && (before.value.empty() || after.value.empty())) {
    return true;
  }
  if (after.comparison) {
    // The interval's bounds as the value; the counts only ever grow and say little alone.
    const api::ComparisonStatus& old_interval = *before.comparison;
    const api::ComparisonStatus& new_interval = *after.comparison;
    if (MovedFar(old_interval.low, new_interval.low, after, fraction) ||
        MovedFar(old_interval.high, new_interval.high, after, fraction)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool AnalysisWorthWriting(const api::AnalysisStatus& persisted, const api::AnalysisStatus& decided,
                          const StatusRefresh& refresh) {
  if (persisted == decided) return false;
  if (refresh.every <= api::Duration::zero()) return true;
  if (persisted.consecutive_no_go != decided.consecutive_no_go ||
      persisted.consecutive_errors != decided.consecutive_errors ||
      persisted.metrics.size() != decided.metrics.size()) {
    return true;
  }
  if (!persisted.last_evaluated || !decided.last_evaluated ||
      *decided.last_evaluated < *persisted.last_evaluated ||
      *decided.last_evaluated - *persisted.last_evaluated >= refresh.every) {
    return true;
  }
  for (std::size_t i = 0; i < decided.metrics.size(); ++i) {
    if (MetricWorthWriting(persisted.metrics[i], decided.metrics[i], refresh.fraction)) return true;
  }
  return false;
}

}  // namespace agentrollout::controllers
