#!/usr/bin/env bash
# Installs (if needed) and smoke-tests the real test peers of the connect engine's tests:
# the oidc-provider authorization server and the headless chromium "system browser".
# Screenshots of failed browser runs land in test-output/peers/ (or $LATCHKEY_TEST_ARTIFACTS).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-test-peers.sh"
cd "$ROOT/testing/peers"
start=$(date +%s)
npm test --silent
echo "test-peers: smoke test passed in $(( $(date +%s) - start ))s"
