#!/usr/bin/env bash
# API requests per minute over a window, from the kube-apiserver's own
# apiserver_request_total (before/after deltas of its /metrics), by verb, resource and
# subresource -- e.g. AgentRollout status writes (PUT agentrollouts/status) of a steady
# fleet, which --status-refresh-interval keeps at about one per progressing rollout per
# 5 minutes (docs/decisions.md, "Status writes of a steady rollout"). Issue 23, goal 1.
#
# Usage: bash bench/status_writes.sh [--seconds N] [--all]
#   --seconds N  the window (default 60)
#   --all        every resource, not only the rollouts.agentops.dev group
# Needs kubectl and KUBECONFIG for the cluster to measure (eval "$(bash hack/cluster.sh env)").
# Prints one JSON object: {"seconds": N, "per_minute": {"PUT agentrollouts/status": 12.0, ...}}.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/common.sh

seconds=60
group='rollouts.agentops.dev'
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --all) group='' ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
  shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "--seconds: '$seconds' is not a positive whole number"
kubectl="${AGENTROLLOUT_KUBECTL:-kubectl}"

# "VERB resource[/subresource] count" per series of apiserver_request_total, summed over
# codes, components and scopes.
snapshot() {
  "$kubectl" get --raw /metrics | awk -v group="$group" '
    /^apiserver_request_total\{/ {
      labels = $0; sub(/^[^{]*\{/, "", labels); sub(/\}.*$/, "", labels)
      verb = ""; resource = ""; subresource = ""; g = ""
      n = split(labels, parts, /",/)
      for (i = 1; i <= n; i++) {
        split(parts[i], kv, /="/); gsub(/"/, "", kv[2])
        if (kv[1] == "verb") verb = kv[2]
        else if (kv[1] == "resource") resource = kv[2]
        else if (kv[1] == "subresource") subresource = kv[2]
        else if (kv[1] == "group") g = kv[2]
      }
      if (group != "" && g != group) next
      key = verb " " resource (subresource == "" ? "" : "/" subresource)
      count[key] += $NF
    }
    END { for (key in count) printf "%s\t%s\n", key, count[key] }'
}

before="$(snapshot)"
sleep "$seconds"
after="$(snapshot)"
python3 - "$seconds" "$before" "$after" <<'PY'
import json, sys
seconds = int(sys.argv[1])
def parse(text):
    counts = {}
    for line in text.splitlines():
        key, _, value = line.partition("\t")
        if key:
            counts[key] = float(value)
    return counts
before, after = parse(sys.argv[2]), parse(sys.argv[3])
rates = {key: round((after[key] - before.get(key, 0.0)) * 60.0 / seconds, 3)
         for key in sorted(after) if after[key] > before.get(key, 0.0)}
print(json.dumps({"seconds": seconds, "per_minute": rates}, indent=1))
PY
