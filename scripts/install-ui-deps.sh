#!/usr/bin/env bash
# Installs the tray menu UI's Node dependencies (Svelte, Vite, @tauri-apps/api and the
# prebuilt Tauri CLI used for `tauri build` packaging) into ui/node_modules with `npm ci`,
# only when node_modules is missing or older than package-lock.json. Idempotent; meant
# for the Makefile's `deps` target. Building the Rust app never needs it: ui/dist is committed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
UI="$ROOT/ui"
stamp="$UI/node_modules/.package-lock.json"
if [ ! -d "$UI/node_modules" ] || [ ! -e "$stamp" ] || [ "$UI/package-lock.json" -nt "$stamp" ]; then
  echo "install-ui-deps: npm ci in ui"
  (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
  echo "install-ui-deps: node_modules ready"
else
  echo "install-ui-deps: ui/node_modules up to date"
fi
