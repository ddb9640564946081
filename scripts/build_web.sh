#!/usr/bin/env bash
# Builds the browser UI: web/ (npm + esbuild) -> src/networkpulse/serve/static/ (served by `networkpulse.serve`).
# Needs Node >= 18 and npm. Uses the committed package-lock.json (npm ci) so builds are reproducible.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null 2>&1; then
  echo "build_web.sh: npm not found; install Node.js >= 18 (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
npm run build
echo "UI built into $(cd ../src/networkpulse/serve/static && pwd)"
