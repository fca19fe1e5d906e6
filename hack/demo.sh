#!/usr/bin/env bash
# The demo (README command 1): a canary rollout of a voice agent on an embedded local
# cluster, advanced phase by phase on live metrics, then rolled back by itself when the
# canary degrades -- subtly enough that only the canary-versus-stable comparison sees it.
#
# Usage: hack/demo.sh [--keep] [--non-interactive] [--no-build] | --stop
#   --keep             leave the cluster, Prometheus, agents, operator and dashboard running at
#                      the end (prints how to use them); `hack/demo.sh --stop` stops them
#   --non-interactive  no pauses, no colours; fails unless the rollout advanced and then rolled
#                      back (the e2e test runs this mode)
#   --no-build         use the binaries already in build/default (the e2e test)
#
# What runs, all on 127.0.0.1 with free ports, nothing needing root or a container engine:
#   etcd + kube-apiserver (hack/cluster.sh), Prometheus scraping every second
#   (hack/prometheus.sh), two "agents" -- the test exporter as voice-agent-v1 (stable) and
#   voice-agent-v2 (canary) --, an HTTPRoute between them, agentrollout-operator, and the web
#   dashboard (`kubectl agentrollout dashboard`), whose URL it prints.
# It applies examples/voice-agent-v2.yaml with the bake times cut to seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/common.sh
source hack/lib/proc.sh

keep=0
interactive=1
build=1
stop=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --non-interactive) interactive=0 ;;
    --no-build) build=0 ;;
    --stop) stop=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done
[ -t 1 ] || interactive=0

BUILD_DIR="${AGENTROLLOUT_BUILD_DIR:-$PWD/build/default}"
# Under a test run every server lives below AGENTROLLOUT_RUN_DIR (checked for leftovers).
DEMO_DIR="${AGENTROLLOUT_RUN_DIR:-${TMPDIR:-/tmp}}/agentrollout-demo-$(id -u)"
export AGENTROLLOUT_STATE_DIR="$DEMO_DIR/cluster"
export AGENTROLLOUT_PROM_STATE_DIR="$DEMO_DIR/prometheus"
NS=voice

bold() { if [ "$interactive" -eq 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else echo "$*"; fi; }
step() { echo; bold "==> $*"; }
pause() { if [ "$interactive" -eq 1 ]; then sleep "$1"; fi; }

if [ "$build" -eq 1 ]; then
  step "installing dependencies and building (first run: several minutes)"
  bash hack/install-deps.sh >/dev/null
  cmake --preset default >/dev/null
  cmake --build --preset default --target agentrollout-operator agentrollout-test-exporter \
    kubectl-agentrollout
fi
OPERATOR="$BUILD_DIR/operator/agentrollout-operator"
EXPORTER="$BUILD_DIR/analysis/exporter/agentrollout-test-exporter"
PLUGIN_DIR="$BUILD_DIR/plugin"
for bin in "$OPERATOR" "$EXPORTER" "$PLUGIN_DIR/kubectl-agentrollout"; do
  [ -x "$bin" ] || die "$bin is missing: build it (drop --no-build)"
done

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$keep" -eq 1 ] && [ "$rc" -eq 0 ]; then
    step "everything is still running (--keep)"
    echo "  export KUBECONFIG=$AGENTROLLOUT_STATE_DIR/kubeconfig PATH=$KUBE_BIN_DIR:$PLUGIN_DIR:\$PATH"
    echo "  kubectl get aro -n $NS -w"
    echo "  kubectl agentrollout status voice-agent-v2 -n $NS"
    echo "  kubectl annotate aro voice-agent-v2 -n $NS rollouts.agentops.dev/action=retry"
    echo "  curl -XPOST '$(cat "$DEMO_DIR/v2.url")/control?slowRatio=0'   # heal the canary"
    echo "  Prometheus: $(bash hack/prometheus.sh url)   operator log: $DEMO_DIR/operator.log"
    echo "  dashboard:  $(cat "$DEMO_DIR/dashboard.url")"
    echo "  stop it all: bash hack/demo.sh --stop"
    return 0
  fi
  echo
  bold "==> tearing down"
  stop_pid "$DEMO_DIR/dashboard.pid" "$DEMO_DIR" dashboard
  stop_pid "$DEMO_DIR/operator.pid" "$DEMO_DIR" operator
  stop_pid "$DEMO_DIR/v1.pid" "$DEMO_DIR" voice-agent-v1
  stop_pid "$DEMO_DIR/v2.pid" "$DEMO_DIR" voice-agent-v2
  bash hack/prometheus.sh stop >/dev/null 2>&1 || true
  bash hack/cluster.sh down >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    echo "demo failed (exit $rc); operator log tail:" >&2
    tail -n 30 "$DEMO_DIR/operator.log" >&2 2>/dev/null || true
  fi
  rm -rf "$DEMO_DIR"
  exit "$rc"
}

if [ "$stop" -eq 1 ]; then
  keep=0
  teardown
fi

mkdir -p "$DEMO_DIR"
trap teardown EXIT
trap 'exit 130' INT TERM

step "control plane: etcd + kube-apiserver (built from Go modules, cached)"
bash hack/kube-bins.sh
bash hack/cluster.sh up
export KUBECONFIG="$AGENTROLLOUT_STATE_DIR/kubeconfig"
export PATH="$KUBE_BIN_DIR:$PLUGIN_DIR:$PATH"

# The binaries run through links inside DEMO_DIR: a process counts as the demo's (and is
# stopped by pid) only while its command line names DEMO_DIR.
mkdir -p "$DEMO_DIR/bin"
ln -sf "$OPERATOR" "$DEMO_DIR/bin/agentrollout-operator"
ln -sf "$EXPORTER" "$DEMO_DIR/bin/agentrollout-test-exporter"
ln -sf "$PLUGIN_DIR/kubectl-agentrollout" "$DEMO_DIR/bin/kubectl-agentrollout"

# first_line FILE SED_SCRIPT: the first line of a server's log as SED_SCRIPT prints it (the
# servers print their address first), waiting up to 10 s for it; "" when it never does.
first_line() {
  local line="" i
  for i in $(seq 1 100); do
    line="$(sed -n "1{$2}" "$1")"
    [ -n "$line" ] && break
    sleep 0.1
  done
  echo "$line"
}

# start_agent NAME: the test exporter as one version of the agent; records its URL.
start_agent() {
  local name="$1" short="${1#voice-agent-}" port
  start_detached "$DEMO_DIR/$short.pid" "$DEMO_DIR/$short.log" \
    "$DEMO_DIR/bin/agentrollout-test-exporter" --listen 127.0.0.1:0 --version-label "$name" \
    --rps 200 --latency-ms 350
  port="$(first_line "$DEMO_DIR/$short.log" '/^[0-9][0-9]*$/p')"
  [ -n "$port" ] || die "$name did not start; see $DEMO_DIR/$short.log"
  echo "http://127.0.0.1:$port" >"$DEMO_DIR/$short.url"
}
step "two agents: voice-agent-v1 (stable) and voice-agent-v2 (canary), 200 requests/s each"
start_agent voice-agent-v1
start_agent voice-agent-v2
V2_URL="$(cat "$DEMO_DIR/v2.url")"
echo "  v1 $(cat "$DEMO_DIR/v1.url")/metrics   v2 $V2_URL/metrics"

step "Prometheus scraping both every second"
PROM_URL="$(bash hack/prometheus.sh start "$(cat "$DEMO_DIR/v1.url")" "$V2_URL")"
echo "  $PROM_URL"

step "namespace $NS and the HTTPRoute voice-agent (100 % to v1)"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: voice-agent, namespace: $NS}
spec:
  parentRefs: [{name: public-gateway}]
  rules:
  - backendRefs:
    - {name: voice-agent-v1, port: 8080, weight: 100}
    - {name: voice-agent-v2, port: 8080, weight: 0}
EOF

step "agentrollout-operator"
start_detached "$DEMO_DIR/operator.pid" "$DEMO_DIR/operator.log" \
  "$DEMO_DIR/bin/agentrollout-operator" --kubeconfig "$KUBECONFIG" \
  --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 --log-format text
echo "  log: $DEMO_DIR/operator.log"

step "the web dashboard (kubectl agentrollout dashboard)"
start_detached "$DEMO_DIR/dashboard.pid" "$DEMO_DIR/dashboard.log" \
  "$DEMO_DIR/bin/kubectl-agentrollout" dashboard --kubeconfig "$KUBECONFIG" -n "$NS" \
  --address 127.0.0.1:0
# Its first line: "dashboard: http://127.0.0.1:PORT/ (namespace voice); Ctrl-C stops it".
dashboard_url="$(first_line "$DEMO_DIR/dashboard.log" 's/^dashboard: \(http[^ ]*\) .*/\1/p')"
[ -n "$dashboard_url" ] || die "the dashboard did not start; see $DEMO_DIR/dashboard.log"
echo "$dashboard_url" >"$DEMO_DIR/dashboard.url"
echo "  open $dashboard_url in a browser to watch the rollout live"

# The example with bake times in seconds, queries over 10 s windows, analysis every 2 s,
# the local Prometheus, no Slack webhook, and phase 3's approval left in (the demo shows it).
step "applying examples/voice-agent-v2.yaml, bake times cut to 8 s per phase"
kubectl create --dry-run=client -o json -f examples/voice-agent-v2.yaml |
  jq --arg prom "$PROM_URL" '
    .spec.analysis.prometheus.address = $prom
    | .spec.analysis.interval = "2s"
    | .spec.analysis.metrics |= map(.query |= gsub("\\[5m\\]"; "[10s]"))
    | .spec.phases |= map(if .duration then .duration = "8s" else . end)
    | del(.spec.notifications)' >"$DEMO_DIR/voice-agent-v2.json"
kubectl apply -f "$DEMO_DIR/voice-agent-v2.json"

# show_progress: one line of what a person watches.
show_progress() {
  local aro route flag
  aro="$(kubectl get aro voice-agent-v2 -n $NS -o json)"
  route="$(kubectl get httproute voice-agent -n $NS \
    -o jsonpath='{.spec.rules[0].backendRefs[0].weight}/{.spec.rules[0].backendRefs[1].weight}')"
  flag="$(kubectl get configmap feature-flags -n $NS -o jsonpath='{.data.flags\.json}' 2>/dev/null |
    jq -r '.voice_agent_v2 | "\(.enabled) \(.percentage)%"' 2>/dev/null || echo "-")"
  jq -r --arg route "$route" --arg flag "$flag" '
    .status as $s
    | "\(now | strftime("%H:%M:%S"))  \($s.phase // "-")  step=\($s.currentPhase.name // "-")"
      + "  flag=\($flag)  route v1/v2=\($route)  verdict=\($s.verdict // "-")  "
      + ([$s.analysis.metrics[]? | "\(.name)=\(if .interval then "[\(.interval[0]),\(.interval[1])]" elif (.value // "") == "" then "no-data" else .value end)"] | join(" "))' <<<"$aro"
}
phase_of() { kubectl get aro voice-agent-v2 -n $NS -o jsonpath='{.status.phase}'; }
step_of() { kubectl get aro voice-agent-v2 -n $NS -o jsonpath='{.status.currentPhase.name}'; }

# watch_until DEADLINE_SECONDS CONDITION...: prints progress every second until CONDITION.
watch_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  while [ "$(date +%s)" -lt "$deadline" ]; do
    show_progress
    if "$@"; then return 0; fi
    sleep 1
  done
  show_progress
  return 1
}
awaiting_approval() { [ "$(phase_of)" = AwaitingApproval ]; }
rolled_back() { [ "$(phase_of)" = RolledBack ]; }

step "watching: canary 5 % -> early-adopters 10 % -> expansion 25 % -> majority 50 % (approval)"
watch_until 150 awaiting_approval ||
  die "the rollout did not reach the approval gate of phase 'majority' (now: $(phase_of) in $(step_of))"
advanced_to="$(step_of)"
pause 3

# 4.5 % of the canary's calls take 1.5 s: its p95 stays fast (latency-p95-ms keeps Go, as
# does every absolute line), but the share of calls over 800 ms is 4.5 points above v1's,
# past slow-calls-vs-v1's No-Go line of 3 points once the judge is sure of it.
step ">>> the marked moment: 4.5 % of the canary's calls turn slow (1.5 s) before anyone promotes; p95 stays fast"
curl -fsS -XPOST "$V2_URL/control?slowRatio=0.045&slowLatencyMs=1500" >/dev/null
watch_until 150 rolled_back || die "the rollout did not roll back (now: $(phase_of))"

step "automatic rollback: flag off, all traffic back on v1"
kubectl get aro -n $NS -o wide
echo
kubectl describe aro voice-agent-v2 -n $NS
echo
echo "flags.json: $(kubectl get configmap feature-flags -n $NS -o jsonpath='{.data.flags\.json}')"

weights="$(kubectl get httproute voice-agent -n $NS \
  -o jsonpath='{.spec.rules[0].backendRefs[0].weight}/{.spec.rules[0].backendRefs[1].weight}')"
flag_state="$(kubectl get configmap feature-flags -n $NS -o jsonpath='{.data.flags\.json}' |
  jq -c '.voice_agent_v2 | [.enabled, .percentage]')"
[ "$weights" = "100/0" ] || die "route weights are $weights after the rollback, want 100/0"
[ "$flag_state" = "[false,0]" ] || die "flag is $flag_state after the rollback, want [false,0]"
decided_by="$(kubectl get aro voice-agent-v2 -n $NS -o jsonpath='{.status.rollback.metric}')"
[ "$decided_by" = slow-calls-vs-v1 ] ||
  die "the rollback was decided by '$decided_by', want the comparison slow-calls-vs-v1"
echo "rolled back by the comparison $decided_by: $(kubectl get aro voice-agent-v2 -n $NS \
  -o jsonpath='{.status.rollback.reason}')"
echo
bold "demo passed: advanced to '$advanced_to', then rolled back by itself on $decided_by (route $weights, flag $flag_state)"
