#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd at the versions pinned in hack/versions.env from
# the Go module proxy (modules hack/kube/go.mod and hack/kube/etcd/go.mod) and caches them
# outside the repository in $KUBE_BIN_DIR. A second run only checks the cache.
# With AGENTROLLOUT_KUBE_MODULES=hack/kube/compat/vX.Y the same for that directory's
# versions.env and modules (the compatibility run, hack/compat.sh).
#
# Usage: hack/kube-bins.sh            build if needed, print the binaries' versions
#        hack/kube-bins.sh --print-dir   print the cache directory only (no build)
# Env:   AGENTROLLOUT_CACHE (default ~/.cache/agentrollout), GOFLAGS/GOPROXY as usual,
#        KUBE_BINS_JOBS (go build -p, default 2: linking kube-apiserver needs ~3 GB each).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

if [ "${1:-}" = --print-dir ]; then
  echo "$KUBE_BIN_DIR"
  exit 0
fi

BINARIES=(kube-apiserver kubectl etcd)

report_versions() {
  "$KUBE_BIN_DIR/kube-apiserver" --version
  # sed reads to the end (head would SIGPIPE the writer, which pipefail turns into a failure).
  "$KUBE_BIN_DIR/kubectl" version --client | sed -n 1p
  "$KUBE_BIN_DIR/etcd" --version | sed -n 1p
}

cached=1
for b in "${BINARIES[@]}"; do [ -x "$KUBE_BIN_DIR/$b" ] || cached=0; done
if [ $cached = 1 ]; then
  log "cached in $KUBE_BIN_DIR"
  report_versions
  exit 0
fi

require_go 1.26
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -trimpath"
jobs="${KUBE_BINS_JOBS:-2}"

download() {
  (cd "$1" && go mod download) ||
    die "could not download the Go modules of $1 from the module proxy ($(go env GOPROXY)); check network access or set GOPROXY"
}

# Version variables the Kubernetes release build sets (hack/lib/version.sh upstream);
# without them the binaries report v0.0.0.
kube_ldflags() {
  local minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  local pkg out="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    out+=" -X $pkg.gitTreeState=clean"
  done
  echo "$out"
}

start=$(date +%s)
work="$(mktemp -d "${KUBE_BIN_DIR}.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$AGENTROLLOUT_CACHE" && mktemp -d "${KUBE_BIN_DIR}.tmp.XXXXXX"; })"
trap 'rm -rf "$work"' EXIT

log "building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kubectl) and etcd $ETCD_VERSION with $(go env GOVERSION), -p $jobs"
download "$KUBE_MODULES"
download "$KUBE_MODULES/etcd"
(cd "$KUBE_MODULES" &&
  go build -p "$jobs" -ldflags "$(kube_ldflags)" -o "$work/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
(cd "$KUBE_MODULES/etcd" &&
  go build -p "$jobs" -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3)

mkdir -p "$KUBE_BIN_DIR"
for b in "${BINARIES[@]}"; do mv -f "$work/$b" "$KUBE_BIN_DIR/$b"; done
log "built in $(($(date +%s) - start))s into $KUBE_BIN_DIR"
report_versions
