#!/usr/bin/env bash
# Rebuilds the tray menu's web UI (ui/, Svelte 5 + Vite) into ui/dist/, which is
# committed and embedded in the desktop app by Tauri (tauri.conf.json build.frontendDist).
# Run it after changing anything under ui/src, then commit dist/ with the sources.
# The Rust build never runs npm.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-ui-deps.sh"
cd "$ROOT/ui"
npx --no-install svelte-check --tsconfig ./tsconfig.json --threshold warning
npx --no-install vite build --logLevel warn
# Fingerprint of the sources dist/ was built from (as `sha256sum` lines, hashed again),
# computed exactly like the console's so a Rust test can recompute it.
find src index.html vite.config.ts package.json package-lock.json -type f \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1 > dist-sources.sha256
echo "build-ui: dist/ rebuilt:"
find dist -type f | sort | sed 's/^/  /'
