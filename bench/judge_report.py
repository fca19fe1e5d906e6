#!/usr/bin/python3
"""Writes the measured part of docs/judge.md (tables + PNG plots) from agentrollout-judge-sim.

Usage: judge_report.py RESULTS.json OUTPUT.md [--command "how it was run"]

Every number is read from RESULTS.json; nothing is typed in by hand. When OUTPUT.md
exists and holds the markers below, only the text between them is replaced (the method
above them is hand-written); otherwise OUTPUT.md is written with the measured part alone.
Plots are written next to OUTPUT.md as judge-aa.png and judge-trace.png.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy import stats  # noqa: E402

BEGIN = "<!-- judge_report.py: measured results begin -->"
END = "<!-- judge_report.py: measured results end -->"


def clopper_pearson(hits, n, level=0.95):
    """The exact binomial interval for hits/n."""
    a = (1 - level) / 2
    low = 0.0 if hits == 0 else stats.beta.ppf(a, hits, n - hits + 1)
    high = 1.0 if hits == n else stats.beta.ppf(1 - a, hits + 1, n - hits)
    return low, high


def hits(firsts):
    return sum(1 for f in firsts if f)


def rate(firsts):
    """'4.85 % [4.44, 5.29]': the share of phases with a crossing, with its 95 % CP interval."""
    h, n = hits(firsts), len(firsts)
    low, high = clopper_pearson(h, n)
    return f"{100 * h / n:.2f} % [{100 * low:.2f}, {100 * high:.2f}]"


def quantile(firsts, p, minutes_per_interval):
    """The p-quantile of the time to the first crossing; never = after the horizon."""
    times = sorted(f * minutes_per_interval if f else math.inf for f in firsts)
    value = times[max(0, math.ceil(p * len(times)) - 1)]
    return value


def minutes(value, horizon):
    return f"> {horizon:g}" if math.isinf(value) else f"{value:g}"


def percent(x):
    return f"{100 * x:g} %"


def aa_section(results, out_dir):
    cells = results["aa"]
    lines = [
        f"**A/A** — canary and stable with the same true rate, {cells[0]['intervals']} "
        f"evaluations of {cells[0]['interval_seconds']:g} s each, {cells[0]['phases']:,} phases "
        f"per row, confidence {cells[0]['confidence']:g}, minTotal {cells[0]['min_total']:g}. "
        "Each cell is the share of phases in which the thing happened at least once, with "
        "its 95 % Clopper–Pearson interval. *Excludes 0*: the interval ever excluded the "
        "true difference 0 (what the method bounds by 5 %). *No-Go > 0* / *> 0.02*: the "
        "whole interval was ever above that line (a false No-Go). The naive columns use, "
        "at every evaluation, the fixed-sample 95 % interval d̂ ± 1.96·SE of a "
        "two-proportion z-test, as if that evaluation were the only one.",
        "",
        "| true rate | canary share | rps | judge: excludes 0 | judge: No-Go > 0 | "
        "judge: No-Go > 0.02 | naive: excludes 0 | naive: No-Go > 0 | naive: No-Go > 0.02 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    worst = max(cells, key=lambda c: hits(c["sequence"]["excludes_truth"]))
    for c in cells:
        s, n = c["sequence"], c["naive"]
        lines.append(
            f"| {percent(c['stable_rate'])} | {percent(c['canary_share'])} | {c['rps']:g} | "
            f"{rate(s['excludes_truth'])} | {rate(s['no_go'][0])} | {rate(s['no_go'][1])} | "
            f"{rate(n['excludes_truth'])} | {rate(n['no_go'][0])} | {rate(n['no_go'][1])} |")
    early = max(hits(c["sequence"]["excludes_truth_early"]) / c["phases"] for c in cells)
    lines += [
        "",
        f"Largest judge miscoverage: {rate(worst['sequence']['excludes_truth'])} "
        f"({percent(worst['stable_rate'])}, canary {percent(worst['canary_share'])}, "
        f"{worst['rps']:g} rps). Before minTotal (not acted on, not counted above) the "
        f"interval excluded 0 in at most {100 * early:.2f} % of the phases of a row.",
        "",
        "![A/A: how often the interval ever excludes the true difference](judge-aa.png)",
    ]
    plot_aa(cells, os.path.join(out_dir, "judge-aa.png"))
    return lines


def plot_aa(cells, path):
    fig, ax = plt.subplots(figsize=(11, 4.2))
    labels = [f"{percent(c['stable_rate'])}\n{percent(c['canary_share'])}\n{c['rps']:g}"
              for c in cells]
    xs = range(len(cells))
    for offset, key, name, color in ((-0.2, "sequence", "judge (confidence sequence)", "C0"),
                                     (0.2, "naive", "naive per-interval z", "C3")):
        values, errors_low, errors_high = [], [], []
        for c in cells:
            firsts = c[key]["excludes_truth"]
            h, n = hits(firsts), len(firsts)
            low, high = clopper_pearson(h, n)
            values.append(h / n)
            errors_low.append(h / n - low)
            errors_high.append(high - h / n)
        ax.bar([x + offset for x in xs], values, width=0.4, color=color, label=name,
               yerr=[errors_low, errors_high], capsize=2)
    ax.axhline(0.05, color="black", linestyle="--", linewidth=1, label="1 − confidence = 5 %")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_xlabel("true rate / canary share / requests per second")
    ax.set_ylabel("share of phases: interval ever excludes 0")
    ax.set_title("A/A, 48 evaluations per phase: the judge stays under 5 %, peeking at a "
                 "fixed-sample interval does not")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ab_section(results):
    cells = results["ab"]
    horizon = cells[0]["intervals"] * cells[0]["interval_seconds"] / 60
    per = cells[0]["interval_seconds"] / 60
    lines = [
        f"**A/B** — the canary worse than stable; {cells[0]['phases']:,} phases per row, "
        f"evaluated every {cells[0]['interval_seconds']:g} s for up to {horizon:g} minutes, "
        f"confidence {cells[0]['confidence']:g}, minTotal {cells[0]['min_total']:g}. Minutes "
        "from the phase start to the first No-Go, median / 90th percentile "
        f"(\"> {horizon:g}\": not within the horizon), for the line `> 0` (the canary is "
        "worse at all) and for the docs example's line (`> 0.02` for errors, `> 0.05` for "
        "slow calls); *caught* is the share of phases with a No-Go within the horizon.",
        "",
        "| change | canary share | rps | No-Go > 0: median / p90 min | caught | "
        "No-Go at the example line | line | caught |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        first, example = c["sequence"]["no_go"][0], c["sequence"]["no_go"][1]
        line = c["no_go_lines"][1]
        truth = c["canary_rate"] - c["stable_rate"]
        if truth <= line + 1e-12:
            example_text, caught = f"— (true d = {truth:g} is not above the line)", "—"
        else:
            example_text = (f"{minutes(quantile(example, 0.5, per), horizon)} / "
                            f"{minutes(quantile(example, 0.9, per), horizon)}")
            caught = percent(round(hits(example) / len(example), 4))
        lines.append(
            f"| {c['name']} | {percent(c['canary_share'])} | {c['rps']:g} | "
            f"{minutes(quantile(first, 0.5, per), horizon)} / "
            f"{minutes(quantile(first, 0.9, per), horizon)} | "
            f"{percent(round(hits(first) / len(first), 4))} | {example_text} | `> {line:g}` | "
            f"{caught} |")
    return lines


def go_section(results):
    cells = results["go"]
    horizon = cells[0]["intervals"] * cells[0]["interval_seconds"] / 60
    per = cells[0]["interval_seconds"] / 60
    lines = [
        f"**Go** — non-inferiority: minutes until the whole interval is below the go line, "
        f"{cells[0]['phases']:,} phases per row, up to {horizon:g} minutes. The first rows "
        "have equal rates (a Go is right; how long it takes); the last rows put the canary "
        "exactly on the go line (a Go is wrong; how often it comes, with its 95 % "
        "Clopper–Pearson interval — the method bounds it by 5 %).",
        "",
        "| case | canary share | rps | Go: median / p90 min | Go within the horizon |",
        "|---|---|---|---|---|",
    ]
    for c in cells:
        go = c["sequence"]["go"][0]
        on_line = abs((c["canary_rate"] - c["stable_rate"]) - c["go_lines"][0]) < 1e-12
        share = rate(go) if on_line else percent(round(hits(go) / len(go), 4))
        lines.append(
            f"| {c['name']} | {percent(c['canary_share'])} | {c['rps']:g} | "
            f"{minutes(quantile(go, 0.5, per), horizon)} / "
            f"{minutes(quantile(go, 0.9, per), horizon)} | {share} |")
    return lines


def tuning_section(results):
    cells = results["tuning"]
    per = cells[0]["interval_seconds"] / 60
    tuned_values = sorted({c["tuned_for_total"] for c in cells})
    rows = {}
    for c in cells:
        key = (c["name"], c["canary_share"], c["rps"])
        rows.setdefault(key, {})[c["tuned_for_total"]] = c
    lines = [
        "**Tuning t\\*** (`tunedForTotal`, the request count where the interval is "
        "narrowest): median minutes to No-Go `> 0` for the A/B changes above, and the A/A "
        "miscoverage where the counts are smallest, per t\\*.",
        "",
        "| case | canary share | rps | " + " | ".join(f"t* = {t:,.0f}" for t in tuned_values)
        + " |",
        "|---|---|---|" + "---|" * len(tuned_values),
    ]
    for (name, share, rps), by_tuned in rows.items():
        values = []
        for t in tuned_values:
            c = by_tuned[t]
            if name.startswith("A/A"):
                values.append(rate(c["sequence"]["excludes_truth"]))
            else:
                horizon = c["intervals"] * per
                values.append(minutes(quantile(c["sequence"]["no_go"][0], 0.5, per), horizon))
        lines.append(f"| {name} | {percent(share)} | {rps:g} | " + " | ".join(values) + " |")
    return lines


def trace_section(results, out_dir):
    trace = results["trace"]
    plot_trace(trace, os.path.join(out_dir, "judge-trace.png"))
    return [
        f"One simulated phase (errors 1 % → 5 %, canary {percent(trace['canary_share'])}, "
        f"{trace['rps']:g} rps, minTotal {trace['min_total']:g}): the judge's interval "
        "against the naive one at each evaluation.",
        "",
        "![One phase: the interval over time](judge-trace.png)",
    ]


def plot_trace(trace, path):
    points = trace["points"]
    minute = [p["interval"] * trace["interval_seconds"] / 60 for p in points]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.fill_between(minute, [p["sequence"][1] for p in points],
                    [p["sequence"][2] for p in points], alpha=0.3, color="C0",
                    label="judge: confidence sequence (95 %)")
    ax.plot(minute, [p["naive"][1] for p in points], color="C3", linewidth=0.8,
            linestyle=":", label="naive fixed-sample 95 % interval")
    ax.plot(minute, [p["naive"][2] for p in points], color="C3", linewidth=0.8, linestyle=":")
    ax.plot(minute, [p["sequence"][0] for p in points], color="C0", label="d̂ = e_c/n_c − e_s/n_s")
    truth = trace["canary_rate"] - trace["stable_rate"]
    ax.axhline(truth, color="black", linewidth=0.8, label=f"true d = {truth:g}")
    ax.axhline(0.02, color="C1", linestyle="--", linewidth=1, label="noGo > 0.02")
    ax.axhline(0.005, color="C2", linestyle="--", linewidth=1, label="go < 0.005")
    enough = [m for m, p in zip(minute, points)
              if p["canary"][1] >= trace["min_total"] and p["stable"][1] >= trace["min_total"]]
    if enough:
        ax.axvline(enough[0], color="grey", linewidth=0.8, linestyle="-.",
                   label="both versions reach minTotal")
    ax.set_ylim(-0.1, 0.2)
    ax.set_xlabel("minutes since the phase started")
    ax.set_ylabel("canary − stable error rate")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("output")
    parser.add_argument("--command", default="bench/judge_sim.sh")
    args = parser.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    out_dir = os.path.dirname(os.path.abspath(args.output))

    body = [
        BEGIN,
        "",
        f"Produced by `{args.command}` (seed {results['seed']}; every cell draws from its "
        "own generator derived from the seed, so a row does not depend on the others). "
        "Traffic: each interval carries rps × 60 requests, each routed to the canary with "
        "probability *canary share* and failing (or slow) with its version's true rate, "
        "independently.",
        "",
    ]
    for section in (aa_section(results, out_dir), ab_section(results), go_section(results),
                    tuning_section(results), trace_section(results, out_dir)):
        body += section + [""]
    body.append(END)
    measured = "\n".join(body)

    text = None
    if os.path.exists(args.output):
        with open(args.output) as f:
            text = f.read()
    if text and BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + measured + text[text.index(END) + len(END):]
    else:
        text = "# The judge: measured\n\n" + measured + "\n"
    with open(args.output, "w") as f:
        f.write(text)
    print(f"judge_report.py: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
