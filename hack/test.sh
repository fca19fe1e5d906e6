#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds, and runs
# every test through ctest -- unit, integration against a real kube-apiserver + etcd +
# Prometheus, and the unit tests again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh

# Compiler cache (outside the repo, ~/.cache/ccache): a second run, or a fresh clone on the
# same machine, recompiles only what changed. Paths are taken relative to the checkout so
# clones in other directories share the cache.
if [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-10G}"
fi

echo "==> build (preset default)"
cmake --preset default >/dev/null
cmake --build --preset default

echo "==> control plane: etcd + kube-apiserver + kubectl (cached after the first build)"
bash hack/kube-bins.sh
echo "==> GitOps engines: Argo CD's health Lua path and Flux's kstatus (cached after the first build)"
bash hack/gitops-engines.sh
# One cluster for the whole ctest run (the harness reuses it via AGENTROLLOUT_KUBECONFIG).
source hack/lib/common.sh
source hack/lib/proc.sh
source hack/lib/test-cluster.sh

echo "==> tests (ctest, preset default)"
ctest_rc=0
with_test_cluster "$PWD/build/default" \
  ctest --preset default --output-junit "$PWD/build/default/ctest-junit.xml" || ctest_rc=$?
[ "$ctest_rc" -eq 0 ] || exit "$ctest_rc"

# The application client libraries (clients/): their own test runners, the shared vectors.
bash hack/test-clients.sh

echo "==> unit tests under ASan + UBSan (preset asan)"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan

echo "==> fuzz smoke: every libFuzzer target for 10 s (long runs: hack/fuzz.sh 300)"
bash hack/fuzz.sh 10
