#!/usr/bin/env bash
# Sets up (scripts/setup.sh --test) and runs every check: ruff, then pytest over all tests
# (unit, real-data, serve, browser). Extra arguments go to pytest, e.g. `bash scripts/test.sh -k cli`.
# Browser screenshots land in test-artifacts/. Exits non-zero on any failure; pytest runs even when
# ruff finds something, so one CI run shows everything that is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

printf '\n==> [test %s] ruff check .\n' "$(date +%H:%M:%S)"
ruff_status=0
.venv/bin/ruff check . || ruff_status=$?

printf '\n==> [test %s] pytest (all tests, browser included)\n' "$(date +%H:%M:%S)"
mkdir -p test-artifacts
pytest_status=0
# No JUnit XML: pytest's own summary line ends the output.
.venv/bin/pytest "$@" || pytest_status=$?

if [ "$ruff_status" != 0 ]; then
  echo "test.sh: FAILED: ruff check . found problems (listed above the pytest run)" >&2
  exit "$ruff_status"
fi
exit "$pytest_status"
