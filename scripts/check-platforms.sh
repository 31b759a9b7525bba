#!/usr/bin/env bash
# `make check-platforms`: clippy with -D warnings over the whole workspace (the desktop
# app included) for Windows (x86_64-pc-windows-gnu) and macOS (aarch64-apple-darwin),
# so code behind `cfg(windows)` / `cfg(target_os = "macos")` is compiled and linted on
# every run, not first on a user's machine. Checks only: nothing is linked or run
# (docs/platforms.md says what is verified where, and why Windows tests do not run).
#
#   scripts/check-platforms.sh            both targets
#   scripts/check-platforms.sh windows    one of them (windows | macos)
#
# Uses $CARGO_TARGET_DIR like cargo (default ./target): the cross targets get their own
# subfolders there and share the host's build scripts and proc macros.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
VENV="$ROOT/.tools/cross-venv"

scripts/install-cross-deps.sh

check_windows() {
  # mingw-w64's gcc builds the C code in dependencies (ring, aws-lc, SQLite).
  "$CARGO" clippy --workspace --all-targets --keep-going --target x86_64-pc-windows-gnu -- -D warnings
}

check_macos() {
  # No Apple C compiler here: cargo-zigbuild hands the C code to zig (from PyPI).
  PATH="$VENV/bin:$PATH" "$VENV/bin/cargo-zigbuild" clippy --workspace --all-targets --keep-going \
    --target aarch64-apple-darwin -- -D warnings
}

platforms=("$@")
if [ ${#platforms[@]} -eq 0 ]; then platforms=(windows macos); fi
for platform in "${platforms[@]}"; do
  case "$platform" in
    windows | macos) ;;
    *) echo "check-platforms: unknown platform '$platform' (windows | macos)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  echo "check-platforms: clippy for $platform"
  "check_$platform"
  echo "check-platforms: $platform clean in $((SECONDS - start)) s"
done
