#!/usr/bin/env bash
# Builds the Node addon and runs its tests. Called by CI from the repo root:
#   bash bindings-node/run-tests.sh
# Needs only node/npm and cargo. The addon builds into target/node (its own
# target dir, so it never waits on the main workspace's lock).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
node --test __test__/
# The typed example under --strict.
npx tsc --noEmit --strict -p tsconfig.json
echo "typecheck ok"
