#!/usr/bin/env bash
# The fault-injection suite at any size (docs/chaos.md): builds the operator, the test
# exporter and tests/chaos, then runs the chaos test against a control plane of its own.
#
# Usage: hack/chaos.sh [--faults N] [--kills N] [--rollouts N] [--seed N]
#   --faults    faults scheduled on the two proxies (default 1400; a fault that finds
#               nothing to hit -- the operator is down -- is reported as skipped)
#   --kills     SIGKILLs of the operator (default 60)
#   --rollouts  rollouts per 45 s wave (default 6)
#   --seed      replay a run (default: from the clock; printed)
# The report is printed and written to summary.json in the run's directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/common.sh

faults=1400 kills=60 rollouts=6 seed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --faults) faults="$2"; shift 2 ;;
    --kills) kills="$2"; shift 2 ;;
    --rollouts) rollouts="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) die "unknown argument $1 (see the usage at the top of $0)" ;;
  esac
done
for value in "$faults" "$kills" "$rollouts" ${seed:+"$seed"}; do
  [[ "$value" =~ ^[0-9]+$ ]] || die "not a whole number: $value"
done

cmake --preset default >/dev/null
cmake --build --preset default --target chaos_test
bash hack/kube-bins.sh
export AGENTROLLOUT_RUN_DIR="${AGENTROLLOUT_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/agentrollout-chaos-XXXXXX")}"
# The harness starts a control plane of its own (and stops it); logs of a failed run stay
# in the run directory.
unset AGENTROLLOUT_KUBECONFIG
export AGENTROLLOUT_LOG_DIR="$AGENTROLLOUT_RUN_DIR"
export AGENTROLLOUT_CHAOS_FAULTS="$faults" AGENTROLLOUT_CHAOS_KILLS="$kills"
export AGENTROLLOUT_CHAOS_ROLLOUTS="$rollouts"
[ -z "$seed" ] || export AGENTROLLOUT_CHAOS_SEED="$seed"
log "run directory $AGENTROLLOUT_RUN_DIR"
exec build/default/tests/chaos/chaos_test --gtest_filter='ChaosTest.*'
