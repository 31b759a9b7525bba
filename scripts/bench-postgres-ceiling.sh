#!/usr/bin/env bash
# PostgreSQL's own ceiling for the statements of a device request (not a test):
# pgbench, the cheapest client there is, runs each statement alone against a
# database that `scripts/bench-server.sh` has just filled (devices, users and
# records of its load generator), on the same cores, with no HTTP server or load
# generator beside it. Prints Markdown rows in bench-server.sh's table.
#
#   scripts/bench-postgres-ceiling.sh 'postgres://postgres@localhost:PORT/DB?host=/socket/dir'
#
# The statements mirror the server's: the GET is `sql::DEVICE_AND_RECORD`
# (crates/server-database/src/sql.rs) for one device; the write is the record
# write of `crates/server-postgres/src/lib.rs` (CAS update of a 2 KiB envelope,
# its audit row and its change row in one statement, committed with
# synchronous_commit on), each pgbench client on a slot of its own (found through
# a small table keyed by client id, a few microseconds more than the server's).
# Keep them in step with those files when they change.
set -euo pipefail
URL="$1"
SECS="${SECONDS_PER_SCENARIO:-10}"
CLIENTS="${PGBENCH_CLIENTS:-16}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

psql -q "$URL" <<'SQL'
DROP TABLE IF EXISTS bench_slots;
CREATE TABLE bench_slots AS
  SELECT (row_number() OVER ())::int - 1 AS n, r.user_id, r.vault_key_id, r.integration_id, r.environment
  FROM connection_records r WHERE NOT r.deleted;
CREATE UNIQUE INDEX ON bench_slots (n);
SQL
slots="$(psql -At "$URL" -c "SELECT count(*) FROM bench_slots")"
if [ "$slots" -lt "$CLIENTS" ]; then
  echo "bench-postgres-ceiling: $slots records, fewer than $CLIENTS clients" >&2
  exit 1
fi
read -r hash vk integ env < <(psql -At -F ' ' "$URL" -c "SELECT encode(d.token_hash, 'hex'), r.vault_key_id, r.integration_id, r.environment FROM connection_records r JOIN devices d ON d.user_id = r.user_id AND d.revoked_at IS NULL WHERE NOT r.deleted LIMIT 1")

cat >"$dir/get.sql" <<SQL
SELECT d.id, d.org_id, d.user_id, d.name, d.token_hash, d.created_at, d.last_seen_at, d.revoked_at,
  d.update_channel, d.app_version, d.app_target, d.app_arch, d.app_version_seen_at,
  u.email AS u_email, u.display_name AS u_display_name, u.created_at AS u_created_at,
  u.external_id AS u_external_id, u.active AS u_active, u.provisioned_by AS u_provisioned_by,
  u.updated_at AS u_updated_at, r.user_id AS r_user_id, r.vault_key_id AS r_vault_key_id,
  r.integration_id AS r_integration_id, r.environment AS r_environment, r.envelope AS r_envelope,
  r.version AS r_version, r.device_id AS r_device_id, r.created_at AS r_created_at,
  r.updated_at AS r_updated_at
FROM devices d JOIN users u ON u.id = d.user_id
LEFT JOIN connection_records r ON d.revoked_at IS NULL AND r.user_id = d.user_id
  AND r.vault_key_id = '$vk' AND r.integration_id = '$integ' AND r.environment = '$env'
  AND r.deleted = FALSE
WHERE d.token_hash = decode('$hash', 'hex');
SQL

cat >"$dir/put.sql" <<'SQL'
WITH upd AS (UPDATE connection_records r SET envelope = decode(repeat('ab', 2048), 'hex'),
    version = r.version + 1, device_id = r.device_id, updated_at = r.updated_at + 1
  FROM bench_slots s WHERE s.n = :client_id AND r.user_id = s.user_id
    AND r.vault_key_id = s.vault_key_id AND r.integration_id = s.integration_id
    AND r.environment = s.environment AND r.deleted = FALSE
  RETURNING r.user_id, r.vault_key_id, r.integration_id, r.environment, r.envelope, r.version,
    r.device_id, r.created_at, r.updated_at),
aud AS (INSERT INTO audit_events (org_id, at, actor_kind, actor_id, action, target, detail)
  SELECT 'bench', 1, 'device', 'bench', 'record.put', upd.user_id,
    '{"integration_id":"bench","environment":"production","vault_key_id":"bench"}' FROM upd),
chg AS (INSERT INTO changes (org_id, user_id, kind, integration_id, at)
  SELECT v.org_id, v.user_id, v.kind, v.integration_id, v.at FROM upd,
  (VALUES ('bench'::text, 'bench'::text, 'connection_changed'::text, 'bench'::text, 1::bigint))
    AS v(org_id, user_id, kind, integration_id, at))
SELECT * FROM upd;
SQL

run() {
  local label="$1" file="$2" out tps lat failed
  out="$("$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$SECS" -f "$file" "$URL" 2>&1)"
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")"
  lat="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")"
  if [ -z "$tps" ]; then
    echo "bench-postgres-ceiling: pgbench failed: $out" >&2
    exit 1
  fi
  printf '| postgres alone (pgbench, unix socket) | %s | %s | | %s | %.0f | | avg %s | |\n' "$label" "$CLIENTS" "${failed:-?}" "$tps" "$lat"
}
run "GET's statement" "$dir/get.sql"
run "PUT's write statement" "$dir/put.sql"
psql -q "$URL" -c "DROP TABLE bench_slots"
