#!/usr/bin/env bash
# Fuzzes the envelope parser with cargo-fuzz (libFuzzer) for a while.
#   scripts/fuzz-envelope.sh [SECONDS]   (default 60)
# Needs the nightly toolchain; installs cargo-fuzz if missing. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_TO_RUN="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
mkdir -p corpus/envelope_parse
# Seed the corpus with the published test vector.
printf '%s' "4c4b010101bfd8d28cfcf9c0b9404142434445464748494a4b4c4d4e4f5051525354555657af1b6413b3850a65d080e8d5caf247a8b0cec8b7677b2e7f4a84db0d46ada4ccd9bbf065e30dbb" \
  | xxd -r -p > corpus/envelope_parse/vector-1 2>/dev/null || true
cargo +nightly fuzz run envelope_parse -- -max_total_time="$SECONDS_TO_RUN" -max_len=4096
