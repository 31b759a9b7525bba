#!/usr/bin/env bash
# Installs the real test peers for the connect engine's tests, idempotently:
#   - Debian's chromium (the "system browser", driven by playwright-core), xdg-utils if xdg-open is missing
#   - Node.js + npm, only if node is missing
#   - testing/peers/node_modules (oidc-provider, playwright-core) via `npm ci`,
#     only when node_modules is missing or older than package-lock.json
# Safe to run again: it prints what it did and does nothing when all is present.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="$ROOT/testing/peers"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
if [ ! -x /usr/bin/chromium ] || ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  missing+=(chromium)
fi
# xdg-open: the opener the connect engine uses on Linux (it honours $BROWSER).
if ! command -v xdg-open >/dev/null 2>&1; then
  missing+=(xdg-utils)
fi
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-peers: system packages present (chromium, xdg-open, node $(node --version), npm $(npm --version))"
else
  echo "install-test-peers: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-test-peers: installed ${missing[*]}"
fi

# npm ci when node_modules is missing, or older than the lock file.
stamp="$PEERS/node_modules/.package-lock.json"
if [ ! -d "$PEERS/node_modules" ] || [ ! -e "$stamp" ] || [ "$PEERS/package-lock.json" -nt "$stamp" ]; then
  echo "install-test-peers: npm ci in testing/peers"
  (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error)
  # npm ci rewrites node_modules/.package-lock.json; touch it so the next run sees it newer.
  touch "$stamp"
  echo "install-test-peers: node_modules ready"
else
  echo "install-test-peers: testing/peers/node_modules up to date"
fi
