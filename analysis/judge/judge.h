// The judge of API.md §3.3: is the canary worse than stable, by more than we accept?
// A pure function of the cumulative counts; no I/O, no clock, no state between calls.
//
// What it computes: an always-valid (time-uniform) confidence sequence for the difference
// of two proportions d = p_c - p_s (canary minus stable), the asymptotic confidence
// sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas, "Time-uniform central limit
// theory and asymptotic confidence sequences", Annals of Statistics 52(6), 2024
// (arXiv:2103.06476), Theorem 2.2 -- Robbins' two-sided normal mixture boundary with
// tuning parameter rho -- applied to the two-sample difference of means, as that paper
// does for randomized experiments (its Section 3). docs/judge.md derives it step by step.
//
//   t      = n_c + n_s                     (the index: observations, not evaluations)
//   d_hat  = e_c/n_c - e_s/n_s
//   x      = rho^2 t = x* t / t*,   x* = -W_{-1}(-alpha^2/e) - 1,   alpha = 1 - confidence
//   b      = sqrt( (x+1)/x * ln((x+1)/alpha^2) )      (the boundary, in standard errors)
//   SE^2   = q_c(1-q_c)/n_c + q_s(1-q_s)/n_s,   q = (e + b^2/2)/(n + b^2)
//   margin = b * SE
//   interval = [d_hat - margin, d_hat + margin], clipped to [-1, 1]
//
// Why these choices:
// - The sequence is indexed by the number of requests t, so counts that arrive in
//   batches (one evaluation per interval, any number of requests in between) are a
//   subsequence of it, and a time-uniform guarantee holds on every subsequence: looking
//   once a minute, once a second or at irregular times costs nothing.
// - Every request is one observation (A_i, Y_i): routed to the canary with some fixed
//   probability pi, failing with probability p_c or p_s. The difference in means is,
//   up to an O(log log t / t) remainder (law of the iterated logarithm), the mean of the
//   influence function A(Y-p_c)/pi - (1-A)(Y-p_s)/(1-pi), whose variance per observation
//   is p_c(1-p_c)/pi + p_s(1-p_s)/(1-pi); times 1/t that is SE^2 above with pi estimated
//   by n_c/t. So unequal traffic shares are handled, and SE is the familiar unpooled
//   standard error of a difference of proportions.
// - q = (e + b^2/2)/(n + b^2) in the variance only (the point estimate stays e/n): Agresti
//   & Coull's "add z^2/2 successes and failures" (Am. Statistician 52, 1998) with the
//   sequence's own multiplier b in place of z. The plain plug-in q = e/n makes the
//   interval a point with no events yet (0 of 150 calls at a 0.5 % error rate is common)
//   and too narrow whenever the small canary has had fewer events than its rate says;
//   even with one pseudo-count, q = (e+1)/(n+2), the simulation measured 6.2 % A/A
//   miscoverage at 95 % and 8 % false Go at 0.5 %-1 % error rates and a 5 % canary
//   (docs/judge.md). The pseudo-counts grow like log t while n grows like t, so the
//   asymptotic guarantee is unchanged; early intervals are wider, never narrower.
// - t* (Comparison::tuned_for_total) is the number of requests at which the interval is
//   narrowest; rho only trades width early against width late, never validity.
//
// What it promises: with confidence 1 - alpha, the true d lies inside every interval of
// the phase, however often it is looked at -- asymptotically (the guarantee is that of a
// CLT, approached as counts grow; minTotal is the burn-in). docs/judge.md measures how
// close to 1 - alpha it is at the counts a rollout sees.
// What it assumes: requests are independent given their version, each version's failure
// probability is constant during the phase, and the canary's traffic share is constant
// during the phase (the counts restart with each phase). It does NOT protect against:
// correlated requests (the retries of one failed call, one tenant's burst: they count as
// many independent observations and make the interval too narrow); a traffic share that
// changes inside a phase; a failure probability that drifts within the phase (the
// interval then covers the average difference so far); queries that count different
// things for the two versions.
//
// Counts are taken as given, fractional values included: Prometheus's increase()
// extrapolates to the window's edges, so real counts are seldom whole numbers.
#pragma once

#include <string>

#include "common/result.h"

namespace agentrollout::analysis::judge {

// Cumulative counts of one version since the phase began.
struct Counts {
  double events = 0;
  double total = 0;
};

enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual };

// A line on the difference d, e.g. `> 0.02`.
struct Line {
  Op op = Op::kLess;
  double value = 0;
};

// One comparison of API.md §3.3, as the judge needs it.
struct Comparison {
  Line go{Op::kLess, 0};        // must be < or <=
  Line no_go{Op::kGreater, 0};  // must be > or >=
  double confidence = 0.95;     // in [0.8, 0.999]
  double min_total = 100;       // per version; fewer -> Hold
  // t*: total requests (both versions) at which the interval is narrowest; 0 -> the
  // default, kDefaultTunedForTotal.
  double tuned_for_total = 0;
};

inline constexpr double kDefaultTunedForTotal = 10000;

// A two-sided confidence interval for d at the current counts, around the estimate
// e_c/n_c - e_s/n_s (0 while a version has no requests).
struct Interval {
  double estimate = 0;
  double low = -1;
  double high = 1;
};

// Returns the interval of the confidence sequence at these counts. Errors: a count that is
// negative, NaN or infinite, or above 2^53; events above total; confidence outside
// [0.8, 0.999]; tuned_for_total not positive or not finite. A version with no requests
// yet gives [-1, 1].
Result<Interval> ConfidenceSequence(Counts canary, Counts stable, double confidence,
                                    double tuned_for_total = kDefaultTunedForTotal);

enum class Verdict { kGo, kHold, kNoGo };

struct Judgement {
  Verdict verdict = Verdict::kHold;
  Interval interval;
  // How many more requests each version needs before min_total (0 when it has them).
  double canary_needs = 0;
  double stable_needs = 0;
};

// The verdict of API.md §3.3: No-Go when the whole interval satisfies no_go; else Go when
// the whole interval satisfies go; Hold otherwise, and while either version has fewer than
// min_total requests. Errors: those of ConfidenceSequence, a go line that is not < / <=,
// a noGo line that is not > / >=, a line or min_total that is not finite, min_total < 1.
// Every error message names the field and the value.
Result<Judgement> Judge(const Comparison& comparison, Counts canary, Counts stable);

}  // namespace agentrollout::analysis::judge
