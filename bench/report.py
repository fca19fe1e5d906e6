#!/usr/bin/python3
"""Writes the benchmark report (Markdown + a PNG plot) from bench/run.sh's results.

Usage: report.py RESULTS_DIR OUTPUT.md

Every number in the report is read from the JSON files in RESULTS_DIR (one per
measurement, written by agentrollout-bench and bucket_bench); nothing is typed in by hand.
A hand-written section may be added as RESULTS_DIR/notes.md or bench/notes.md (profiles,
findings); it is copied verbatim.
"""
import glob
import json
import os
import re
import statistics
import sys

GOALS = {
    "rss_mib_10000": 256,
    "cpu_cores_steady": 0.1,
    "ready_s": 3,
    "reaction_p99_ms": 50,
    "bucket_ns": 100,
}


def load(path):
    with open(path) as f:
        return json.load(f)


def mmm(values, fmt="{:.1f}"):
    """min / median / max of the values present, formatted; '–' when none."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return fmt.format(values[0])
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def scale_results(results):
    """{controller: {n: [run, ...]}} from scale-<controller>-<n>-<r>.json."""
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "scale-*-*-*.json"))):
        m = re.match(r"scale-(agentrollout|argo)-(\d+)-(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        out.setdefault(m.group(1), {}).setdefault(int(m.group(2)), []).append(load(path))
    return out


def simultaneous_bursts(results):
    """{n: [{"reaction", "raw", "raw_rmw", "ratio"}, ...]} from reaction-simul-<n>-<r>.json
    and the rawput(-rmw)-<n>-<r>.json measured right after it on the same objects."""
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "reaction-simul-*-*.json"))):
        m = re.match(r"reaction-simul-(\d+)-(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        n, r = m.groups()
        raw_path = os.path.join(results, "rawput-%s-%s.json" % (n, r))
        rmw_path = os.path.join(results, "rawput-rmw-%s-%s.json" % (n, r))
        reaction = load(path)
        raw = load(raw_path) if os.path.exists(raw_path) else None
        rmw = load(rmw_path) if os.path.exists(rmw_path) else None
        ours = reaction.get("throughput_rollbacks_per_s")
        theirs = raw.get("rollbacks_per_s") if raw else None
        out.setdefault(int(n), []).append({
            "reaction": reaction, "raw": raw, "raw_rmw": rmw,
            "ratio": ours / theirs if ours is not None and theirs else None})
    return out


def simultaneous_table(w, simul):
    w("### Rollback at the API server's speed: simultaneous bursts")
    w("")
    w("`agentrollout-bench reaction --burst --spacing-ms 0 -n N`: once every rollout is warm, "
      "the operator is stopped, all N rollouts are flipped at once and the operator is started "
      "again; a start evaluates every rollout at once, so all N No-Go verdicts come in its first "
      "round, beside its first pass (operator `--concurrency 4`). Latency as above (No-Go answer "
      "→ flag and route seen); *rollbacks/s* = rollbacks / (last t1 − first t0); *first → last "
      "t0* is how long the round took to answer all N No-Go values (the analysis scheduler's "
      "share of that span). Right after it, with the operator "
      "stopped, `agentrollout-bench rawput -n N --concurrency 4` does on the same objects "
      "exactly a rollback's writes with nothing else: per rollout a PUT of the flag ConfigMap "
      "(entry disabled at 0 %) and, on a thread of its own, a PUT of the HTTPRoute (canary "
      "weight 0), 4 workers, objects read beforehand — the API server's raw rate. *ratio* = "
      "rollbacks/s ÷ raw rollbacks/s of the same repeat. The operator also reads each object "
      "before its PUT (read-modify-write against the API server) and writes the status; "
      "*raw GET+PUT* is the trivial client doing the reads too (`--read-before-write`).")
    w("")
    w("| N | runs | p50 ms | p99 ms | max ms | p99 from verdict ms | first → last t0 ms "
      "| first t0 → last t1 ms | rollbacks/s | raw PUT rollbacks/s | ratio "
      "| raw GET+PUT rollbacks/s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sorted(simul, reverse=True):
        runs = simul[n]
        f = lambda k: [p["reaction"]["flag_and_route_ms"].get(k) for p in runs]
        w("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, len(runs), mmm(f("p50")), mmm(f("p99")), mmm(f("max")),
            mmm([p["reaction"].get("verdict_to_flag_and_route_ms", {}).get("p99") for p in runs]),
            mmm([p["reaction"].get("first_t0_to_last_t0_ms") for p in runs], "{:.0f}"),
            mmm([p["reaction"].get("first_t0_to_last_t1_ms") for p in runs], "{:.0f}"),
            mmm([p["reaction"].get("throughput_rollbacks_per_s") for p in runs], "{:.0f}"),
            mmm([p["raw"] and p["raw"].get("rollbacks_per_s") for p in runs], "{:.0f}"),
            mmm([p["ratio"] and 100 * p["ratio"] for p in runs], "{:.0f} %"),
            mmm([p["raw_rmw"] and p["raw_rmw"].get("rollbacks_per_s") for p in runs], "{:.0f}")))
    w("")
    missing = sum(p["reaction"].get("rollbacks_missing", 0) for n in simul for p in simul[n])
    w("(min / median / max over repeats.) Rollbacks not seen within 60 s: %d. Raw per-rollout "
      "latency percentiles are in rawput-N-R.json." % missing)
    w("")


def bill(run, key, window="steady"):
    """A figure of a scale run's control-plane bill (control_plane.h), or None."""
    return run.get("control_plane", {}).get(window, {}).get(key)


def total_cores(run, window="steady"):
    """Controller + kube-apiserver + etcd CPU over the steady window (or the whole run), or None."""
    own = run.get("cpu_cores_steady" if window == "steady" else "cpu_cores_window")
    parts = [own, bill(run, "apiserver_cpu_cores", window), bill(run, "etcd_cpu_cores", window)]
    return None if None in parts else sum(parts)


def status_writes_per_minute(run):
    """Steady AgentRollout status writes per minute (PUT and PATCH of agentrollouts/status)."""
    per_minute = bill(run, "requests_per_minute")
    if per_minute is None:
        return None
    return sum(v for k, v in per_minute.items() if k.endswith(" agentrollouts/status"))


def control_plane_verdicts(scale):
    """Issue 23 goal 1 at the largest N both controllers ran with a bill."""
    out = []
    ours, argo = scale.get("agentrollout", {}), scale.get("argo", {})
    with_bill = [n for n in ours if any("control_plane" in r for r in ours[n])]
    if not with_bill:
        return out
    n = max(with_bill)
    o = median([total_cores(r) for r in ours[n]])
    if n in argo and o is not None:
        a = median([total_cores(r) for r in argo[n]])
        if a:
            out.append(("control-plane CPU (controller + apiserver + etcd) ≤ 1/5 of Argo "
                        "Rollouts' at 10,000", "%.3f vs %.3f cores at N = %d: %.1f×" % (o, a, n, a / o),
                        ("met" if o * 5 <= a else "missed: %.2f of Argo's" % (o / a))
                        if n >= 10000 else "not measured at 10,000"))
    writes = median([status_writes_per_minute(r) for r in ours[n]])
    progressing = ours[n][0].get("progressing")
    if writes is not None and progressing:
        limit = progressing / 5.0
        out.append(("steady status writes ≤ 1 per progressing rollout per 5 min",
                    "%.1f/min for %d progressing at N = %d (limit %.1f/min)" % (writes, progressing, n, limit),
                    "met" if writes <= limit else "missed by %.1f/min" % (writes - limit)))
    return out


def restart_section(w, scale, names):
    """The runs with `BENCH_RESTART=1`: the controller started again over what it wrote."""
    rows = []
    for controller in ("agentrollout", "argo"):
        for n in sorted(scale.get(controller, {})):
            restarts = [r["restart"] for r in scale[controller][n] if r.get("restart")]
            if restarts:
                rows.append((controller, n, restarts))
    if not rows:
        return
    w("### Restarted over what it wrote")
    w("")
    w("After each of these runs (`BENCH_RESTART=1`) the controller was stopped (SIGTERM) and "
      "started again over the objects as it had left them, as after an upgrade or a failover, "
      "on a settled control plane like the first start, and measured until its first pass was "
      "over (*first pass over*: the reconcile counter reached N and the queue then read 0). A "
      "first start over the bench's fixture also writes what no earlier operator wrote there "
      "(finalizers, and the flags and routes of the finished rollouts); a restart shows what "
      "a start costs once that is done. *writes*: the apiserver's own count of mutating "
      "requests over the restart, whoever sent them.")
    w("")
    w("| controller | N | repeats | ready s | synced s | first pass over s | peak RSS MiB | CPU s | writes |")
    w("|---" * 9 + "|")
    for controller, n, restarts in rows:
        g = lambda k: [r.get(k) for r in restarts]
        writes = [r["control_plane"]["writes_per_minute"] * r["control_plane"]["seconds"] / 60
                  if r.get("control_plane") else None for r in restarts]
        w("| %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
            names[controller], n, len(restarts), mmm(g("ready_s"), "{:.2f}"),
            mmm(g("synced_s"), "{:.1f}"), mmm(g("steady_from_s"), "{:.1f}"),
            mmm(g("peak_rss_mib")), mmm(g("cpu_seconds"), "{:.1f}"), mmm(writes, "{:.0f}")))
    w("")


def control_plane_section(w, scale):
    """The whole bill of each controller: its CPU, the apiserver's and etcd's, the requests."""
    names = {"agentrollout": "agentrollout-operator", "argo": "Argo Rollouts"}
    rows = [(c, n, scale[c][n]) for c in ("agentrollout", "argo") for n in sorted(scale.get(c, {}))
            if any("control_plane" in r for r in scale[c][n])]
    if not rows:
        return
    w("### The control plane's bill")
    w("")
    w("What a cluster owner pays for each controller: its own CPU plus that of the kube-apiserver "
      "and etcd it keeps busy, over the same steady window (`utime+stime` of each process from "
      "`/proc`), and the API requests served in it, from the apiserver's own "
      "`apiserver_request_total` on its `/metrics` (read at the window's start and end; every "
      "client's requests are in it, the bench's watches and, for Argo, the ReplicaSet stand-in's "
      "status writes, which kube-controller-manager would make in a real cluster). etcd's "
      "growth is that of the data in use in its database over the whole run (populate "
      "excluded: read when the controller starts). Values are min / median / max over the "
      "repeats.")
    w("")
    w("| controller | N | controller CPU | apiserver CPU | etcd CPU | total (cores) | requests/min | "
      "writes/min | status writes/min | etcd data growth MiB | apiserver RSS max MiB |")
    w("|---" * 11 + "|")
    for controller, n, runs in rows:
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            names[controller], n, mmm([r.get("cpu_cores_steady") for r in runs], "{:.3f}"),
            mmm([bill(r, "apiserver_cpu_cores") for r in runs], "{:.3f}"),
            mmm([bill(r, "etcd_cpu_cores") for r in runs], "{:.3f}"),
            mmm([total_cores(r) for r in runs], "{:.3f}"),
            mmm([bill(r, "requests_per_minute_all") for r in runs], "{:.0f}"),
            mmm([bill(r, "writes_per_minute") for r in runs], "{:.0f}"),
            mmm([status_writes_per_minute(r) for r in runs], "{:.1f}") if controller == "agentrollout" else "–",
            mmm([bill(r, "etcd_db_in_use_growth_mib", "run") for r in runs], "{:.1f}"),
            mmm([r.get("control_plane", {}).get("apiserver_rss_max_mib") for r in runs], "{:.0f}")))
    w("")
    w("The whole run, from the controller's start to its end (start-up work included; for a "
      "controller that never reached its steady state, the only figures there are):")
    w("")
    w("| controller | N | run s | controller CPU | apiserver CPU | etcd CPU | total (cores) | writes/min |")
    w("|---" * 8 + "|")
    for controller, n, runs in rows:
        w("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            names[controller], n, mmm([bill(r, "seconds", "run") for r in runs], "{:.0f}"),
            mmm([r.get("cpu_cores_window") for r in runs], "{:.3f}"),
            mmm([bill(r, "apiserver_cpu_cores", "run") for r in runs], "{:.3f}"),
            mmm([bill(r, "etcd_cpu_cores", "run") for r in runs], "{:.3f}"),
            mmm([total_cores(r, "run") for r in runs], "{:.3f}"),
            mmm([bill(r, "writes_per_minute", "run") for r in runs], "{:.0f}")))
    w("")
    for controller in ("agentrollout", "argo"):
        by_n = scale.get(controller, {})
        billed = [n for n in by_n if any("control_plane" in r for r in by_n[n])]
        if not billed:
            continue
        n = max(billed)
        window = "steady" if any(bill(r, "requests_per_minute") for r in by_n[n]) else "run"
        keys = {}
        for r in by_n[n]:
            for k, v in (bill(r, "requests_per_minute", window) or {}).items():
                keys.setdefault(k, []).append(v)
        top = sorted(keys.items(), key=lambda kv: -median(kv[1]))[:12]
        w("%s at N = %d, requests per minute by verb and resource over %s (the 12 largest, "
          "median of %d): %s." % (names[controller], n,
                                   "the steady window" if window == "steady" else "the whole run",
                                   len(by_n[n]),
                                   ", ".join("`%s` %.1f" % (k, median(v)) for k, v in top)))
        w("")


def plot(scale, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_rss, ax_cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = {"agentrollout": "agentrollout-operator", "argo": "Argo Rollouts controller"}
    for controller, by_n in sorted(scale.items()):
        ns = sorted(by_n)
        peak = [median([r.get("peak_rss_mib") for r in by_n[n]]) for n in ns]
        steady = [median([r.get("steady_rss_mib") for r in by_n[n]]) for n in ns]
        cpu = [median([r.get("cpu_cores_steady") for r in by_n[n]]) for n in ns]
        cpu_all = [median([r.get("cpu_cores_window") for r in by_n[n]]) for n in ns]
        label = names[controller]
        line = ax_rss.plot(ns, peak, marker="o", label=label + " (peak)")[0]
        ax_rss.plot(ns, steady, marker="x", linestyle="--", color=line.get_color(),
                    label=label + " (steady)")
        line = ax_cpu.plot(ns, cpu, marker="o", label=label + " (steady, 2nd half)")[0]
        ax_cpu.plot(ns, cpu_all, marker="x", linestyle="--", color=line.get_color(),
                    label=label + " (whole window)")
    ax_rss.axhline(GOALS["rss_mib_10000"], color="grey", linewidth=0.8, linestyle=":")
    ax_rss.set_xlabel("rollouts (N)")
    ax_rss.set_ylabel("RSS (MiB)")
    ax_rss.set_title("Resident memory vs N (median of repeats)")
    ax_cpu.axhline(GOALS["cpu_cores_steady"], color="grey", linewidth=0.8, linestyle=":")
    ax_cpu.set_xlabel("rollouts (N)")
    ax_cpu.set_ylabel("CPU (cores)")
    ax_cpu.set_title("CPU vs N (median of repeats)")
    for ax in (ax_rss, ax_cpu):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    return True


def e2e_table(w, e2e):
    w("| | count | min ms | p50 ms | max ms |")
    w("|---|---|---|---|---|")
    for key, label in (("to_prometheus_above_line_ms", "t0 → Prometheus answers above the line"),
                       ("to_route_weight_0_ms", "t0 → route weight 0"),
                       ("to_flag_and_route_0_ms", "t0 → flag 0 and route weight 0")):
        p = e2e.get(key)
        if p is None:
            continue
        w("| %s | %d | %s | %s | %s |" % (label, p["count"], mmm([p.get("min")], "{:.0f}"),
                                          mmm([p.get("p50")], "{:.0f}"), mmm([p.get("max")], "{:.0f}")))
    w("")


def main():
    results, output = sys.argv[1], sys.argv[2]
    machine = load(os.path.join(results, "machine.json"))
    scale = scale_results(results)
    png_name = os.path.splitext(os.path.basename(output))[0] + "-scale.png"
    has_plot = bool(scale) and plot(scale, os.path.join(os.path.dirname(output) or ".", png_name))
    full = machine["mode"] == "full"
    L = []
    w = L.append

    w("# Benchmarks")
    w("")
    scale_repeats = machine.get("scale_repeats", machine["repeats"])
    env = "BENCH_REPEATS=%d " % machine["repeats"]
    if scale_repeats != machine["repeats"]:
        env += "BENCH_SCALE_REPEATS=%d " % scale_repeats
    if machine.get("steady_s"):
        env += "BENCH_STEADY=%d BENCH_WINDOW=%d " % (machine["steady_s"], machine["window_s"])
    w("Generated by `bench/report.py` from the raw results of `%sbash bench/run.sh%s` "
      "(commit `%s`, %s). Every figure below was measured in that run; the raw JSON files "
      "(one per measurement, with the 1-second time series) and the controller logs stay "
      "in the results directory (`build/default/bench-results/…`)."
      % (env, (" --full" if full else "") + (" --skip-argo" if machine.get("skip_argo") else ""),
         machine["commit"], machine["date"]))
    w("")
    w("Regenerate: `bash bench/run.sh --full` (hours; writes this file), or `bash bench/run.sh` "
      "for a quick pass (N = 200, ~15 min; its report stays in the results directory). "
      "`hack/test.sh` runs only the smoke test (`bench_smoke_test`, N = 200, 10 s of steady state), "
      "which checks that the driver works and produces numbers, not the goals.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w("| CPU | %d cores, %s |" % (machine["cpus"], machine["cpu_model"]))
    w("| Memory | %.1f GiB |" % (machine["mem_total_kib"] / 1024 / 1024))
    w("| Kernel | %s |" % machine["kernel"])
    w("| Control plane | kube-apiserver %s + etcd %s, built from Go modules (hack/kube-bins.sh), "
      "no controller-manager, no nodes |" % (machine["kubernetes"], machine["etcd"]))
    w("| Prometheus | %s, scraping the test exporter every 1 s |" % machine["prometheus"])
    w("| Argo Rollouts | %s (hack/argo-rollouts-bin.sh) |" % machine["argo_rollouts"])
    w("")
    w("The machine is shared: the API server, etcd, Prometheus, the bench driver and the "
      "measured controller all run on the same %d cores, next to other work (the 1-minute "
      "load average before/after each scale run is in its JSON). CPU figures are the measured "
      "process only (`utime+stime` from `/proc/PID/stat`), memory is its `VmRSS` / `VmHWM`."
      % machine["cpus"])
    w("")

    # ------------------------------------------------------------------ goals
    w("## Goals (issues 9 and 23) at a glance")
    w("")
    w("| goal | measured | verdict |")
    w("|---|---|---|")
    ours = scale.get("agentrollout", {})
    biggest = max(ours) if ours else None
    verdicts = []
    if biggest:
        runs = ours[biggest]
        peak = median([r.get("peak_rss_mib") for r in runs])
        target = "at N = %d" % biggest
        if biggest >= 10000:
            verdicts.append(("RSS ≤ 256 MiB at 10,000 rollouts",
                             "peak %.1f MiB (median of %d)" % (peak, len(runs)),
                             "met" if peak <= 256 else "missed by %.1f MiB" % (peak - 256)))
        else:
            verdicts.append(("RSS ≤ 256 MiB at 10,000 rollouts",
                             "peak %.1f MiB %s (10,000 not run)" % (peak, target), "not measured"))
        cpu = median([r.get("cpu_cores_steady") for r in runs])
        if machine.get("steady_s"):
            over = "over %d s after the first pass" % machine["steady_s"]
        else:
            over = "2nd half of a %d s window" % runs[0]["window_s"]
        if cpu is None:
            verdicts.append(("steady CPU ≤ 0.1 core",
                             "%s: the first pass did not end within %d s" % (target, runs[0]["window_s"]),
                             "not measured"))
        else:
            verdicts.append(("steady CPU ≤ 0.1 core", "%.3f cores %s (%s)" % (cpu, target, over),
                             "met" if cpu <= 0.1 else "missed by %.3f cores" % (cpu - 0.1)))
        ready = max(r["ready_s"] for n in ours for r in ours[n] if r.get("ready_s") is not None)
        verdicts.append(("Ready ≤ 3 s", "slowest %.2f s over all N and repeats" % ready,
                         "met" if ready <= 3 else "missed by %.2f s" % (ready - 3)))
    paced = [load(p) for p in sorted(glob.glob(os.path.join(results, "reaction-paced-*.json")))]
    if paced:
        p99 = median([r["flag_and_route_ms"].get("p99") for r in paced])
        verdicts.append(("NoGo → flag 0 % and weight 0 written, p99 ≤ 50 ms",
                         "p99 %.1f ms (median of %d runs of %d rollbacks)"
                         % (p99, len(paced), paced[0]["rollbacks_measured"]),
                         "met" if p99 <= 50 else "missed by %.1f ms" % (p99 - 50)))
    postgres = [load(p) for p in sorted(glob.glob(os.path.join(results, "reaction-postgres-*.json")))]
    if postgres:
        p99 = median([r["verdict_to_flag_ms"].get("p99") for r in postgres])
        verdicts.append(("100 rollouts on one feature_flags table: total rollback reaches the "
                         "row, p99 ≤ 50 ms after the No-Go verdict",
                         "p99 %.1f ms (median of %d runs of %d rollbacks)"
                         % (p99, len(postgres), postgres[0]["rollbacks_measured"]),
                         "met" if p99 <= 50 else "missed by %.1f ms" % (p99 - 50)))
    simul = simultaneous_bursts(results)
    if simul:
        biggest_burst = max(simul)
        ratios = [p["ratio"] for p in simul[biggest_burst] if p["ratio"] is not None]
        if ratios:
            ratio = median(ratios)
            goal = ("burst of 1,000 simultaneous No-Go verdicts: rollbacks/s ≥ 80 % of the API "
                    "server's raw PUT rate")
            measured = "%.0f %% at N = %d (median of %d runs)" % (100 * ratio, biggest_burst,
                                                                len(ratios))
            if biggest_burst >= 1000:
                verdicts.append((goal, measured, "met" if ratio >= 0.8
                                 else "missed by %.1f points" % (100 * (0.8 - ratio))))
            else:
                verdicts.append((goal, measured + " (1,000 not run)", "not measured"))
        if 200 in simul:
            p99 = median([p["reaction"]["flag_and_route_ms"].get("p99") for p in simul[200]])
            if p99 is not None:
                verdicts.append(("burst of 200 simultaneous No-Go verdicts: p99 ≤ 50 ms",
                                 "p99 %.1f ms (median of %d runs)" % (p99, len(simul[200])),
                                 "met" if p99 <= 50 else "missed by %.1f ms" % (p99 - 50)))
        else:
            verdicts.append(("burst of 200 simultaneous No-Go verdicts: p99 ≤ 50 ms",
                             "(no burst of 200 in this run)", "not measured"))
    e2e_path = os.path.join(results, "e2e.json")
    if os.path.exists(e2e_path):
        e2e = load(e2e_path)
        worst = e2e["to_route_weight_0_ms"].get("max")
        limit = 1000 * (e2e["scrape_interval_s"] + e2e["analysis_interval_s"] + 1)
        if worst is not None:
            verdicts.append(("end to end ≤ scrape + interval + 1 s (= %.0f s)" % (limit / 1000),
                             "max %.0f ms over %d trials" % (worst, e2e["to_route_weight_0_ms"]["count"]),
                             "met" if worst <= limit else "missed by %.0f ms" % (worst - limit)))
    hung_path = os.path.join(results, "e2e-hung.json")
    if os.path.exists(hung_path):
        hung = load(hung_path)
        worst = hung["to_flag_and_route_0_ms"].get("max")
        limit = 1000 * (hung["analysis_interval_s"] + 2)
        if worst is not None:
            verdicts.append(("with %d rollouts at hung servers: breach → flag 0 and weight 0 "
                             "≤ interval + 2 s (= %.0f s)" % (hung["hung_rollouts"], limit / 1000),
                             "max %.0f ms over %d trials"
                             % (worst, hung["to_flag_and_route_0_ms"]["count"]),
                             "met" if worst <= limit else "missed by %.0f ms" % (worst - limit)))
    bucket_path = os.path.join(results, "bucket.json")
    if os.path.exists(bucket_path):
        bench = load(bucket_path)["benchmarks"]
        is_on = [b["cpu_time"] for b in bench
                 if b.get("run_type") != "aggregate" and b.get("run_name", b["name"]) == "BM_IsOn"]
        if is_on:
            med = statistics.median(is_on)
            verdicts.append(("tenant evaluation ≤ 100 ns", "isOn %.1f ns (median)" % med,
                             "met" if med <= 100 else "missed by %.1f ns" % (med - 100)))
    verdicts += control_plane_verdicts(scale)
    for goal, measured, verdict in verdicts:
        w("| %s | %s | %s |" % (goal, measured, verdict))
    w("")

    # ------------------------------------------------------------------ bucket
    if os.path.exists(bucket_path):
        data = load(bucket_path)
        w("## 1. Client header: tenant bucket evaluation")
        w("")
        w("`bench/bucket_bench` (Google Benchmark) over `include/agentrollout/flag_client.h`, "
          "1,024 tenant ids cycled (ids like `t-customer-100123` and `+4915…` phone numbers). "
          "`BM_IsOn` is the full decision for the voice-agent flag (2 pinned-on, 1 pinned-off "
          "tenant); `BM_IsOnPinned/K` has K tenants on each pinned list (searched linearly).")
        w("")
        ctx = data.get("context", {})
        w("Library build: `%s`; CPU scaling: %s." % (ctx.get("library_build_type", "?"),
                                                     ctx.get("cpu_scaling_enabled", "?")))
        w("")
        w("| benchmark | ns/op (CPU time) min / median / max over %d repetitions |" % machine["repeats"])
        w("|---|---|")
        by_name = {}
        for b in data["benchmarks"]:
            if b.get("run_type") == "aggregate":
                continue
            by_name.setdefault(b["run_name"] if "run_name" in b else b["name"], []).append(b["cpu_time"])
        for name, times in by_name.items():
            w("| `%s` | %s |" % (name, mmm(times)))
        w("")

    # ------------------------------------------------------------------ scale
    if scale:
        periods = sorted({r.get("metrics_period_s") for runs in scale.values() for n in runs
                          for r in runs[n]} - {None})
        metrics_period_text = "/".join("%g" % p for p in periods) if periods else "1"
        w("## 2. Scale: N AgentRollouts, one operator process")
        w("")
        w("`agentrollout-bench scale` creates N AgentRollouts in a fresh namespace (the voice-agent "
          "runbook of `examples/voice-agent-v2.yaml`: 5 phases 5/10/25/50/100 %% with bake times "
          "4h/24h/24h/48h + approval, 5 Prometheus metrics, a ConfigMap flag store shared by 50 "
          "rollouts, a Gateway API HTTPRoute each) — 20 %% progressing (new, in their 4-hour first "
          "phase), 80 %% finished (three in four `Succeeded`, one in four `RolledBack`, written "
          "through the status subresource as an earlier operator would have left them). "
          "Progressing rollouts analyse %d agents' queries (`{{canary}}` = `agent-<i%%100>-v2`; "
          "the exporter serves agent 0, the others read 0 through `or vector(0)`) every %s. "
          "Then it starts the operator (`--namespace`, `--concurrency 4`, JSON logs), polls "
          "`/readyz` every 10 ms, samples `/proc/PID/status` and `/proc/PID/stat` every second "
          "for the window, and reads `agentrollout_reconcile_total` from `/metrics` every second "
          "until every object was reconciled once, then every %s s, as a Prometheus scrape would "
          "(reading `/metrics` costs the controller CPU; a 1 s read would be counted against it)."
          % (100, machine["interval"], metrics_period_text))
        w("")
        if machine.get("steady_s"):
            w("- *peak RSS*: `VmHWM` (high-water mark); *steady RSS*: median `VmRSS` over the "
              "steady state: the %d s after the start-up work (the operator: *synced*, see "
              "below; Argo: every Rollout and then every updated one reconciled and "
              "the ReplicaSet stand-in idle for 5 s), the run being cut at %d s; *CPU steady*: "
              "CPU seconds used in the steady state / its length; *CPU window*: over the whole "
              "run including start-up." % (machine["steady_s"], machine["window_s"]))
        else:
            w("- *peak RSS*: `VmHWM` (high-water mark); *steady RSS*: median `VmRSS` over the second "
              "half of the window; *CPU steady*: CPU seconds used in the second half / its length; "
              "*CPU window*: over the whole window including start-up.")
        w("- *settle*: after populating and before the controller starts, the seconds until "
          "the kube-apiserver and etcd together used at most 0.25 cores over 10 s (at most 300 s), "
          "so that a controller is not charged for the apiserver still digesting the objects "
          "the bench just created (runs before this column started at once).")
        w("- *ready*: process start → `/readyz` 200 (informer cache synced). *synced*: start → "
          "`agentrollout_reconcile_total` ≥ N (the counter also counts the reconciles that the "
          "first evaluations of the progressing rollouts bring, so this comes before the first pass is over%s)."
          % ("; the steady state begins once, after that, `agentrollout_workqueue_depth` reads 0"
             if any("queue_depth_metric" in r for n in ours for r in ours[n])
             else "; in this run the steady state began there, with the end of the first pass in it"))
        w("")
        if has_plot:
            w("![RSS and CPU against N](%s)" % png_name)
            w("")
        header = ("| controller | N | repeats | peak RSS MiB | steady RSS MiB | CPU steady (cores) "
                  "| CPU window (cores) | threads (max) | ready s | synced s | reconciles/s in sync "
                  "| reconciles/s steady | populate s | settle s |")
        w("Values are min / median / max over the repeats.")
        w("")
        w(header)
        w("|---" * 14 + "|")
        names = {"agentrollout": "agentrollout-operator", "argo": "Argo Rollouts"}
        for controller in ("agentrollout", "argo"):
            for n in sorted(scale.get(controller, {})):
                runs = scale[controller][n]
                g = lambda k: [r.get(k) for r in runs]
                w("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    names[controller], n, len(runs), mmm(g("peak_rss_mib")), mmm(g("steady_rss_mib")),
                    mmm(g("cpu_cores_steady"), "{:.3f}"), mmm(g("cpu_cores_window"), "{:.3f}"),
                    mmm(g("threads_max"), "{:.0f}"), mmm(g("ready_s"), "{:.2f}"),
                    mmm(g("synced_s"), "{:.1f}"), mmm(g("sync_reconciles_per_s"), "{:.0f}"),
                    mmm(g("reconciles_per_s_steady"), "{:.2f}"), mmm(g("populate_s"), "{:.0f}"),
                    mmm(g("settle_s"), "{:.0f}")))
        w("")
        restart_section(w, scale, names)
        sizes = sorted(n for n in ours if median([r.get("steady_rss_mib") for r in ours[n]]) is not None)
        if len(sizes) >= 2:
            lo, hi = sizes[0], sizes[-1]
            slope = lambda key: ((median([r.get(key) for r in ours[hi]]) -
                                  median([r.get(key) for r in ours[lo]])) * 1024 / (hi - lo))
            w("Memory per rollout (issue 23 goal 4, ≤ 12 KiB): the slope of the operator's RSS "
              "between N = %d and N = %d (medians): **%.1f KiB** per rollout at steady state, "
              "%.1f KiB at the peak. The slope holds the informer's AgentRollout cache, the read "
              "caches (ConfigMaps, HTTPRoutes) and the per-rollout state of the controller and "
              "the scheduler; how it splits between them is not measured yet."
              % (lo, hi, slope("steady_rss_mib"), slope("peak_rss_mib")))
            w("")
        if "argo" in scale and ours:
            w("### Side by side with Argo Rollouts")
            w("")
            w("Same API server, same Prometheus, same N, same mix, one after the other. Argo "
              "gets the equivalent objects: per rollout an `AnalysisTemplate` with the same five "
              "queries (`{{args.canary}}`, interval %s, `failureLimit 0`, `consecutiveErrorLimit 3`) "
              "and a canary `Rollout` (4 replicas) with the same steps (setWeight 5/10/25/50/100, "
              "pauses 4h/24h/24h/48h and an indefinite pause for the approval) running that "
              "template as background analysis. Argo is run with `--namespaced` and its default "
              "worker counts." % machine["interval"])
            w("")
            w("No pods run (no controller-manager, no nodes). A new Argo Rollout goes straight to "
              "its stable version, and a canary only starts once the stable ReplicaSet reports "
              "available replicas; so the bench plays the status half of the ReplicaSet "
              "controller (it writes `availableReplicas = spec.replicas` for every ReplicaSet; "
              "those API calls are the bench's, not Argo's), and once Argo has seen every "
              "Rollout it changes the image of the 20 % progressing share. Those then run the "
              "canary: setWeight 5, a running AnalysisRun, the 4-hour pause — the same state the "
              "AgentRollouts are in. The 80 % finished share are Healthy Rollouts at their stable "
              "version (Argo has no `RolledBack` state to preload, so none are aborted). Argo "
              "therefore also watches ReplicaSets, AnalysisRuns, Services, Ingresses and "
              "Experiments and runs its ReplicaSet-scaling canary; the operator instead writes an "
              "HTTPRoute and a ConfigMap flag. Neither controller's readiness is comparable: "
              "Argo's `/healthz` answers before its caches sync, so only *synced* is compared.")
            w("")
            w("| N | peak RSS: Argo / operator | steady RSS: Argo / operator | CPU steady: Argo / operator | CPU window: Argo / operator |")
            w("|---|---|---|---|---|")
            for n in sorted(set(scale["argo"]) & set(ours)):
                def ratio(key, fmt):
                    a = median([r.get(key) for r in scale["argo"][n]])
                    o = median([r.get(key) for r in ours[n]])
                    if a is None or o is None or o == 0:
                        return "–"
                    return ("%s / %s = **%.1f×**" % (fmt.format(a), fmt.format(o), a / o))
                w("| %d | %s | %s | %s | %s |" % (n, ratio("peak_rss_mib", "{:.0f} MiB"),
                                                  ratio("steady_rss_mib", "{:.0f} MiB"),
                                                  ratio("cpu_cores_steady", "{:.3f}"),
                                                  ratio("cpu_cores_window", "{:.3f}")))
            w("")
            w("(Medians over the repeats.)")
            w("")
        control_plane_section(w, scale)
        if os.path.exists(os.path.join(results, "argo-blocked.txt")):
            w("Argo Rollouts: **blocked** — %s." % open(os.path.join(results, "argo-blocked.txt")).read().strip())
            w("")
        elif machine.get("skip_argo"):
            w("Argo Rollouts was left out of this run (`--skip-argo`); the side-by-side figures "
              "are in the last report that has them (`git log -- docs/benchmarks.md`).")
            w("")

    # ------------------------------------------------------------------ reaction
    burst = [load(p) for p in sorted(glob.glob(os.path.join(results, "reaction-burst-*.json")))]
    if paced or burst:
        w("## 3. Reaction: NoGo → flag 0 % and weight 0 written")
        w("")
        w("`agentrollout-bench reaction`: %d progressing rollouts (5 metrics each, own ConfigMap "
          "and HTTPRoute) analysed every %s against a stand-in Prometheus (a local HTTP server "
          "answering `/api/v1/query`), which answers Go values until the bench flips a rollout "
          "(one every 50 ms), then an error rate of 0.5 (No-Go). t0 = the stand-in sends the "
          "first No-Go value; t1 = a watch on the API server has delivered both the flag entry "
          "`enabled: false, percentage: 0` and the canary `weight: 0`. *from No-Go answer* = "
          "t1 − t0; *from verdict* = t1 − the evaluation's last query answer (the controller's "
          "own part: reconcile, the flag write, the route write, watch delivery)."
          % (paced[0]["n"] if paced else burst[0]["n"],
             (paced or burst)[0].get("analysis_interval", "?")))
        w("")
        w("- *spread*: the rollouts are created over one interval while the operator runs, so "
          "their evaluations (and rollbacks) are spread out — one rollback at a time, as in a "
          "fleet whose rollouts started at different times.")
        w("- *burst*: all rollouts exist before the operator starts; the scheduler registers "
          "them during its first pass, so they fall due within moments of each other and every "
          "flipped rollout rolls back at about the same time — 200 near-simultaneous total "
          "rollbacks (a fleet-wide incident).")
        w("")
        w("| case | runs | rollbacks per run | p50 ms | p90 ms | p99 ms | max ms | p99 from verdict ms |")
        w("|---|---|---|---|---|---|---|---|")
        for label, runs in (("spread", paced), ("burst", burst)):
            if not runs:
                continue
            f = lambda k: [r["flag_and_route_ms"].get(k) for r in runs]
            v = [r.get("verdict_to_flag_and_route_ms", {}).get("p99") for r in runs]
            w("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                label, len(runs), mmm([r["rollbacks_measured"] for r in runs], "{:.0f}"),
                mmm(f("p50")), mmm(f("p90")), mmm(f("p99")), mmm(f("max")), mmm(v)))
        w("")
        w("(min / median / max over runs of each percentile.) A rollback writes the flag and "
          "the route at the same time (an advance orders them, see "
          "[the state machine](concepts.md#the-state-machine)); the total is the later "
          "of the two, and per-write percentiles are in the JSON.")
        w("")
    if simul:
        simultaneous_table(w, simul)
    if postgres:
        w("### PostgreSQL flag store: 100 rollouts on one feature_flags table")
        w("")
        w("`agentrollout-bench reaction --postgres-uri URI -n 100`: the spread case with every "
          "rollout's flag a row of one `public.feature_flags` table (`flag.postgres`, row mode, "
          "text[] tenant lists) on a PostgreSQL 15 of its own (`hack/postgres.sh`), the URI in a "
          "labelled Secret. The row's change is seen by `LISTEN` on a trigger's `pg_notify`, "
          "delivered at the write's COMMIT. *verdict → row* = the row committed at `enabled: "
          "false, percentage: 0` − the evaluation's last query answer.")
        w("")
        w("| runs | rollbacks per run | verdict → row p50 ms | p90 ms | p99 ms | max ms | flag and route p99 ms |")
        w("|---|---|---|---|---|---|---|")
        f = lambda k: [r["verdict_to_flag_ms"].get(k) for r in postgres]
        w("| %d | %s | %s | %s | %s | %s | %s |" % (
            len(postgres), mmm([r["rollbacks_measured"] for r in postgres], "{:.0f}"),
            mmm(f("p50")), mmm(f("p90")), mmm(f("p99")), mmm(f("max")),
            mmm([r["verdict_to_flag_and_route_ms"].get("p99") for r in postgres])))
        w("")
    if os.path.exists(e2e_path):
        e2e = load(e2e_path)
        w("### End to end: exporter error ratio up → route weight 0")
        w("")
        w("`agentrollout-bench e2e`: the real chain, one rollout at a time (%d trials): the test "
          "exporter (20 requests/s), Prometheus scraping it every %d s, the operator analysing "
          "every %d s the voice-agent table with 10 s ranges (a 5 m range needs ~15 s of errors "
          "to cross 5 %%). t0 = the POST that sets the exporter's error ratio to 1; then the "
          "first time a Prometheus query (polled every 100 ms) shows the ratio above 0.05, and "
          "the HTTPRoute watch delivering canary weight 0."
          % (e2e["to_route_weight_0_ms"]["count"], e2e["scrape_interval_s"], e2e["analysis_interval_s"]))
        w("")
        e2e_table(w, e2e)
    if os.path.exists(hung_path):
        hung = load(hung_path)
        w("### End to end with %d rollouts at hung servers" % hung["hung_rollouts"])
        w("")
        w("`agentrollout-bench e2e --hung-rollouts %d`: the same trials while %d other rollouts "
          "(20 metrics each, timeout 60 s, interval 10 s) are analysed against servers of their "
          "own that accept each query and never answer (API.md §3.1: rollouts are isolated). "
          "t1 = the later of the HTTPRoute watch delivering canary weight 0 and the ConfigMap "
          "watch delivering the flag at 0 %% / disabled."
          % (hung["hung_rollouts"], hung["hung_rollouts"]))
        w("")
        e2e_table(w, hung)

    # ------------------------------------------------------------------ fan-out
    fan = [load(p) for p in sorted(glob.glob(os.path.join(results, "fanout-*.json")))]
    if fan:
        w("## 4. Analysis fan-out: queries per second sent to Prometheus")
        w("")
        w("`agentrollout-bench fanout` drives the operator's own analysis scheduler "
          "(`analysis/scheduler.h`, 8 workers) against the real Prometheus: N rollouts with the "
          "same five-metric table (same agent), interval %.0f s, measured over %.0f s after one "
          "interval of warm-up. *dedup*: all share one Prometheus target, as in production; "
          "*no dedup*: each rollout has its own `X-Bench-Rollout` header, so no two queries may "
          "share an answer (what a controller without deduplication sends). The rate is read "
          "from Prometheus' own `prometheus_http_requests_total{handler=\"/api/v1/query\"}`."
          % (fan[0]["interval_s"], fan[0]["window_s"]))
        w("")
        w("| N | dedup | queries due /s | Prometheus queries /s | evaluations /s | evaluations skipped | failed queries |")
        w("|---|---|---|---|---|---|---|")
        groups = {}
        for r in fan:
            groups.setdefault((r["n"], r["dedup"]), []).append(r)
        for (n, dedup), runs in sorted(groups.items()):
            w("| %d | %s | %.0f | %s | %s | %s | %s |" % (
                n, "yes" if dedup else "no", runs[0]["queries_due_per_s"],
                mmm([r["prometheus_queries_per_s"] for r in runs], "{:.1f}"),
                mmm([r["evaluations_per_s"] for r in runs], "{:.1f}"),
                mmm([r["evaluations_skipped"] for r in runs], "{:.0f}"),
                mmm([r["scheduler_queries_failed"] for r in runs], "{:.0f}")))
        w("")
        for r in fan:
            if r.get("prometheus_error"):
                w("N = %d, %s: Prometheus did not report its query counter after the window "
                  "(%s); the scheduler sent %.1f queries/s, %.0f of them failed."
                  % (r["n"], "dedup" if r["dedup"] else "no dedup", r["prometheus_error"],
                     r["scheduler_queries_sent_per_s"], r["scheduler_queries_failed"]))
                w("")
    outage_path = os.path.join(results, "outage.json")
    if os.path.exists(outage_path):
        o = load(outage_path)
        w("### Prometheus stopped for %d s" % o["outage_s"])
        w("")
        w("`agentrollout-bench outage`: %d progressing rollouts analysed every %s (timeout 5 s, "
          "`errorLimit 1000` so they keep being analysed), the operator running; Prometheus is "
          "stopped with SIGSTOP (connections are accepted by the kernel and never answered, so "
          "every query runs into its timeout — worse than a refused connection) and resumed "
          "with SIGCONT."
          % (o["n"], o["analysis_interval"]))
        w("")
        w("| | RSS max MiB | threads max |")
        w("|---|---|---|")
        for key, label in (("before", "last 30 s before"), ("during", "during the outage"), ("after", "after it")):
            w("| %s | %.1f | %d |" % (label, o[key]["rss_max_mib"], o[key]["threads_max"]))
        w("")

    # ------------------------------------------------------------------ notes
    for notes in (os.path.join(results, "notes.md"), os.path.join(os.path.dirname(__file__), "notes.md")):
        if os.path.exists(notes):
            w(open(notes).read().rstrip())
            w("")
            break

    with open(output, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
