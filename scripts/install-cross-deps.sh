#!/usr/bin/env bash
# Installs what `make check-platforms` and `make test-windows` need to compile the
# workspace for Windows and macOS on this Linux machine and to run the Windows tests
# (docs/platforms.md), idempotently:
#   - the pinned toolchain's standard libraries for x86_64-pc-windows-gnu and
#     aarch64-apple-darwin (rustup; the channel comes from rust-toolchain.toml)
#   - Debian's gcc-mingw-w64-x86-64 (the C compiler for the Windows target's C code)
#     and wine64 (to run the Windows unit tests)
#   - a Python venv in .tools/cross-venv with ziglang and cargo-zigbuild from PyPI,
#     pinned: zig is the only C compiler for the Apple target that can be had here
# Safe to run again: it prints what is present and installs only what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGETS=(x86_64-pc-windows-gnu aarch64-apple-darwin)
ZIGLANG_VERSION="0.15.2"
ZIGBUILD_VERSION="0.24.1"
VENV="$ROOT/.tools/cross-venv"

# rustup targets for the pinned toolchain (not the default one).
TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml")"
if [ -z "$TOOLCHAIN" ]; then
  echo "install-cross-deps: no channel in rust-toolchain.toml" >&2
  exit 1
fi
installed="$(rustup target list --installed --toolchain "$TOOLCHAIN" 2>/dev/null || true)"
missing_targets=()
for t in "${TARGETS[@]}"; do
  if ! grep -qx "$t" <<<"$installed"; then missing_targets+=("$t"); fi
done
if [ ${#missing_targets[@]} -eq 0 ]; then
  echo "install-cross-deps: rust targets present for $TOOLCHAIN (${TARGETS[*]})"
else
  echo "install-cross-deps: rustup target add ${missing_targets[*]} for $TOOLCHAIN"
  # A fresh machine may not have the pinned toolchain yet (cargo installs it on first use).
  if ! rustup toolchain list | grep -q "^$TOOLCHAIN-"; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal -c clippy -c rustfmt >/dev/null
  fi
  rustup target add --toolchain "$TOOLCHAIN" "${missing_targets[@]}"
fi

# mingw-w64: the C compiler for ring, aws-lc and SQLite's bundled C code on windows-gnu.
# wine64: runs the Windows test binaries (scripts/test-windows.sh).
APT_PACKAGES=(gcc-mingw-w64-x86-64 wine64)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-cross-deps: ${APT_PACKAGES[*]} present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-cross-deps: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# zig + cargo-zigbuild in a venv of this checkout (.tools is ignored by git).
stamp="$VENV/.ziglang-$ZIGLANG_VERSION-zigbuild-$ZIGBUILD_VERSION"
if [ -e "$stamp" ] && [ -x "$VENV/bin/cargo-zigbuild" ] && [ -x "$VENV/bin/python-zig" ]; then
  echo "install-cross-deps: ziglang $ZIGLANG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION present in .tools/cross-venv"
else
  echo "install-cross-deps: creating .tools/cross-venv with ziglang $ZIGLANG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION (PyPI)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION"
  touch "$stamp"
  echo "install-cross-deps: .tools/cross-venv ready"
fi
