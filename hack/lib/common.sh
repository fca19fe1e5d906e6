# Shared helpers for hack/*.sh (sourced, not executed).

AGENTROLLOUT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../versions.env
source "$AGENTROLLOUT_ROOT/hack/versions.env"

AGENTROLLOUT_CACHE="${AGENTROLLOUT_CACHE:-$HOME/.cache/agentrollout}"
# Where hack/kube-bins.sh puts kube-apiserver, etcd and kubectl for the pinned versions.
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
