#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu test binaries (scripts/test-windows.sh sets
# CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER to this): runs one under Debian's Wine in
# this checkout's own Wine prefix, with the stand-in bcryptprimitives.dll beside it
# (scripts/wine/bcryptprimitives.c says why Wine 8.0 needs it).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exe="$1"
shim="$ROOT/.tools/wine/bcryptprimitives.dll"
if [ ! -e "$shim" ]; then
  echo "wine-run: $shim is missing; run scripts/test-windows.sh" >&2
  exit 2
fi
# Windows looks for a DLL in the program's own folder first: beside the test binary
# (target/<triple>/debug/deps) and beside the binaries a test starts (target/<triple>/debug).
for dir in "$(dirname "$exe")" "$(dirname "$(dirname "$exe")")"; do
  cmp -s "$shim" "$dir/bcryptprimitives.dll" || cp "$shim" "$dir/"
done
export WINEPREFIX="${WINEPREFIX:-$ROOT/.tools/wine/prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
exec /usr/lib/wine/wine64 "$@"
