#!/usr/bin/env bash
# Re-fetches the vendored chart library (third_party/uplot/) at its pinned version from the
# npm registry (`npm pack`, which checks the tarball against the registry's integrity hash):
# the minified browser build, its stylesheet and the licence. The dashboard embeds these
# files in kubectl-agentrollout at build time (plugin/dashboard/), so building needs no npm.
#
# Usage: hack/refresh-third-party-uplot.sh [--check]
#   (no option)  overwrite the vendored files
#   --check      fetch into a temporary directory and fail if the vendored files differ
# To move to a new version: change UPLOT_VERSION, run this script, review
# `git diff third_party/uplot`, and run the dashboard's browser tests (tests/dashboard/).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

UPLOT_VERSION=1.6.32
VENDOR_DIR="$AGENTROLLOUT_ROOT/third_party/uplot"
FILES=(dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE)

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
command -v npm >/dev/null 2>&1 || die "npm is not on PATH (Debian: apt-get install npm)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null)
tar -xzf "$work/uplot-$UPLOT_VERSION.tgz" -C "$work"
status=0
for f in "${FILES[@]}"; do
  src="$work/package/$f"
  dst="$VENDOR_DIR/$(basename "$f")"
  [ -f "$src" ] || die "uplot@$UPLOT_VERSION has no $f"
  if [ "$mode" = check ]; then
    cmp -s "$src" "$dst" || { log "$dst differs from uplot@$UPLOT_VERSION"; status=1; }
  else
    mkdir -p "$VENDOR_DIR"
    cp "$src" "$dst"
  fi
done
[ "$mode" = check ] || echo "$UPLOT_VERSION" >"$VENDOR_DIR/VERSION"
exit "$status"
