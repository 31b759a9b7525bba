#!/usr/bin/env bash
# Runs one cargo-fuzz (libFuzzer) target for a while.
#   scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER_ARGS...]   (SECONDS: default 60)
# Targets: envelope_parse, token_response, loopback_request (fuzz/fuzz_targets/,
# described in docs/fuzzing.md). The seeds in fuzz/seeds/TARGET are copied into
# the working corpus fuzz/corpus/TARGET (not committed) before each run; crash
# inputs land in fuzz/artifacts/TARGET.
# Needs the nightly toolchain; installs cargo-fuzz if missing. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if [ $# -lt 1 ]; then
  echo "usage: scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER_ARGS...]" >&2
  echo "targets: $(ls fuzz_targets | sed 's/\.rs$//' | tr '\n' ' ')" >&2
  exit 2
fi
TARGET="$1"
SECONDS_TO_RUN="${2:-60}"
shift $(( $# >= 2 ? 2 : 1 ))
if [ ! -f "fuzz_targets/$TARGET.rs" ]; then
  echo "no such fuzz target: $TARGET (see fuzz/fuzz_targets/)" >&2
  exit 2
fi
case "$TARGET" in
  envelope_parse) MAX_LEN=4096 ;;
  *) MAX_LEN=8192 ;;
esac

command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
mkdir -p "corpus/$TARGET"
if [ -d "seeds/$TARGET" ]; then
  cp -n "seeds/$TARGET"/* "corpus/$TARGET"/ 2>/dev/null || true
fi
cargo +nightly fuzz run "$TARGET" "corpus/$TARGET" -- \
  -max_total_time="$SECONDS_TO_RUN" -max_len="$MAX_LEN" "$@"
