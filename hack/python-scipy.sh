#!/usr/bin/env bash
# Prints the path of a Python 3 that imports the given modules (default: numpy scipy),
# installing them when none does: Debian's python3-<module> packages first (what
# hack/install-deps.sh installs), then pip for the python3 on PATH. Idempotent: with the
# modules present it installs nothing. Exit 77 (ctest's "skipped") when they cannot be had.
# Usage: py="$(hack/python-scipy.sh [module ...])"
set -uo pipefail
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(numpy scipy)
imports="import $(IFS=,; echo "${modules[*]}")"

find_python() {
  local py
  for py in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    if [ -n "$py" ] && [ -x "$py" ] && "$py" -c "$imports" >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

find_python && exit 0

log() { echo "python-scipy: $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
if command -v apt-get >/dev/null 2>&1; then
  packages=()
  for m in "${modules[@]}"; do packages+=("python3-$m"); done
  log "installing ${packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2 ||
    { $SUDO apt-get update -qq >&2 &&
      $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2; }
  find_python && exit 0
fi
if command -v python3 >/dev/null 2>&1; then
  log "installing ${modules[*]} with pip"
  python3 -m pip install --quiet "${modules[@]}" >&2
  find_python && exit 0
fi
log "SKIPPED: no python3 with ${modules[*]}, and neither apt-get nor pip could install them"
exit 77
