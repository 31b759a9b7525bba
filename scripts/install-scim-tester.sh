#!/usr/bin/env bash
# Installs scim2-tester (PyPI), the SCIM compliance checker the server's SCIM tests run
# (crates/server/tests/scim_compliance.rs through scripts/scim-check.py), into a venv of
# this checkout, pinned, idempotently: .tools/scim-venv.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.tools/scim-venv"
TESTER_VERSION="0.5.2"
CLIENT_VERSION="0.11.0"

stamp="$VENV/.scim2-tester-$TESTER_VERSION-client-$CLIENT_VERSION-httpx2"
if [ -e "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  echo "install-scim-tester: scim2-tester $TESTER_VERSION present in .tools/scim-venv"
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-scim-tester: installing python3-venv (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
echo "install-scim-tester: creating .tools/scim-venv with scim2-tester $TESTER_VERSION (PyPI)"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "scim2-tester[httpx2]==$TESTER_VERSION" "scim2-client[httpx2]==$CLIENT_VERSION"
touch "$stamp"
echo "install-scim-tester: .tools/scim-venv ready"
