#!/usr/bin/env bash
# Runs the application client libraries' own test suites (clients/): TypeScript with
# node:test, Python with pytest, Go with go test. Each checks itself against
# clients/testdata/flag_vectors.json, which ctest (flag_vectors_check) keeps equal to what
# the C++ header computes. Installs what each needs, only when missing:
#   TypeScript  npm ci from the committed package-lock.json (skipped when node_modules is
#               already from that lock file); needs node >= 18 and npm
#   Python      pytest (pip), when `import pytest` fails; standard library otherwise
#   Go          nothing: the module has no dependencies (runs with GOPROXY=off)
# Usage: hack/test-clients.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
CLIENTS="$AGENTROLLOUT_ROOT/clients"

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH; $2"; }

echo "==> clients/typescript (tsc + node:test)"
need node "install Node.js >= 18 (Debian: apt-get install nodejs npm)"
need npm "install npm (Debian: apt-get install npm)"
(
  cd "$CLIENTS/typescript"
  # npm ci wipes node_modules; skip it when node_modules was installed from this lock file.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ package.json -nt node_modules/.package-lock.json ]; then
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  fi
  npm test --silent
)

echo "==> clients/python (pytest)"
need python3 "install Python >= 3.8"
if ! python3 -c 'import pytest' 2>/dev/null; then
  log "pytest is missing; installing it with pip"
  python3 -m pip install --quiet 'pytest>=7' ||
    die "could not install pytest with pip (Debian's python3: apt-get install python3-pytest)"
fi
(cd "$CLIENTS/python" && PYTHONDONTWRITEBYTECODE=1 python3 -m pytest -q -p no:cacheprovider)

echo "==> clients/go (go test)"
need go "install Go >= 1.22"
(cd "$CLIENTS/go" && GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go test ./...)
