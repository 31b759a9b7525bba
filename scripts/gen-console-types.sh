#!/usr/bin/env bash
# Regenerates the console's API types (crates/server/console/src/lib/api-types.ts) from
# docs/openapi.json with openapi-typescript (pinned in the console's package.json), or
# writes them to the file given as the first argument (the staleness test does that).
# Run it after `cargo run -p latchkey-server --example openapi > docs/openapi.json`,
# then scripts/build-console.sh, and commit all three.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONSOLE="$ROOT/crates/server/console"
out="${1:-$CONSOLE/src/lib/api-types.ts}"
if [ ! -x "$CONSOLE/node_modules/.bin/openapi-typescript" ]; then
  echo "gen-console-types: the console's node_modules lack openapi-typescript: run scripts/install-console-deps.sh" >&2
  exit 1
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
  echo "// Generated from docs/openapi.json by scripts/gen-console-types.sh (openapi-typescript)."
  echo "// Do not edit: change the types in crates/protocol, regenerate docs/openapi.json"
  echo "// (cargo run -p latchkey-server --example openapi > docs/openapi.json), then run the script."
  (cd "$CONSOLE" && node_modules/.bin/openapi-typescript "$ROOT/docs/openapi.json" --default-non-nullable false --no-color)
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
