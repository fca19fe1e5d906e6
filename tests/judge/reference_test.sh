#!/usr/bin/env bash
# ctest's judge_reference_test: runs tests/judge/reference.py against the judge_grid
# binary given as $1, with a Python that has numpy and scipy (hack/python-scipy.sh finds
# or installs one; its exit 77 skips the test with the reason it printed).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
py="$(bash "$ROOT/hack/python-scipy.sh" numpy scipy)" || exit $?
exec "$py" "$ROOT/tests/judge/reference.py" --judge "$1"
