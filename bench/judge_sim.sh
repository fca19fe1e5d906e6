#!/usr/bin/env bash
# Runs the judge's simulation and writes docs/judge.md's measured section and plots.
#   bench/judge_sim.sh                 full run (10,000 A/A phases per cell; ~2 min on
#                                      one core), writes docs/judge.md and docs/judge-*.png
#   bench/judge_sim.sh --smoke --sim BIN --dir DIR
#                                      300/100 phases, writes DIR/judge.md (ctest's
#                                      judge_sim_smoke; the page in docs/ is not touched)
# Options: --seed N (default 20), --sim PATH (default build/default/bench/agentrollout-judge-sim).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
sim="$ROOT/build/default/bench/agentrollout-judge-sim"
dir="$ROOT/docs"
seed=20
smoke=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=(--smoke) ;;
    --sim) sim="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    *) echo "judge_sim.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$sim" ] || { echo "judge_sim.sh: $sim not built (cmake --build --preset default --target agentrollout-judge-sim)" >&2; exit 1; }
py="$(bash "$ROOT/hack/python-scipy.sh" numpy scipy matplotlib)" || exit $?
mkdir -p "$dir"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
command=(bench/judge_sim.sh --seed "$seed" "${smoke[@]}")
"$sim" --seed "$seed" "${smoke[@]}" --out "$results"
"$py" "$ROOT/bench/judge_report.py" "$results" "$dir/judge.md" --command "${command[*]}"
