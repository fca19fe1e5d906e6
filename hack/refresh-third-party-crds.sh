#!/usr/bin/env bash
# Re-fetches the vendored third-party CRDs (third_party/crds/) at their pinned upstream
# versions, from the Go module proxy: each upstream project publishes its CRDs inside its
# Go module, and `go mod download` fetches a tag's zip and checks it against the Go
# checksum database.
#
# Usage: hack/refresh-third-party-crds.sh [--check] [SOURCE...]
#   (no option)    overwrite the vendored files with the upstream ones
#   --check        fetch into a temporary directory and fail if the vendored files differ
#   SOURCE         gateway-api, istio or openfeature (default: all three)
# Env:
#   GOPROXY, GOSUMDB  as for any `go` command (default proxy.golang.org, sum.golang.org)
#
# To move to a new upstream version: change the version below, run this script, review
# `git diff third_party/crds`, update third_party/crds/README.md, and run the integration
# tests (they apply these CRDs to a real kube-apiserver).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

GATEWAY_API_VERSION=v1.6.1
ISTIO_API_VERSION=v1.31.4
OPENFEATURE_OPERATOR_VERSION=v0.9.0

VENDOR_DIR="$AGENTROLLOUT_ROOT/third_party/crds"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
mode=write
sources=()
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    gateway-api | istio | openfeature) sources+=("$arg") ;;
    *) usage ;;
  esac
done
[ ${#sources[@]} -gt 0 ] || sources=(gateway-api istio openfeature)

command -v go >/dev/null || die "'go' is needed (it downloads and checksum-verifies the modules)"
command -v unzip >/dev/null || die "unzip is needed (Debian: apt-get install unzip)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/agentrollout-crds-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# fetch_module MODULE VERSION: prints the path of the module zip in the Go module cache.
# `go mod download` verifies it against go.sum's checksum database (GOSUMDB), so a
# tampered proxy or a moved tag is an error, not a silently different CRD.
fetch_module() {
  local info zip
  log "fetching $1@$2 (GOPROXY=$(go env GOPROXY))"
  info="$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$1@$2" 2>&1)" ||
    die "could not download $1@$2: $(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$info" | head -n 1)"
  zip="$(sed -n 's/.*"Zip": "\(.*\)".*/\1/p' <<<"$info")"
  [ -f "$zip" ] || die "go mod download gave no zip for $1@$2"
  echo "$zip"
}

# module_file MODULE VERSION PATH: prints PATH from inside the module zip.
module_file() {
  local zip
  zip="$(fetch_module "$1" "$2")"
  unzip -p "$zip" "$1@$2/$3" || die "$3 is not in $1@$2"
}

# select_crds NAME...: from a multi-document YAML stream on stdin, prints the documents whose
# metadata.name is one of NAMEs, in the order given, joined by `---` (comments before a
# document, like a "generated" banner, are dropped).
select_crds() {
  awk -v NAMES="$*" '
    BEGIN { n = split(NAMES, want, " "); for (i = 1; i <= n; i++) keep[want[i]] = 1 }
    function flush() { if (doc != "" && name in keep) out[name] = doc; doc = ""; name = "" }
    /^---/ { flush(); next }
    /^#/ && doc == "" { next }
    { doc = doc $0 "\n"; if (name == "" && $0 ~ /^  name: /) name = substr($0, 9) }
    END {
      flush()
      for (i = 1; i <= n; i++) {
        if (!(want[i] in out)) { print "missing CRD " want[i] > "/dev/stderr"; exit 1 }
        if (i > 1) printf "---\n"
        printf "%s", out[want[i]]
      }
    }'
}

OUT="$WORK/out"
mkdir -p "$OUT"

for source in "${sources[@]}"; do
  case "$source" in
    gateway-api)
      module_file sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION" \
        config/crd/standard/gateway.networking.k8s.io_httproutes.yaml >"$OUT/gateway-api-httproutes.yaml"
      ;;
    istio)
      module_file istio.io/api "$ISTIO_API_VERSION" kubernetes/customresourcedefinitions.gen.yaml |
        select_crds destinationrules.networking.istio.io virtualservices.networking.istio.io \
          >"$OUT/istio-virtualservices-destinationrules.yaml"
      ;;
    openfeature)
      module_file github.com/open-feature/open-feature-operator "$OPENFEATURE_OPERATOR_VERSION" \
        config/crd/bases/core.openfeature.dev_featureflags.yaml >"$OUT/openfeature-featureflags.yaml"
      ;;
  esac
done

if [ "$mode" = check ]; then
  status=0
  for file in "$OUT"/*.yaml; do
    if ! cmp -s "$file" "$VENDOR_DIR/$(basename "$file")"; then
      log "third_party/crds/$(basename "$file") differs from upstream"
      status=1
    fi
  done
  [ "$status" -eq 0 ] && log "third_party/crds matches the pinned upstream versions"
  exit "$status"
fi
cp "$OUT"/*.yaml "$VENDOR_DIR"/
log "wrote $(ls "$OUT" | tr '\n' ' ')to third_party/crds; review with: git diff third_party/crds"
