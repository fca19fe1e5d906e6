#!/usr/bin/env bash
# Prints the path of a helm v3 binary built from the Go module proxy, building it first
# when the cache lacks it. The version is the one pinned in hack/helm/go.mod; the binary
# is cached outside the repo like the control-plane binaries (hack/lib/common.sh):
#   $AGENTROLLOUT_CACHE/helm-<version>/helm   (only the first run pays, ~minutes)
# Used by hack/render-chart.sh and the chart tests; helm is not a Debian package.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

module_dir="$AGENTROLLOUT_ROOT/hack/helm"
HELM_VERSION="$(sed -n 's#^[[:space:]]*helm.sh/helm/v3 \(v[0-9.]*\).*#\1#p' "$module_dir/go.mod")"
[ -n "$HELM_VERSION" ] || die "no 'helm.sh/helm/v3 vX.Y.Z' requirement in $module_dir/go.mod"
bin_dir="$AGENTROLLOUT_CACHE/helm-$HELM_VERSION"
helm="$bin_dir/helm"

if [ ! -x "$helm" ]; then
  require_go 1.25
  mkdir -p "$bin_dir"
  log "building helm $HELM_VERSION into $bin_dir (first run only)"
  tmp="$bin_dir/helm.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  (cd "$module_dir" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -o "$tmp" \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    helm.sh/helm/v3/cmd/helm) || die "go build of helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
  mv -f "$tmp" "$helm"
fi
echo "$helm"
