#include "analysis/judge/judge.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace agentrollout::analysis::judge {
namespace {

// Counts above 2^53 are no longer exact in a double; no phase sees that many requests.
constexpr double kMaxCount = 9007199254740992.0;

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

Status ValidateCount(std::string_view what, double value) {
  if (std::isnan(value) || std::isinf(value)) {
    return InvalidArgument(std::string(what) + " " + Number(value) + " is not a number");
  }
  if (value < 0) {
    return InvalidArgument(std::string(what) + " " + Number(value) + " is negative");
  }
  if (value > kMaxCount) {
    return InvalidArgument(std::string(what) + " " + Number(value) + " is above 2^53");
  }
  return {};
}

// Validates one version's counts; events a rounding error above total (the two are
// separate queries, each extrapolated by Prometheus) are taken as equal to total.
Result<Counts> ValidateCounts(std::string_view version, Counts counts) {
  const std::string name(version);
  if (Status s = ValidateCount(name + " events", counts.events); !s) return s.error();
  if (Status s = ValidateCount(name + " total", counts.total); !s) return s.error();
  if (counts.events > counts.total) {
    if (counts.events - counts.total > 1e-9 * std::max(1.0, counts.total)) {
      return InvalidArgument(name + " events " + Number(counts.events) + " > total " +
                             Number(counts.total));
    }
    counts.events = counts.total;
  }
  return counts;
}

// x* = rho^2 t* minimizes the margin at t = t*: the root u > 1 of u - ln u = 1 - 2 ln alpha
// (u = -W_{-1}(-alpha^2/e)), minus 1. Newton from the asymptotic expansion of W_{-1}.
double OptimalIntrinsicTime(double alpha) {
  const double c = 1 - 2 * std::log(alpha);
  double u = c + std::log(c);
  for (int i = 0; i < 50; ++i) {
    const double step = (u - std::log(u) - c) / (1 - 1 / u);
    u -= step;
    if (std::abs(step) < 1e-14 * u) break;
  }
  return u - 1;
}

// The variance of one version's proportion, evaluated at q = (e + k)/(n + 2k): k = b^2/2
// pseudo-events and pseudo-non-events, Agresti & Coull's z^2/2 with the sequence's own
// multiplier b, so that few events (or none) is not taken for certainty.
double ProportionVariance(Counts counts, double pseudo_counts) {
  const double q = (counts.events + pseudo_counts) / (counts.total + 2 * pseudo_counts);
  return q * (1 - q) / counts.total;
}

bool Satisfies(Line line, double low, double high) {
  switch (line.op) {
    case Op::kLess:
      return high < line.value;
    case Op::kLessEqual:
      return high <= line.value;
    case Op::kGreater:
      return low > line.value;
    case Op::kGreaterEqual:
      return low >= line.value;
  }
  return false;
}

Status ValidateLine(std::string_view field, Line line, bool upper) {
  const bool right_direction = upper ? (line.op == Op::kLess || line.op == Op::kLessEqual)
                                     : (line.op == Op::kGreater || line.op == Op::kGreaterEqual);
  if (!right_direction) {
    return InvalidArgument(std::string(field) + " must be " + (upper ? "< or <=" : "> or >="));
  }
  if (!std::isfinite(line.value)) {
    return InvalidArgument(std::string(field) + " " + Number(line.value) + " is not a number");
  }
  return {};
}

}  // namespace

Result<Interval> ConfidenceSequence(Counts canary, Counts stable, double confidence,
                                    double tuned_for_total) {
  if (!(confidence >= 0.8 && confidence <= 0.999)) {
    return InvalidArgument("confidence " + Number(confidence) + " is not in [0.8, 0.999]");
  }
  if (!(tuned_for_total > 0 && tuned_for_total <= kMaxCount)) {
    return InvalidArgument("tunedForTotal " + Number(tuned_for_total) +
                           " is not a positive number of requests");
  }
  Result<Counts> c = ValidateCounts("canary", canary);
  if (!c) return c.error();
  Result<Counts> s = ValidateCounts("stable", stable);
  if (!s) return s.error();
  if (c->total == 0 || s->total == 0) return Interval{};

  const double alpha = 1 - confidence;
  const double difference = c->events / c->total - s->events / s->total;
  const double x = OptimalIntrinsicTime(alpha) * (c->total + s->total) / tuned_for_total;
  const double multiplier = std::sqrt((x + 1) / x * std::log((x + 1) / (alpha * alpha)));
  const double pseudo_counts = multiplier * multiplier / 2;
  const double margin = multiplier * std::sqrt(ProportionVariance(*c, pseudo_counts) +
                                               ProportionVariance(*s, pseudo_counts));
  return Interval{difference, std::max(-1.0, difference - margin),
                  std::min(1.0, difference + margin)};
}

Result<Judgement> Judge(const Comparison& comparison, Counts canary, Counts stable) {
  if (Status s = ValidateLine("go", comparison.go, true); !s) return s.error();
  if (Status s = ValidateLine("noGo", comparison.no_go, false); !s) return s.error();
  if (!(comparison.min_total >= 1 && comparison.min_total <= kMaxCount)) {
    return InvalidArgument("minTotal " + Number(comparison.min_total) + " is not at least 1");
  }
  const double tuned_for_total =
      comparison.tuned_for_total == 0 ? kDefaultTunedForTotal : comparison.tuned_for_total;
  Result<Interval> interval =
      ConfidenceSequence(canary, stable, comparison.confidence, tuned_for_total);
  if (!interval) return interval.error();

  Judgement judgement;
  judgement.interval = *interval;
  judgement.canary_needs = std::max(0.0, std::ceil(comparison.min_total - canary.total));
  judgement.stable_needs = std::max(0.0, std::ceil(comparison.min_total - stable.total));
  if (judgement.canary_needs > 0 || judgement.stable_needs > 0) {
    judgement.verdict = Verdict::kHold;
  } else if (Satisfies(comparison.no_go, interval->low, interval->high)) {
    judgement.verdict = Verdict::kNoGo;
  } else if (Satisfies(comparison.go, interval->low, interval->high)) {
    judgement.verdict = Verdict::kGo;
  } else {
    judgement.verdict = Verdict::kHold;
  }
  return judgement;
}

}  // namespace agentrollout::analysis::judge
