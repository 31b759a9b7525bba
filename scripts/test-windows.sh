#!/usr/bin/env bash
# `make test-windows`: the Windows (x86_64-pc-windows-gnu) build of the crates whose
# logic must hold on Windows, run under Debian's Wine: the private files (the atomic
# replace while another process has the file open), the vault (envelopes, cache, key),
# the catalog and the connect engine's unit tests, and the keychain against Wine's
# Credential Manager. What Wine cannot stand for is in docs/platforms.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"

scripts/install-cross-deps.sh

# The stand-in bcryptprimitives.dll (Rust's std needs ProcessPrng; Wine 8.0 lacks it).
mkdir -p .tools/wine
shim=.tools/wine/bcryptprimitives.dll
if [ ! -e "$shim" ] || [ scripts/wine/bcryptprimitives.c -nt "$shim" ] || [ scripts/wine/bcryptprimitives.def -nt "$shim" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" scripts/wine/bcryptprimitives.c \
    scripts/wine/bcryptprimitives.def -lbcrypt
fi
export WINEPREFIX="$ROOT/.tools/wine/prefix"
export WINEDEBUG="${WINEDEBUG:--all}"
# Wine's first start builds the prefix (about 15 s); later runs reuse it.
if [ ! -e "$WINEPREFIX/system.reg" ]; then
  echo "test-windows: creating the Wine prefix in .tools/wine/prefix"
  /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
fi
# Stop this prefix's wineserver on the way out, whatever happens.
trap '/usr/lib/wine/wineserver -k >/dev/null 2>&1 || true' EXIT

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$ROOT/scripts/wine-run.sh"
start=$SECONDS
"$CARGO" test --target x86_64-pc-windows-gnu --lib --no-fail-fast \
  -p latchkey-private-files -p latchkey-keychain -p latchkey-vault -p latchkey-catalog -p latchkey-connect
# The real keychain: Windows Credential Manager as Wine implements it.
LATCHKEY_KEYCHAIN_TESTS=required "$CARGO" test --target x86_64-pc-windows-gnu \
  -p latchkey-vault --test real_keychain -- --test-threads=1
echo "test-windows: passed under Wine in $((SECONDS - start)) s"
