#!/usr/bin/env bash
# Sets up (scripts/setup.sh --test) and runs every check: ruff, then pytest over all tests
# (unit, real-data, serve, browser). Extra arguments go to pytest, e.g. `bash scripts/test.sh -k cli`.
# Browser screenshots land in test-artifacts/. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

printf '\n==> [test %s] ruff check .\n' "$(date +%H:%M:%S)"
.venv/bin/ruff check .

printf '\n==> [test %s] pytest (all tests, browser included)\n' "$(date +%H:%M:%S)"
mkdir -p test-artifacts
# No JUnit XML: pytest's own summary line ends the output.
exec .venv/bin/pytest "$@"
