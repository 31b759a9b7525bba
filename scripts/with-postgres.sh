#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster:
#   scripts/with-postgres.sh cargo test -p latchkey-server --test postgres
# Installs Debian's postgresql if missing (idempotent), creates a temporary
# cluster owned by the postgres user on a free loopback port, exports
# LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
# (and LATCHKEY_TEST_POSTGRES_SOCKET_DIR, the directory of its Unix socket),
# runs the command, and always stops and removes the cluster on exit.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

find_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ] || [ ! -x "$BINDIR/initdb" ]; then
  echo "with-postgres: installing Debian postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BINDIR="$(find_bindir)"
fi

# A free port: ask the kernel for one.
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
DIR="$(mktemp -d /tmp/latchkey-pg.XXXXXX)"
chown postgres:postgres "$DIR" 2>/dev/null || $SUDO chown postgres:postgres "$DIR"
chmod 700 "$DIR"

as_postgres() {
  if [ "$(id -un)" = "postgres" ]; then "$@"; else $SUDO runuser -u postgres -- "$@"; fi
}

cleanup() {
  as_postgres "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  $SUDO rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

as_postgres "$BINDIR/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
as_postgres "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" \
  -o "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" -w start >/dev/null

export LATCHKEY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export LATCHKEY_TEST_POSTGRES_SOCKET_DIR="$DIR"
echo "with-postgres: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
set -e
exit $status
