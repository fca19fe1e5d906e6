#!/usr/bin/env bash
# ctest's entry to the dashboard's browser tests (dashboard_test.py): a Python with
# Playwright (hack/python-playwright.sh, a venv under the cache) and Debian's Chromium,
# never a downloaded browser. Exit 77 (skipped) when either cannot be had.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  echo "dashboard browser tests: SKIPPED: /usr/bin/chromium is missing (hack/install-deps.sh installs it)" >&2
  exit 77
fi
py="$(bash hack/python-playwright.sh)" || exit $?
exec "$py" tests/dashboard/dashboard_test.py "$@"
