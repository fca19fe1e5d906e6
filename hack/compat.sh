#!/usr/bin/env bash
# The compatibility run (opt-in, not part of hack/test.sh): for the oldest supported
# Kubernetes minor (each hack/kube/compat/vX.Y) and the pinned newest one (hack/versions.env),
# builds or reuses that kube-apiserver, kubectl and etcd (hack/kube-bins.sh, cached outside
# the repository by version), starts a fresh control plane, applies the CRDs (they must
# register) and runs the acceptance-level tests against it: the CRD's integration tests
# (tests/crd: apply, every valid and invalid example with its message) and the operator
# end-to-end tests (tests/e2e).
#
# Usage: hack/compat.sh [--version vX.Y]...   default: every compat minor, then the pinned one
# Env:   as hack/test.sh (ccache, CMAKE_CXX_COMPILER_LAUNCHER); KUBE_BINS_JOBS for the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned versions first (hack/versions.env); each run below picks its own modules.
unset AGENTROLLOUT_KUBE_MODULES
source hack/lib/common.sh
source hack/lib/proc.sh
source hack/lib/test-cluster.sh

pinned_minor="${KUBERNETES_VERSION%.*}"
# The AGENTROLLOUT_KUBE_MODULES of a minor: empty for the pinned one (hack/kube).
module_dir_of() {
  if [ "$1" = "$pinned_minor" ]; then
    echo ""
  elif [ -f "hack/kube/compat/$1/versions.env" ]; then
    echo "$AGENTROLLOUT_ROOT/hack/kube/compat/$1"
  else
    die "--version $1: no such control plane; known: $(ls hack/kube/compat | tr '\n' ' ')$pinned_minor"
  fi
}

minors=()
while [ $# -gt 0 ]; do
  case "$1" in
    --version)
      [ $# -ge 2 ] || die "--version needs a minor such as v1.33"
      minors+=("v${2#v}")
      shift 2
      ;;
    *) die "unknown argument '$1' (usage: hack/compat.sh [--version vX.Y]...)" ;;
  esac
done
if [ ${#minors[@]} -eq 0 ]; then
  mapfile -t minors < <(ls hack/kube/compat | sort -V)
  minors+=("$pinned_minor")
fi
for minor in "${minors[@]}"; do module_dir_of "$minor" >/dev/null; done

echo "==> build the compat tests (preset default)"
cmake --preset default >/dev/null
cmake --build --preset default --target crd_apply_test operator_e2e_test

# run_acceptance_tests MINOR OUT: the acceptance tests on the cluster with_test_cluster
# started, after checking that it runs that minor; junit files in OUT.
run_acceptance_tests() {
  local minor="$1" out="$2" server rc=0
  server="$("$AGENTROLLOUT_KUBECTL" get --raw /version |
    sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')"
  if [[ "$server" != "$minor".* ]]; then
    log "the cluster runs kube-apiserver '$server', not $minor"
    return 1
  fi
  echo "kube-apiserver $server: CRDs Established; tests/crd (integration) and tests/e2e"
  ctest --test-dir build/default/tests/crd -L integration --output-on-failure \
    --output-junit "$out/crd-junit.xml" || rc=1
  ctest --test-dir build/default/tests/e2e --output-on-failure \
    --output-junit "$out/e2e-junit.xml" || rc=1
  return "$rc"
}

results=()
overall=0
for minor in "${minors[@]}"; do
  export AGENTROLLOUT_KUBE_MODULES
  AGENTROLLOUT_KUBE_MODULES="$(module_dir_of "$minor")"
  echo "==> Kubernetes $minor: control plane (${AGENTROLLOUT_KUBE_MODULES:-hack/kube})"
  bash hack/kube-bins.sh
  log_dir="$PWD/build/default/compat-$minor"
  mkdir -p "$log_dir"
  echo "==> Kubernetes $minor: CRDs, tests/crd and tests/e2e (logs of failures in $log_dir)"
  rc=0
  with_test_cluster "$log_dir" run_acceptance_tests "$minor" "$log_dir" || rc=$?
  if [ "$rc" -eq 0 ]; then results+=("$minor: passed"); else results+=("$minor: FAILED"); overall=1; fi
done

echo "==> compatibility run"
printf '  %s\n' "${results[@]}"
exit "$overall"
