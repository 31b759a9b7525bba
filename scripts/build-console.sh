#!/usr/bin/env bash
# Rebuilds the admin console (crates/server/console, Svelte 5 + Vite) into
# crates/server/console/dist/, which is committed and embedded in latchkey-server by
# crates/server/build.rs. Run it after changing anything under crates/server/console/src,
# then commit dist/ with the sources. The Rust build never runs npm.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-console-deps.sh"
cd "$ROOT/crates/server/console"
npx --no-install svelte-check --tsconfig ./tsconfig.json --threshold warning
npx --no-install vite build --logLevel warn
# Fingerprint of the sources dist/ was built from; the server's unit test
# `console::tests::dist_was_built_from_the_committed_sources` recomputes it.
find src public index.html vite.config.ts package.json package-lock.json -type f \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1 > dist-sources.sha256
echo "build-console: dist/ rebuilt:"
find dist -type f | sort | sed 's/^/  /'
