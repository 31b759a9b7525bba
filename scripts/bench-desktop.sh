#!/usr/bin/env bash
# Benchmark of the desktop app (not a timed test): builds Latchkey and the minimal
# Tauri 2 tray app in bench/minimal-tauri with the shipping release profile, then
# measures both in alternating runs on a private Xvfb display, inside a private
# D-Bus session with an unlocked gnome-keyring:
#   - start: spawn -> top-level window mapped (xwininfo), median of RUNS;
#   - idle memory: PSS and RSS of the app and all its descendants
#     (WebKitWebProcess, WebKitNetworkProcess) after the window settled;
#   - release binary size.
# Writes the desktop section of docs/benchmarks.md with the ratios to the
# baseline and the targets (<= 1.3x start and memory, binary < 15 MB).
#
#   scripts/bench-desktop.sh            # or: make bench-desktop
#
# Env: CARGO_TARGET_DIR (shared by both builds), RUNS (default 7), SETTLE
# seconds (default 5), BENCH_NOTE (a line on the run's conditions), and
# NO_WRITE=1 to print the section without touching docs/benchmarks.md.
# Needs Xvfb, xwininfo, dbus-run-session, gnome-keyring-daemon (scripts/install-deps.sh).
# Full LTO builds of both apps take several minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "bench-desktop: building latchkey-desktop (release)" >&2
cargo build --release -p latchkey-desktop --locked
echo "bench-desktop: building bench/minimal-tauri (release)" >&2
(cd bench/minimal-tauri && cargo build --release --locked)

keyring="$(mktemp -d -t latchkey-bench-keyring.XXXXXX)"
trap 'rm -rf "$keyring"' EXIT
scripts/with-keychain.sh --keyring-dir "$keyring" -- \
  python3 scripts/bench-desktop.py \
    --latchkey "$CARGO_TARGET_DIR/release/latchkey-desktop" \
    --minimal "$CARGO_TARGET_DIR/release/minimal-tauri" \
    --runs "${RUNS:-7}" --settle "${SETTLE:-5}" ${NO_WRITE:+--no-write}
