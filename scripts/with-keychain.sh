#!/usr/bin/env bash
# Runs a command with a real, unlocked Secret Service keychain.
#
#   scripts/with-keychain.sh [--keyring-dir DIR] -- COMMAND [ARGS...]
#
# If the current desktop session already has a Secret Service (GNOME Keyring,
# KWallet) and --keyring-dir is not given, the command runs against it as is.
# Otherwise a private D-Bus session is started with gnome-keyring-daemon
# unlocked non-interactively, its keyrings kept in DIR (default: a temporary
# directory, removed afterwards), so tests never touch a user's real keyrings.
# The daemon is stopped by process id when the command ends.
set -euo pipefail

KEYRING_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keyring-dir) KEYRING_DIR="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--keyring-dir DIR] -- COMMAND [ARGS...]" >&2; exit 64; }

has_secret_service() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"
}

if [ -z "${LATCHKEY_KEYCHAIN_SESSION:-}" ]; then
  if [ -z "$KEYRING_DIR" ] && has_secret_service; then
    exec "$@"
  fi
  for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
    command -v "$tool" >/dev/null || { echo "with-keychain: '$tool' is missing; run scripts/install-deps.sh" >&2; exit 69; }
  done
  export LATCHKEY_KEYCHAIN_SESSION=1
  exec dbus-run-session -- "$0" ${KEYRING_DIR:+--keyring-dir "$KEYRING_DIR"} -- "$@"
fi

# Inside the private session.
CLEANUP_DIR=""
if [ -z "$KEYRING_DIR" ]; then
  KEYRING_DIR="$(mktemp -d -t latchkey-keyring.XXXXXX)"
  CLEANUP_DIR="$KEYRING_DIR"
fi
mkdir -p "$KEYRING_DIR"
# gnome-keyring keeps keyrings in $XDG_DATA_HOME/keyrings; point it at ours only.
export XDG_DATA_HOME="$KEYRING_DIR"
# Keep GTK's accessibility bus from starting and outliving the session.
export NO_AT_BRIDGE=1

# The password only protects this private, throwaway keyring.
printf '%s' "latchkey-private-session" | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
KEYRING_PID=$!

cleanup() {
  kill "$KEYRING_PID" 2>/dev/null || true
  wait "$KEYRING_PID" 2>/dev/null || true
  if [ -n "$CLEANUP_DIR" ]; then rm -rf "$CLEANUP_DIR"; fi
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if has_secret_service; then break; fi
  sleep 0.1
done
has_secret_service || { echo "with-keychain: gnome-keyring did not start a Secret Service" >&2; exit 69; }

export LATCHKEY_KEYCHAIN_TESTS=required
set +e
"$@"
status=$?
set -e
exit $status
