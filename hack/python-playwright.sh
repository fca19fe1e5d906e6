#!/usr/bin/env bash
# Prints the path of a Python 3 that imports playwright (PyPI) for the dashboard's browser
# tests, installing it when missing into a venv under the cache, keyed by version (so a new
# pin gets a new venv and an old one is never half-upgraded). The browser is Debian's
# chromium (hack/install-deps.sh): `playwright install` is never run, it downloads browsers
# from outside the package registries. Exit 77 (ctest's "skipped") when it cannot be had.
# Usage: py="$(hack/python-playwright.sh)"
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
PLAYWRIGHT_VERSION=1.65.3
VENV="$AGENTROLLOUT_CACHE/playwright-$PLAYWRIGHT_VERSION"
PY="$VENV/bin/python"

if [ -x "$PY" ] && "$PY" -c 'import playwright' >/dev/null 2>&1; then
  echo "$PY"
  exit 0
fi
skip() { echo "python-playwright: SKIPPED: $*" >&2; exit 77; }
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
/usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || {
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2 ||
    skip "python3-venv is not installed and could not be"
}
echo "python-playwright: installing playwright==$PLAYWRIGHT_VERSION into $VENV" >&2
/usr/bin/python3 -m venv "$VENV" >&2 && "$PY" -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION" >&2 ||
  skip "pip could not install playwright==$PLAYWRIGHT_VERSION"
echo "$PY"
