#!/usr/bin/env bash
# Benchmark of latchkey-server (not a timed test). For each backend, starts a
# release build on loopback, then drives 64 concurrent connections for
# SECONDS each against: a static 200 (/healthz, the baseline, same server
# stack), GET of a connection record, and compare-and-swap PUT of a record
# (2 KiB envelopes). Prints a Markdown table: requests/s, ratio to the
# baseline, p50/p99 latency. Results are recorded in docs/benchmarks.md.
#
#   scripts/bench-server.sh                       # SQLite only
#   scripts/with-postgres.sh scripts/bench-server.sh   # SQLite and PostgreSQL
#
# PostgreSQL runs twice: over TCP on loopback, and over its Unix socket (what a
# server next to its database should use: no TCP stack on either side of each
# statement). Then pgbench, the cheapest client there is, runs the two statements
# of a device request alone against the same cluster: PostgreSQL's own ceiling
# on these cores, with no HTTP server or load generator beside it.
#
# Env: SECONDS_PER_SCENARIO (default 10), CONNECTIONS (default 64).
# The load generator runs on the same machine and competes for the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
SECS="${SECONDS_PER_SCENARIO:-10}"
CONNS="${CONNECTIONS:-64}"

# Optimised, but without the shipping profile's full LTO (minutes on 2 cores).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=3
cargo build --release -q -p latchkey-server --bin latchkey-server --example loadgen
BIN="$CARGO_TARGET_DIR/release/latchkey-server"
LOADGEN="$CARGO_TARGET_DIR/release/examples/loadgen"

# Never leave a server behind, even when the load generator fails.
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null; true' EXIT

run_backend() {
  local label="$1" url="$2" dir
  dir="$(mktemp -d)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # The load generator enrolls one device per connection (a user keeps at most five
  # records per integration), more than the default 30 enrollments a minute per IP.
  export LATCHKEY_DATA_DIR="$dir" LATCHKEY_DATABASE_URL="$url" LATCHKEY_LOG=warn LATCHKEY_AUTH_RATE_PER_MINUTE=1000
  printf 'benchmark password 123\n' | "$BIN" admin create --email bench@example.com --password-stdin >/dev/null
  local token
  token="$("$BIN" admin token --email bench@example.com)"
  "$BIN" serve --listen "127.0.0.1:$port" 2>"$dir/server.log" &
  SERVER_PID=$!
  local pid=$SERVER_PID
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$LOADGEN" --url "http://127.0.0.1:$port" --admin-token "$token" --connections "$CONNS" --seconds "$SECS" --label "$label" >"$dir/loadgen.out"
  sed -n '3,$p' "$dir/loadgen.out"
  kill -TERM "$pid"
  wait "$pid" || true
  SERVER_PID=""
  rm -rf "$dir"
}

echo "| backend | scenario | conns | requests | errors | req/s | vs static | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
tmp_sqlite="$(mktemp -d)"
run_backend sqlite "sqlite://$tmp_sqlite/latchkey.db"
rm -rf "$tmp_sqlite"
if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
  db="lk_bench_$$"
  psql -q "$LATCHKEY_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
  run_backend postgres "${LATCHKEY_TEST_POSTGRES_URL%/*}/$db"
  if [ -n "${LATCHKEY_TEST_POSTGRES_SOCKET_DIR:-}" ]; then
    pg_port="${LATCHKEY_TEST_POSTGRES_URL##*:}"
    pg_port="${pg_port%%/*}"
    db2="lk_bench_socket_$$"
    psql -q "$LATCHKEY_TEST_POSTGRES_URL" -c "CREATE DATABASE $db2" >/dev/null
    run_backend "postgres (unix socket)" "postgres://postgres@localhost:$pg_port/$db2?host=$LATCHKEY_TEST_POSTGRES_SOCKET_DIR"
    scripts/bench-postgres-ceiling.sh "postgres://postgres@localhost:$pg_port/$db2?host=$LATCHKEY_TEST_POSTGRES_SOCKET_DIR"
  fi
fi
