#!/usr/bin/env python3
"""The operator's live heap at steady state, split by owner, from heaptrack traces.

Usage: heap_breakdown.py TRACE.gz [TRACE.gz ...] [--json OUT]
  Each trace is one scale run's (bench/run.sh with BENCH_HEAPTRACK=1 and a glibc build in
  BENCH_OPERATOR: heaptrack does not see jemalloc's operator new); the rollout count comes
  from its name (heaptrack-agentrollout-N-R.gz). With traces at two or more N, the slope
  between the smallest and the largest N is the per-rollout cost of each owner.

heaptrack_print writes the stacks of the allocations alive when the heap was at its largest
(a flame graph's input, cost type "peak"); each is charged to the first owner in OWNERS
whose pattern one of its frames matches. The peak comes after the first pass, when every
rollout has been reconciled, written and registered for analysis, so it is the steady
state's heap plus what that pass still held (heaptrack 1.4's massif export, which could
show a later moment, writes empty allocation trees).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

OWNERS = [
    ("AgentRollout objects (informer cache)",
     re.compile(r"ObservedRollout|DecodeSpec|DecodeStatus|DecodeObjectMeta")),
    # The read caches are the operator's only informers of plain JSON objects.
    ("read caches (ConfigMaps, HTTPRoutes, FeatureFlags)",
     re.compile(r"ReadCacheClient|kube::Informer<nlohmann::")),
    ("status refresh (values waiting to be written)", re.compile(r"RecentWrites")),
    ("per-rollout /metrics series", re.compile(r"operator_::Metrics")),
    ("analysis scheduler", re.compile(r"analysis::")),
    ("reconciler per-rollout state", re.compile(r"controllers::Reconciler|WorkQueue")),
    ("informer keys and index", re.compile(r"kube::InformerCore|kube::Reflector")),
]
REST = "rest (libraries, threads, buffers)"


def peak_stacks(trace):
    """(frames, bytes) of the allocations alive when the heap was at its largest."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stacks")
        subprocess.run(
            ["heaptrack_print", "-f", trace, "-t", "0", "--print-peaks", "0",
             "--print-allocators", "0", "--print-temporary", "0", "--print-leaks", "0",
             "--flamegraph-cost-type", "peak", "-F", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as lines:
            for line in lines:
                stack, _, cost = line.rstrip("\n").rpartition(" ")
                if stack and cost.isdigit():
                    yield stack.split(";"), int(cost)


def breakdown(trace):
    owners = {name: 0 for name, _ in OWNERS}
    owners[REST] = 0
    heap = 0
    for frames, cost in peak_stacks(trace):
        heap += cost
        text = "\n".join(frames)
        owner = next((name for name, pattern in OWNERS if pattern.search(text)), REST)
        owners[owner] += cost
    return heap, owners


def rollouts_of(trace):
    match = re.search(r"heaptrack-agentrollout-(\d+)-\d+\.gz$", trace)
    if not match:
        sys.exit(f"{trace}: expected heaptrack-agentrollout-N-R.gz")
    return int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="+")
    parser.add_argument("--json")
    args = parser.parse_args()
    runs = sorted(((rollouts_of(t), *breakdown(t)) for t in args.traces), key=lambda r: r[0])
    slope = len(runs) >= 2 and runs[-1][0] > runs[0][0]
    header = "| owner | " + " | ".join(f"N = {n:,} (MiB)" for n, _, _ in runs)
    if slope:
        header += f" | bytes per rollout ({runs[0][0]:,} → {runs[-1][0]:,})"
    print(header + " |")
    print("|---" * (len(runs) + 1 + int(slope)) + "|")
    per_rollout = {}
    for name in [name for name, _ in OWNERS] + [REST, "heap at its peak"]:
        values = [heap if name == "heap at its peak" else owners[name] for _, heap, owners in runs]
        row = f"| {name} | " + " | ".join(f"{v / 2**20:.1f}" for v in values)
        if slope:
            per_rollout[name] = (values[-1] - values[0]) / (runs[-1][0] - runs[0][0])
            row += f" | {per_rollout[name]:,.0f}"
        print(row + " |")
    if args.json:
        result = {"runs": [{"n": n, "heap_bytes": heap, "owners": owners}
                           for n, heap, owners in runs]}
        if slope:
            result["bytes_per_rollout"] = per_rollout
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
