#!/usr/bin/env bash
# Installs the admin console's Node dependencies (Svelte, Vite, playwright-core for its
# browser test) into crates/server/console/node_modules with `npm ci`, only when
# node_modules is missing or older than package-lock.json. Chromium itself comes from
# scripts/install-test-peers.sh. Idempotent; meant for the Makefile's `deps` target.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONSOLE="$ROOT/crates/server/console"
stamp="$CONSOLE/node_modules/.package-lock.json"
if [ ! -d "$CONSOLE/node_modules" ] || [ ! -e "$stamp" ] || [ "$CONSOLE/package-lock.json" -nt "$stamp" ]; then
  echo "install-console-deps: npm ci in crates/server/console"
  (cd "$CONSOLE" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
  echo "install-console-deps: node_modules ready"
else
  echo "install-console-deps: crates/server/console/node_modules up to date"
fi
