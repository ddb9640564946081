#!/usr/bin/env bash
# Sets up networkpulse on a fresh Debian machine (or re-checks an existing checkout). Idempotent.
#
#   bash scripts/setup.sh          .venv (Python >= 3.11) + pip install -e '.[test]' + the web UI
#   bash scripts/setup.sh --test   the same, and Debian's chromium for the browser tests (apt-get, needs root)
#
# Downloads only from PyPI (pinned in pyproject.toml), npm (web/package-lock.json) and Debian.
# Re-running skips what is done, but always re-installs the package so new dependencies land.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WITH_TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (expected --test or --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> [setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
done_() { printf '    %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. Python >= 3.11
step "Python"
PYTHON=""
for candidate in "${PULSE_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    PYTHON=$(command -v "$candidate"); break
  fi
done
[ -n "$PYTHON" ] || die "no Python >= 3.11 found; install it (apt-get install -y python3 python3-venv) or set PULSE_PYTHON=/path/to/python3.11"
done_ "using $PYTHON ($("$PYTHON" --version 2>&1))"

# ---------------------------------------------------------------- 2. .venv
step "virtual environment .venv"
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  done_ "exists ($(.venv/bin/python --version 2>&1)), kept"
else
  rm -rf .venv
  "$PYTHON" -m venv .venv || die "could not create .venv with $PYTHON -m venv (on Debian: apt-get install -y python3-venv)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  done_ "created with $PYTHON, pip $(.venv/bin/python -m pip --version | cut -d' ' -f2)"
fi

# ---------------------------------------------------------------- 3. the package and its pinned dependencies
step "pip install -e '.[test]' (dependencies pinned in pyproject.toml)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# pip's own warnings (build back-end deprecations) go to a log; it is shown if the install fails.
PIP_LOG=.venv/pip-install.log
.venv/bin/python -m pip install --quiet -e '.[test]' > "$PIP_LOG" 2>&1 \
  || { tail -n 40 "$PIP_LOG" >&2; die "pip install -e '.[test]' failed (log above, full log in $PIP_LOG)"; }
done_ "installed networkpulse $(.venv/bin/python -c 'import networkpulse; print(networkpulse.__version__)') -> .venv/bin/pulse"

# ---------------------------------------------------------------- 4. the web UI
step "web UI (scripts/build_web.sh: npm ci + esbuild)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  die "node and npm are needed to build the web UI (Node.js >= 18); install them, e.g. apt-get install -y nodejs npm"
fi
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 18 ] || die "Node.js >= 18 is needed to build the web UI, found $(node --version)"
bash scripts/build_web.sh > .venv/build_web.log 2>&1 || { tail -n 40 .venv/build_web.log >&2; die "scripts/build_web.sh failed (log above, full log in .venv/build_web.log)"; }
[ -f src/networkpulse/serve/static/index.html ] || die "scripts/build_web.sh ran but src/networkpulse/serve/static/index.html is missing"
done_ "built with node $(node --version) into src/networkpulse/serve/static/"

# ---------------------------------------------------------------- 5. chromium for the browser tests
if [ "$WITH_TEST" = 1 ]; then
  step "chromium for the browser tests"
  CHROMIUM=${PULSE_CHROMIUM:-/usr/bin/chromium}
  if [ -x "$CHROMIUM" ]; then
    done_ "present: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  else
    [ "$(id -u)" = 0 ] || die "$CHROMIUM is missing; as root run: apt-get update && apt-get install -y --no-install-recommends chromium"
    command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM is missing and apt-get is not available; install Chromium and set PULSE_CHROMIUM"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is still missing"
    done_ "installed $("$CHROMIUM" --version 2>/dev/null)"
  fi
fi

step "done"
done_ "run the demo:  .venv/bin/pulse demo     (then open http://127.0.0.1:8000/)"
[ "$WITH_TEST" = 1 ] && done_ "run the tests: bash scripts/test.sh"
exit 0
