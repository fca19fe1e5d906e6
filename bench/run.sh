#!/usr/bin/env bash
# The benchmarks of issue 9 in one command; writes docs/benchmarks.md and its plot.
#
# Usage: bash bench/run.sh [--full] [--skip-argo] [--results DIR] [--doc FILE]
#   (default)   quick: N = 200, short windows, one repeat (~15 min); checks that all works
#               and writes its report into the results directory only
#   --full      N = 1000/5000/10000, 5 minutes of steady state after each controller's
#               start-up work at a 1-minute analysis interval, 3 repeats, 200+ rollbacks,
#               simultaneous bursts of 1000 and 200 rollbacks against the API server's raw
#               PUT rate, Argo Rollouts side by side (hours, opt-in);
#               writes docs/benchmarks.md (--doc FILE to write elsewhere)
#   --skip-argo leave out the Argo Rollouts side-by-side runs
#   --only PARTS run only these parts (comma-separated: bucket, scale, reaction, burst,
#               postgres, e2e, fanout, outage), e.g. to measure one figure again
# Env: BENCH_NS (sizes, e.g. "1000 5000"), BENCH_REPEATS, BENCH_STEADY (seconds measured
#      after the start-up work), BENCH_WINDOW (the longest a scale run may take) override
#      the mode's defaults; BENCH_SCALE_REPEATS (default BENCH_REPEATS) repeats only the
#      scale runs, the long part (~25 minutes per repeat with Argo Rollouts at full sizes);
#      BENCH_BURST_NS (simultaneous burst sizes, default "1000 200" / quick "200");
#      BENCH_RESTART=1 starts the operator again after each scale run, over what it wrote,
#      and measures that start until its first pass is over (as after an upgrade);
#      BENCH_PERF=1 records a perf profile of the operator over each steady window
#      (perf-agentrollout-N-R.data, with per-library and per-symbol summaries beside it);
#      BENCH_HEAPTRACK=1 runs the operator under heaptrack (bench/heaptrack_exec.sh) for
#      the whole scale run (heaptrack-agentrollout-N-R.gz, peak consumers beside it; its
#      CPU and timings are then not comparable with unprofiled runs). heaptrack does not see
#      jemalloc's operator new, so profile a glibc build: BENCH_OPERATOR=PATH measures that
#      binary instead (cmake --preset default -B build/heap -DAGENTROLLOUT_JEMALLOC=OFF).
#
# Everything runs on this machine against servers this script starts and stops: its own
# etcd + kube-apiserver (hack/cluster.sh, a state directory of its own), Prometheus
# scraping the test exporter every second (hack/prometheus.sh), the operator, and Argo
# Rollouts' controller built from its Go module (hack/argo-rollouts-bin.sh). Raw results
# (one JSON per measurement, controller logs) stay in the results directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/common.sh
source hack/lib/proc.sh

mode=quick
argo=1
skip_argo=false
results=""
doc=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --full) mode=full ;;
    --skip-argo) argo=0; skip_argo=true ;;
    --results) results="$2"; shift ;;
    --only) only=",$2,"; shift ;;
    --doc) doc="$2"; shift ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
  shift
done

if [ $mode = full ]; then
  sizes="${BENCH_NS:-1000 5000 10000}"
  repeats="${BENCH_REPEATS:-3}"
  window="${BENCH_WINDOW:-1200}"
  steady="${BENCH_STEADY:-300}"
  interval=1m
  reaction_n=200; e2e_trials=10; fanout_sizes="100 1000 5000"
  burst_sizes="${BENCH_BURST_NS:-1000 200}"
  outage=(--baseline 60 --outage 120 --after 60); outage_n=1000
else
  sizes="${BENCH_NS:-200}"
  repeats="${BENCH_REPEATS:-1}"
  window="${BENCH_WINDOW:-180}"
  steady="${BENCH_STEADY:-60}"
  interval=1m
  reaction_n=200; e2e_trials=3; fanout_sizes="100"
  burst_sizes="${BENCH_BURST_NS:-200}"
  outage=(--baseline 20 --outage 40 --after 20); outage_n=200
fi

# Whether a part runs (all of them without --only).
wants() {
  [ -z "$only" ] || [[ "$only" == *",$1,"* ]]
}
for part in ${only//,/ }; do
  case "$part" in
    bucket | scale | reaction | burst | postgres | e2e | fanout | outage) ;;
    *) die "--only: unknown part '$part' (bucket, scale, reaction, burst, postgres, e2e, fanout, outage)" ;;
  esac
done
wants scale || argo=0  # Argo Rollouts runs only side by side in the scale part

build=build/default
bin="$build/bench/agentrollout-bench"
operator="${BENCH_OPERATOR:-$build/operator/agentrollout-operator}"
exporter="$build/analysis/exporter/agentrollout-test-exporter"

scale_repeats="${BENCH_SCALE_REPEATS:-$repeats}"

echo "==> build (serialized with other builds by /tmp/ar-build.lock)"
flock /tmp/ar-build.lock cmake --preset default >/dev/null
flock /tmp/ar-build.lock cmake --build "$build" -j2 --target agentrollout-bench \
  agentrollout-operator agentrollout-test-exporter bucket_bench

results="${results:-$build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$mode}"
mkdir -p "$results"
results="$(cd "$results" && pwd)"
if [ -z "$doc" ]; then
  if [ $mode = full ]; then doc=docs/benchmarks.md; else doc="$results/benchmarks.md"; fi
fi
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/agentrollout-bench-XXXXXX")"
export AGENTROLLOUT_STATE_DIR="$run_dir/cluster"
export AGENTROLLOUT_PROM_STATE_DIR="$run_dir/prometheus"
export AGENTROLLOUT_PG_STATE_DIR="$run_dir/postgres"
exporter_pid=""
cleanup() {
  local rc=$?
  if [ -n "$exporter_pid" ]; then kill "$exporter_pid" 2>/dev/null || true; fi
  bash hack/prometheus.sh stop || true
  bash hack/postgres.sh down || true
  bash hack/cluster.sh down --keep-logs "$results/cluster-logs" || true
  rm -rf "$run_dir"
  exit $rc
}
trap cleanup EXIT

argo_bin=""
if [ $argo = 1 ]; then
  echo "==> Argo Rollouts controller (built from its Go module on the first run)"
  if argo_bin="$(bash hack/argo-rollouts-bin.sh)"; then
    argo_crds="$(bash hack/argo-rollouts-bin.sh --crds-dir)"
  else
    log "Argo Rollouts could not be built; the side-by-side part is left out (see above)"
    echo "argo-rollouts build failed" >"$results/argo-blocked.txt"
    argo=0
  fi
fi

echo "==> control plane, exporter, Prometheus"
bash hack/cluster.sh up
eval "$(bash hack/cluster.sh env)"
kubectl_() { "$AGENTROLLOUT_KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
if [ $argo = 1 ]; then
  kubectl_ apply --server-side -f "$argo_crds/rollout-crd.yaml" \
    -f "$argo_crds/analysis-template-crd.yaml" -f "$argo_crds/analysis-run-crd.yaml" \
    -f "$argo_crds/experiment-crd.yaml" -f "$argo_crds/cluster-analysis-template-crd.yaml" >/dev/null
  kubectl_ wait --for=condition=Established --timeout=60s crd/rollouts.argoproj.io \
    crd/analysistemplates.argoproj.io crd/analysisruns.argoproj.io >/dev/null
fi
# The control plane's bill of each scale run and burst (bench/control_plane.h): the apiserver's and
# etcd's processes and /metrics.
control_plane=(--apiserver-pid "$(cat "$AGENTROLLOUT_STATE_DIR/apiserver.pid")"
  --etcd-pid "$(cat "$AGENTROLLOUT_STATE_DIR/etcd.pid")"
  --etcd-url "http://127.0.0.1:$(cat "$AGENTROLLOUT_STATE_DIR/etcd-client.port")/metrics")
# The exporter serves agent="voice", version="agent-0-v2": the canary of agent 0 (workload.cc).
exporter_port="$(free_port)"
"$exporter" --listen "127.0.0.1:$exporter_port" --version-label agent-0-v2 \
  >"$results/exporter.log" 2>&1 &
exporter_pid=$!
wait_until 20 "test exporter on port $exporter_port" curl -fsS "http://127.0.0.1:$exporter_port/metrics"
prometheus="$(bash hack/prometheus.sh start "127.0.0.1:$exporter_port")"
prometheus_pid="$(cat "$AGENTROLLOUT_PROM_STATE_DIR/prometheus.pid")"

# Machine and versions, for the report.
{
  echo "{"
  echo "\"mode\": \"$mode\","
  echo "\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "\"cpus\": $(nproc),"
  echo "\"cpu_model\": \"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)\","
  echo "\"mem_total_kib\": $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo),"
  echo "\"kernel\": \"$(uname -r)\","
  echo "\"kubernetes\": \"$KUBERNETES_VERSION\", \"etcd\": \"$ETCD_VERSION\","
  echo "\"prometheus\": \"$(prometheus --version 2>&1 | sed -n 1p)\","
  echo "\"argo_rollouts\": \"$([ -n "$argo_bin" ] && basename "$(dirname "$argo_bin")" || echo none)\","
  echo "\"commit\": \"$(git rev-parse --short HEAD)\","
  echo "\"sizes\": \"$sizes\", \"repeats\": $repeats, \"scale_repeats\": $scale_repeats,"
  echo "\"window_s\": $window, \"steady_s\": $steady, \"interval\": \"$interval\","
  echo "\"skip_argo\": $skip_argo"
  echo "}"
} >"$results/machine.json"

# Removes what one measurement created (no namespace controller runs to do it).
clear_namespace() {
  kubectl_ delete -n "$1" --all --wait=false --ignore-not-found \
    "$2" >/dev/null 2>&1 || log "could not clear namespace $1 (continuing)"
}

# Waits (at most 2 minutes) for the 1-minute load to fall below 1, so that a measurement
# does not start while the API server, etcd and Go's collectors still work off the last one
# (20,000 deletions after a 10,000 scale run).
settle() {
  local start=$SECONDS
  while awk '{ exit !($1 >= 1.0) }' /proc/loadavg && [ $((SECONDS - start)) -lt 120 ]; do
    sleep 5
  done
  log "settled after $((SECONDS - start)) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
}

if wants bucket; then
  echo "==> client header: tenant bucket evaluation (Google Benchmark)"
  "$build/bench/bucket_bench" --benchmark_repetitions="$repeats" --benchmark_min_time=0.5 \
    --benchmark_format=json --benchmark_out="$results/bucket.json" --benchmark_out_format=json \
    >/dev/null
fi

if wants scale; then
  echo "==> scale: sizes [$sizes], $scale_repeats repeat(s), ${steady}s steady (runs cut at ${window}s), interval $interval"
  for n in $sizes; do
    for r in $(seq 1 "$scale_repeats"); do
      ns="ar-$n-$r"
      settle
      echo "--- agentrollout-operator N=$n repeat $r"
      perf_args=()
      perf_data="$results/perf-agentrollout-$n-$r.data"
      [ "${BENCH_PERF:-0}" = 1 ] && perf_args=(--perf "$perf_data")
      [ "${BENCH_RESTART:-0}" = 1 ] && perf_args+=(--restart)
      profiled="$operator"
      heap_trace="$results/heaptrack-agentrollout-$n-$r.gz"
      if [ "${BENCH_HEAPTRACK:-0}" = 1 ]; then
        export HEAPTRACK_BINARY="$operator" HEAPTRACK_OUT="$heap_trace"
        profiled="$PWD/bench/heaptrack_exec.sh"
      fi
      "$bin" --out "$results/scale-agentrollout-$n-$r.json" scale --kubeconfig "$KUBECONFIG" \
        --binary "$profiled" --namespace "$ns" --prometheus "$prometheus" -n "$n" \
        --window "$window" --steady "$steady" --interval "$interval" "${perf_args[@]}" \
        "${control_plane[@]}" \
        --log "$results/scale-agentrollout-$n-$r.log" |
        cut -c1-400
      if [ -s "$perf_data" ]; then
        perf report -i "$perf_data" --stdio --no-children --sort dso 2>/dev/null |
          sed -n '1,40p' >"${perf_data%.data}-dso.txt" || true
        perf report -i "$perf_data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
          sed -n '1,80p' >"${perf_data%.data}-sym.txt" || true
      fi
      if [ "${BENCH_HEAPTRACK:-0}" = 1 ]; then
        sleep 5  # the interpreter finishes the trace after the operator exits
        heaptrack_print -f "$heap_trace" --print-peaks 1 --print-allocators 0 \
          --print-temporary 0 --print-leaks 0 --peak-limit 30 \
          >"${heap_trace%.gz}-peaks.txt" 2>&1 || true
      fi
      clear_namespace "$ns" agentrollouts,httproutes,configmaps,events
      if [ $argo = 1 ]; then
        ns="argo-$n-$r"
        settle
        echo "--- argo-rollouts N=$n repeat $r"
        "$bin" --out "$results/scale-argo-$n-$r.json" scale --controller argo-rollouts \
          --kubeconfig "$KUBECONFIG" --binary "$argo_bin" --namespace "$ns" \
          --prometheus "$prometheus" -n "$n" --window "$window" --steady "$steady" \
          --interval "$interval" "${control_plane[@]}" --log "$results/scale-argo-$n-$r.log" |
          cut -c1-400
        clear_namespace "$ns" rollouts.argoproj.io,analysistemplates.argoproj.io,analysisruns.argoproj.io,replicasets,events
      fi
    done
  done
fi

if wants reaction; then
  echo "==> reaction: NoGo -> flag 0 % and weight 0 ($reaction_n rollbacks per run)"
  for r in $(seq 1 "$repeats"); do
    settle
    "$bin" --out "$results/reaction-paced-$r.json" reaction --kubeconfig "$KUBECONFIG" \
      --binary "$operator" --namespace "reaction-$r" -n "$reaction_n" \
      --log "$results/reaction-paced-$r.log" | cut -c1-400
    clear_namespace "reaction-$r" agentrollouts,httproutes,configmaps,events
    settle
    "$bin" --out "$results/reaction-burst-$r.json" reaction --burst --kubeconfig "$KUBECONFIG" \
      --binary "$operator" --namespace "reaction-burst-$r" -n "$reaction_n" \
      --log "$results/reaction-burst-$r.log" | cut -c1-400
    clear_namespace "reaction-burst-$r" agentrollouts,httproutes,configmaps,events
  done
fi

if wants burst; then
  echo "==> rollback at the API server's speed: simultaneous bursts of [$burst_sizes], raw PUTs beside"
  # All N No-Go verdicts in the round of the operator's start (--burst --spacing-ms 0), then, on the same
  # objects with the operator stopped, a trivial client doing the same two PUTs per rollout at
  # the same concurrency (rawput; once more with the operator's GET before each PUT).
  for n in $burst_sizes; do
    for r in $(seq 1 "$repeats"); do
      ns="burst-$n-$r"
      settle
      "$bin" --out "$results/reaction-simul-$n-$r.json" reaction --burst --spacing-ms 0 \
        --kubeconfig "$KUBECONFIG" --binary "$operator" --namespace "$ns" -n "$n" \
        --concurrency 4 --log "$results/reaction-simul-$n-$r.log" "${control_plane[@]}" | cut -c1-400
      "$bin" --out "$results/rawput-$n-$r.json" rawput --kubeconfig "$KUBECONFIG" \
        --namespace "$ns" -n "$n" --concurrency 4 | cut -c1-400
      "$bin" --out "$results/rawput-rmw-$n-$r.json" rawput --kubeconfig "$KUBECONFIG" \
        --namespace "$ns" -n "$n" --concurrency 4 --read-before-write | cut -c1-400
      clear_namespace "$ns" agentrollouts,httproutes,configmaps,events
    done
  done
fi

if wants postgres; then
  echo "==> reaction with the PostgreSQL flag store: 100 rollouts on one feature_flags table"
  postgres_uri="$(bash hack/postgres.sh up)"
  for r in $(seq 1 "$repeats"); do
    settle
    "$bin" --out "$results/reaction-postgres-$r.json" reaction --kubeconfig "$KUBECONFIG" \
      --binary "$operator" --namespace "reaction-postgres-$r" -n 100 --postgres-uri "$postgres_uri" \
      --log "$results/reaction-postgres-$r.log" | cut -c1-400
    clear_namespace "reaction-postgres-$r" agentrollouts,httproutes,configmaps,secrets,events
  done
  bash hack/postgres.sh down
fi

if wants e2e; then
  echo "==> end to end: exporter error ratio up -> route weight 0 ($e2e_trials trials)"
  "$bin" --out "$results/e2e.json" e2e --kubeconfig "$KUBECONFIG" --binary "$operator" \
    --namespace e2e --prometheus "$prometheus" --exporter "http://127.0.0.1:$exporter_port" \
    --exporter-version agent-0-v2 --trials "$e2e_trials" --log "$results/e2e.log" | cut -c1-400
fi

if wants e2e; then
  echo "==> end to end with 100 rollouts at hung servers: breach -> flag 0 and route weight 0"
  settle
  "$bin" --out "$results/e2e-hung.json" e2e --kubeconfig "$KUBECONFIG" --binary "$operator" \
    --namespace e2e-hung --prometheus "$prometheus" --exporter "http://127.0.0.1:$exporter_port" \
    --exporter-version agent-0-v2 --trials "$e2e_trials" --hung-rollouts 100 \
    --log "$results/e2e-hung.log" | cut -c1-400
fi

if wants fanout; then
  echo "==> analysis fan-out: Prometheus queries/s with and without deduplication"
  for n in $fanout_sizes; do
    for r in $(seq 1 "$repeats"); do
      "$bin" --out "$results/fanout-dedup-$n-$r.json" fanout --prometheus "$prometheus" -n "$n" |
        cut -c1-300
      "$bin" --out "$results/fanout-nodedup-$n-$r.json" fanout --prometheus "$prometheus" -n "$n" \
        --no-dedup | cut -c1-300
    done
  done
fi

if wants outage; then
  echo "==> Prometheus stopped (SIGSTOP) under $outage_n progressing rollouts: RSS and threads"
  "$bin" --out "$results/outage.json" outage --kubeconfig "$KUBECONFIG" --binary "$operator" \
    --namespace outage --prometheus "$prometheus" -n "$outage_n" --progressing-share 1 \
    --interval 10s --error-limit 1000 --prometheus-pid "$prometheus_pid" "${outage[@]}" \
    --log "$results/outage.log" | cut -c1-400
fi

echo "==> report"
/usr/bin/python3 bench/report.py "$results" "$doc"
echo "results: $results"
echo "report:  $doc"
