#!/usr/bin/env bash
# Sets up (scripts/setup.sh --test) and runs every check: ruff, then pytest over all tests
# (unit, real-data, serve, browser). Extra arguments go to pytest, e.g. `bash scripts/test.sh -k cli`.
# Browser screenshots land in test-artifacts/. Exits non-zero on any failure; pytest runs even when
# ruff finds something, so one CI run shows everything that is wrong.
# The kafka/postgres tests get a real broker and database: scripts/kafka.sh and scripts/postgres.sh are started
# (unless PULSE_TEST_KAFKA / PULSE_TEST_POSTGRES already name servers) and the ones this run started are stopped
# at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

# ---------------------------------------------------------------- servers (Kafka starts while ruff runs)
mkdir -p .servers
STARTED=()
server_failed=""
stop_servers() {
  for script in ${STARTED[@]+"${STARTED[@]}"}; do bash "$script" stop > /dev/null 2>&1 || true; done
}
trap stop_servers EXIT
# start_server NAME SCRIPT VARIABLE: runs SCRIPT start in the background, its output in .servers/NAME-start.log.
start_server() {
  if [ -n "${!3:-}" ]; then echo "    $1: using $3=${!3}"; return 0; fi
  bash "$2" status > /dev/null 2>&1 || STARTED+=("$2")
  bash "$2" start > ".servers/$1-start.log" 2>&1 &
  eval "${1}_pid=$!"
}
# finish_server NAME VARIABLE: waits for the start and exports VARIABLE=<the URL it printed last>.
finish_server() {
  local pid_var="${1}_pid"
  [ -n "${!pid_var:-}" ] || return 0
  if wait "${!pid_var}"; then
    export "$2=$(tail -n 1 ".servers/$1-start.log")"
    echo "    $1: $2=${!2}"
  else
    cat ".servers/$1-start.log" >&2
    server_failed="$server_failed $1"
  fi
}
printf '\n==> [test %s] servers: scripts/kafka.sh start, scripts/postgres.sh start\n' "$(date +%H:%M:%S)"
start_server kafka scripts/kafka.sh PULSE_TEST_KAFKA
start_server postgres scripts/postgres.sh PULSE_TEST_POSTGRES

printf '\n==> [test %s] ruff check .\n' "$(date +%H:%M:%S)"
ruff_status=0
.venv/bin/ruff check . || ruff_status=$?

finish_server kafka PULSE_TEST_KAFKA
finish_server postgres PULSE_TEST_POSTGRES

printf '\n==> [test %s] pytest (all tests, browser included)\n' "$(date +%H:%M:%S)"
mkdir -p test-artifacts
pytest_status=0
# No JUnit XML: pytest's own summary line ends the output.
.venv/bin/pytest "$@" || pytest_status=$?

if [ -n "$server_failed" ]; then
  echo "test.sh: FAILED: could not start:$server_failed (output above); their tests were skipped" >&2
  exit 1
fi
if [ "$ruff_status" != 0 ]; then
  echo "test.sh: FAILED: ruff check . found problems (listed above the pytest run)" >&2
  exit "$ruff_status"
fi
exit "$pytest_status"
