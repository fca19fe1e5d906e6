# Shared helpers for hack/*.sh (sourced, not executed).

AGENTROLLOUT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The control plane's Go modules: hack/kube (versions in hack/versions.env) unless
# AGENTROLLOUT_KUBE_MODULES names another module directory with its own versions.env, such
# as hack/kube/compat/v1.33 for the compatibility run (hack/compat.sh). A relative path is
# taken from the repository root, so it means the same to tests running in build/.
KUBE_MODULES="$AGENTROLLOUT_ROOT/hack/kube"
KUBE_VERSIONS_FILE="$AGENTROLLOUT_ROOT/hack/versions.env"
if [ -n "${AGENTROLLOUT_KUBE_MODULES:-}" ]; then
  KUBE_MODULES="$(cd "$AGENTROLLOUT_ROOT" && cd "$AGENTROLLOUT_KUBE_MODULES" && pwd)" ||
    { echo "AGENTROLLOUT_KUBE_MODULES=$AGENTROLLOUT_KUBE_MODULES is not a directory" >&2; exit 1; }
  KUBE_VERSIONS_FILE="$KUBE_MODULES/versions.env"
fi
# shellcheck source=../versions.env
source "$KUBE_VERSIONS_FILE"

AGENTROLLOUT_CACHE="${AGENTROLLOUT_CACHE:-$HOME/.cache/agentrollout}"
# Where hack/kube-bins.sh puts kube-apiserver, etcd and kubectl for these versions.
KUBE_BIN_DIR="$AGENTROLLOUT_CACHE/k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"

log() { echo "$(basename "$0"): $*" >&2; }
die() { echo "$(basename "$0"): ERROR: $*" >&2; exit 1; }

# The Go toolchain used for the control-plane builds: the machine's, never a downloaded one.
require_go() {
  command -v go >/dev/null 2>&1 ||
    die "'go' is not on PATH; Go >= $1 is needed to build the control plane from Go modules (https://go.dev/dl/)"
  local have
  have="$(GOTOOLCHAIN=local go env GOVERSION)"
  have="${have#go}"
  if [ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | sed -n 1p)" != "$1" ]; then
    die "Go $have is too old; Kubernetes $KUBERNETES_VERSION needs Go >= $1"
  fi
}
