#!/usr/bin/env bash
# The chart ships the CRDs in charts/agentrollout-operator/crds/ (Helm installs that
# directory before the templates); crds/ at the top is the one source. This copies them.
#   hack/sync-chart-crds.sh          copy crds/*.yaml into the chart
#   hack/sync-chart-crds.sh --check  exit 1 (listing the files) if the chart's copy differs
set -euo pipefail
cd "$(dirname "$0")/.."
src=crds
dst=charts/agentrollout-operator/crds

stale=()
for f in "$src"/*.yaml; do
  cmp -s "$f" "$dst/$(basename "$f")" || stale+=("$dst/$(basename "$f")")
done
for f in "$dst"/*.yaml; do
  [ -e "$src/$(basename "$f")" ] || stale+=("$f (no longer in $src/)")
done

if [ "${1:-}" = --check ]; then
  if [ ${#stale[@]} -gt 0 ]; then
    echo "sync-chart-crds: the chart's CRDs differ from $src/ (run hack/sync-chart-crds.sh):"
    printf '  %s\n' "${stale[@]}"
    exit 1
  fi
  echo "sync-chart-crds: $dst matches $src"
  exit 0
fi

mkdir -p "$dst"
find "$dst" -maxdepth 1 -name '*.yaml' -delete
cp "$src"/*.yaml "$dst"/
echo "sync-chart-crds: copied $(ls "$src"/*.yaml | wc -l) CRD file(s) into $dst"
