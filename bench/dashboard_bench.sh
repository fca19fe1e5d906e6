#!/usr/bin/env bash
# The dashboard at scale (bench/dashboard_bench.py): N AgentRollouts (default 1,000) on a
# control plane of its own (hack/cluster.sh, a state directory of its own), the plugin's
# dashboard, Debian's Chromium. Prints the measurements as JSON.
# Usage: bash bench/dashboard_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/common.sh
py="$(bash hack/python-playwright.sh)"
export AGENTROLLOUT_STATE_DIR
AGENTROLLOUT_STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dashboard-bench-cluster-XXXXXX")"
trap 'bash hack/cluster.sh down >/dev/null 2>&1 || true' EXIT
bash hack/kube-bins.sh >&2
bash hack/cluster.sh up >&2
KUBECONFIG="$AGENTROLLOUT_STATE_DIR/kubeconfig" "$py" bench/dashboard_bench.py "$@"
