# One fresh control plane around a test command, for hack/test.sh and hack/compat.sh
# (sourced after common.sh and proc.sh).

# with_test_cluster LOG_DIR CMD...: starts a cluster (hack/cluster.sh up) for the control
# plane of $KUBE_MODULES, runs CMD with its env (the harness reuses it through
# AGENTROLLOUT_KUBECONFIG), then stops it, keeping the cluster's logs under
# LOG_DIR/agentrollout-logs/cluster when CMD failed. Every server a test starts lives under
# AGENTROLLOUT_RUN_DIR, so leftovers fail the run. Returns CMD's exit status (1 when CMD
# passed but something was left running). Failures are checked explicitly: errexit does
# not hold inside a subshell that is the left side of `||`.
with_test_cluster() {
  local log_dir="$1" rc=0
  shift
  (
    export AGENTROLLOUT_RUN_DIR
    AGENTROLLOUT_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/agentrollout-run-XXXXXX")"
    export AGENTROLLOUT_STATE_DIR="$AGENTROLLOUT_RUN_DIR/cluster"
    export AGENTROLLOUT_LOG_DIR="$log_dir"
    stop_cluster() {
      local keep=()
      [ "$1" -eq 0 ] || keep=(--keep-logs "$AGENTROLLOUT_LOG_DIR/agentrollout-logs/cluster")
      bash "$AGENTROLLOUT_ROOT/hack/cluster.sh" down "${keep[@]}"
      check_no_leftovers "$AGENTROLLOUT_RUN_DIR" && rm -rf "$AGENTROLLOUT_RUN_DIR"
    }
    trap 'rc=$?; stop_cluster $rc; exit $rc' EXIT
    local cluster_env
    bash "$AGENTROLLOUT_ROOT/hack/cluster.sh" up || exit 1
    cluster_env="$(bash "$AGENTROLLOUT_ROOT/hack/cluster.sh" env)" || exit 1
    eval "$cluster_env"
    "$@" || rc=$?
    trap - EXIT
    stop_cluster "$rc" || rc=1
    exit "$rc"
  ) || rc=$?
  return "$rc"
}
