"""The judge's confidence sequence computed independently, with scipy, and compared.

analysis/judge/judge.cc evaluates the closed form of the boundary. This script does not:
it builds Robbins' normal mixture from its definition and solves for the boundary
numerically, so a slip in the closed form, in rho's tuning or in the variance shows up.

For a sum S of t standardized increments, the mixture of the exponential martingales
exp(lambda S - lambda^2 t / 2) over lambda ~ N(0, rho^2) is, with s = S / sqrt(t) and
u = lambda sqrt(t) ~ N(0, x), x = rho^2 t,
    M(s) = integral exp(u s - u^2/2) N(u; 0, x) du,
and Ville's inequality gives P(exists t: M >= 1/alpha) <= alpha. The boundary s*(x)
solves M(s) = 1/alpha (scipy.integrate.quad + scipy.optimize.brentq); the margin is
SE * s*(x), SE from q = (e + k)/(n + 2k) per version with k = s*(x)^2 / 2. x = x* t / t*, with x* the minimizer of the margin at t = t*, found here
with scipy.optimize.minimize_scalar on the numerical boundary (the paper gives it as
-W_{-1}(-alpha^2/e) - 1; scipy.special.lambertw checks that too).
Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas, "Time-uniform central limit theory and
asymptotic confidence sequences", Annals of Statistics 52(6), 2024, arXiv:2103.06476.

Usage: reference.py --judge PATH/TO/judge_grid [--cases N] [--seed S]
Exit 0 when every case agrees within tolerance, 1 otherwise (each mismatch printed).
"""

import argparse
import functools
import math
import subprocess
import sys

import numpy as np
from scipy import integrate, optimize, special

RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-9


def log_mixture(s, x):
    """log M(s) for prior variance x; exp(us - u^2/2) = exp(s^2/2) exp(-(u-s)^2/2).

    The integrand is scaled by its peak (found numerically) so nothing underflows."""
    log_normalizer = -0.5 * math.log(2 * math.pi * x)

    def log_integrand(u):  # the Gaussian likelihood in u times the N(0, x) density
        return -0.5 * (u - s) ** 2 - 0.5 * u * u / x + log_normalizer

    peak = optimize.minimize_scalar(lambda u: -log_integrand(u), bracket=(min(0.0, s), s),
                                    options={"xtol": 1e-12}).x
    top = log_integrand(peak)
    # Both factors are Gaussians of width at most 1 around the peak: +-15 holds all of it.
    value, _ = integrate.quad(lambda u: math.exp(log_integrand(u) - top), peak - 15, peak + 15,
                              points=[peak], epsabs=0, epsrel=1e-11, limit=200)
    return 0.5 * s * s + top + math.log(value)


@functools.lru_cache(maxsize=None)
def boundary(x, alpha):
    """s*(x): where the mixture reaches 1/alpha."""
    target = math.log(1 / alpha)
    high = 1.0
    while log_mixture(high, x) < target:  # tiny x (t far below t*) puts s* in the thousands
        high *= 2
    return optimize.brentq(lambda s: log_mixture(s, x) - target, 0.0, high, xtol=1e-14,
                           rtol=1e-14, maxiter=200)


@functools.lru_cache(maxsize=None)
def optimal_x(alpha):
    """x* = rho^2 t*: the prior variance that minimizes the boundary at t = t*."""
    result = optimize.minimize_scalar(lambda log_x: boundary(math.exp(log_x), alpha),
                                      bracket=(0.0, 2.0, 5.0),
                                      options={"xtol": 1e-12})
    x_numeric = math.exp(result.x)
    x_lambert = float(-special.lambertw(-alpha * alpha / math.e, k=-1).real - 1)
    # The minimum is flat: the argmin agrees only to ~sqrt(machine precision), the value
    # it gives much better; the Lambert form (what the paper states) is used from here.
    if abs(x_numeric - x_lambert) > 1e-3 * x_lambert:
        raise AssertionError(f"x* by minimization {x_numeric} != Lambert W form {x_lambert}")
    return x_lambert


def reference(ec, nc, es, ns, confidence, tuned):
    """(estimate, low, high), or None where the judge must refuse the input."""
    counts = (ec, nc, es, ns)
    if any(not math.isfinite(v) or v < 0 or v > 2.0**53 for v in counts):
        return None
    if ec > nc * (1 + 1e-9) + 1e-9 or es > ns * (1 + 1e-9) + 1e-9:
        return None
    if not 0.8 <= confidence <= 0.999 or not 0 < tuned <= 2.0**53:
        return None
    if nc == 0 or ns == 0:
        return (0.0, -1.0, 1.0)
    ec, es = min(ec, nc), min(es, ns)
    alpha = 1 - confidence
    x = optimal_x(alpha) * (nc + ns) / tuned
    b = boundary(x, alpha)
    k = b * b / 2  # Agresti-Coull pseudo-counts with the boundary in place of z
    qc = (ec + k) / (nc + 2 * k)
    qs = (es + k) / (ns + 2 * k)
    se = np.sqrt(qc * (1 - qc) / nc + qs * (1 - qs) / ns)
    margin = b * se
    estimate = ec / nc - es / ns
    return (estimate, max(-1.0, estimate - margin), min(1.0, estimate + margin))


def grid(count, seed):
    """Edge cases, then `count` random cases over the ranges a rollout sees."""
    cases = [
        (30, 1000, 100, 10000, 0.95, 10000),
        (0, 150, 0, 2850, 0.95, 10000),
        (0, 0, 10, 1000, 0.95, 10000),
        (1, 1, 0, 1, 0.95, 10000),
        (1e9, 1e9, 0, 1e9, 0.8, 10000),
        (10.4, 997.2, 99.9, 10003.7, 0.999, 1000),
        (5, 100, 5, 100, 0.8, 1e6),
        (1000.0000000001, 1000, 0, 1000, 0.95, 10000),
        # refused
        (-1, 10, 0, 10, 0.95, 10000),
        (11, 10, 0, 10, 0.95, 10000),
        (0, 1e17, 0, 10, 0.95, 10000),
        (0, 10, 0, 10, 0.5, 10000),
        (0, 10, 0, 10, 0.95, 0),
    ]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        nc = float(np.round(10 ** rng.uniform(0, 6.5), int(rng.integers(0, 3))))
        ns = float(np.round(10 ** rng.uniform(0, 6.5), int(rng.integers(0, 3))))
        rate_c = float(rng.choice([0.0, 0.001, 0.005, 0.02, 0.1, 0.5, 0.97, 1.0]))
        rate_s = float(rng.choice([0.0, 0.001, 0.005, 0.02, 0.1, 0.5, 0.97, 1.0]))
        ec = float(rng.binomial(int(nc), rate_c)) if nc >= 1 else 0.0
        es = float(rng.binomial(int(ns), rate_s)) if ns >= 1 else 0.0
        confidence = float(rng.choice([0.8, 0.9, 0.95, 0.99, 0.999]))
        tuned = float(rng.choice([100, 1000, 10000, 250000, 1e7]))
        cases.append((ec, nc, es, ns, confidence, tuned))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", required=True, help="path to the judge_grid binary")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()

    cases = grid(args.cases, args.seed)
    lines = "".join(" ".join(repr(v) for v in case) + "\n" for case in cases)
    run = subprocess.run([args.judge], input=lines, capture_output=True, text=True, check=True)
    answers = run.stdout.splitlines()
    if len(answers) != len(cases):
        print(f"judge_grid answered {len(answers)} lines for {len(cases)} cases")
        return 1

    mismatches = 0
    worst = 0.0
    for case, answer in zip(cases, answers):
        expected = reference(*case)
        if expected is None or answer.startswith("error"):
            if (expected is None) != answer.startswith("error"):
                mismatches += 1
                print(f"MISMATCH {case}: reference {expected}, judge {answer!r}")
            continue
        got = [float(v) for v in answer.split()]
        for name, e, g in zip(("estimate", "low", "high"), expected, got):
            difference = abs(e - g)
            worst = max(worst, difference / max(abs(e), 1e-300))
            if difference > ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * abs(e):
                mismatches += 1
                print(f"MISMATCH {case} {name}: reference {e!r}, judge {g!r}")
    for alpha in sorted({round(1 - c[4], 6) for c in cases if 0.8 <= c[4] <= 0.999}):
        print(f"alpha {alpha}: x* = {optimal_x(alpha):.12g}")
    print(f"{len(cases)} cases, {mismatches} mismatches, largest relative difference "
          f"{worst:.3g} (tolerance {RELATIVE_TOLERANCE:g} relative + {ABSOLUTE_TOLERANCE:g})")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
