#!/usr/bin/env bash
# Installs tauri-driver (the WebDriver bridge to the Tauri window; it drives Debian's
# WebKitWebDriver from scripts/install-deps.sh) into .tools/bin of this checkout, from
# crates.io, pinned and --locked. Idempotent: does nothing when that version is there.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="2.1.0"
BIN="$ROOT/.tools/bin/tauri-driver"
if [ -x "$BIN" ] && "$BIN" --help 2>&1 | grep -q . && [ -e "$ROOT/.tools/tauri-driver-$VERSION" ]; then
  echo "install-tauri-driver: tauri-driver $VERSION present"
  exit 0
fi
echo "install-tauri-driver: building tauri-driver $VERSION (about 2 minutes)"
# Its own target dir, so it never invalidates the workspace's build.
cargo install tauri-driver --version "=$VERSION" --locked --root "$ROOT/.tools" \
  --target-dir "$ROOT/.tools/build" --quiet
rm -rf "$ROOT/.tools/build"
touch "$ROOT/.tools/tauri-driver-$VERSION"
echo "install-tauri-driver: $BIN ready"
