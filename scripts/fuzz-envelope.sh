#!/usr/bin/env bash
# Fuzzes the envelope parser with cargo-fuzz (libFuzzer) for a while.
#   scripts/fuzz-envelope.sh [SECONDS]   (default 60)
# Kept for `make fuzz`; the same as scripts/fuzz.sh envelope_parse [SECONDS].
set -euo pipefail
exec "$(dirname "$0")/fuzz.sh" envelope_parse "${1:-60}"
