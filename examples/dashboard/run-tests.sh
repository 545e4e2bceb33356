#!/usr/bin/env bash
# Runs the dashboard's tests: HTTP endpoints and headless Chromium. Called by
# CI from the repo root after the Node step (which builds the addon):
#   bash examples/dashboard/run-tests.sh
# Installs what it needs: Debian's chromium (apt-get, when /usr/bin/chromium
# is missing) and the npm packages (npm ci). playwright-core drives the
# system browser; it never downloads one.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if [ ! -f ../../bindings-node/index.js ] || ! ls ../../bindings-node/*.node >/dev/null 2>&1; then
    echo "build the Node addon first: bash bindings-node/run-tests.sh (or npm run build in bindings-node)" >&2
    exit 1
fi
npm ci --no-audit --no-fund
node --test --test-concurrency=1 test/
