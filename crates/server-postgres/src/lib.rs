//! PostgreSQL backend of `latchkey-server`: several stateless server replicas
//! share one PostgreSQL.
//!
//! The shared SQL implementation of `latchkey-server-database` (both engines take
//! `$N` parameters), with the differences PostgreSQL needs:
//!
//! - **Change-feed order without a lock.** Writers append to the change log
//!   concurrently, so a later `seq` can commit before an earlier one. A change's
//!   `seq` carries the id of the transaction that wrote it in its high bits
//!   (migration `…12_change_feed_without_lock`), and a feed serves only entries
//!   of transactions that have finished ([`SETTLED_CHANGES_SQL`]): a transaction
//!   still running has an id at least the snapshot's oldest running one, so
//!   whatever it commits sorts after every cursor already handed out. A poller on
//!   any replica that resumes after seq N never misses a change, and record
//!   writes commit (and share WAL flushes) side by side instead of queueing
//!   behind one advisory lock.
//! - **CAS** relies on row locks: a concurrent `UPDATE ... WHERE version = $v`
//!   waits for the first writer, then re-checks the version and matches nothing.
//! - Creating the organisation takes an advisory lock, so replicas starting
//!   together on an empty database agree on one.

use async_trait::async_trait;
use latchkey_server_database::rows::{self, backend};
use latchkey_server_database::{
    ConnectionRecord, DbResult, HotPool, Pools, Precondition, RecordWrite, STALE_AFTER, SqlBackend,
    sql,
};
use sqlx::Transaction;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};
use sqlx::{Connection, Postgres};
use std::time::Duration;

/// A PostgreSQL-backed store.
pub struct PostgresDatabase {
    pools: Pools<Postgres>,
}

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

impl PostgresDatabase {
    /// Connects to `url` (`postgres://…`).
    pub async fn connect(url: &str) -> DbResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings every connection before handing it out: a round trip
            // per query, as many as the queries themselves on the hot paths.
            // Ping only a connection idle long enough to have been dropped by
            // a restart or a proxy; a busy one answered a moment ago.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > STALE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await
            .map_err(backend)?;
        // The statements of every device request (the token lookup with what it
        // reads, the one-statement record write), on connections sqlx's pool does
        // not ping after each statement.
        let hot = HotPool::new((*pool.connect_options()).clone(), HOT_CONNECTIONS);
        Ok(Self {
            pools: Pools {
                read: pool.clone(),
                write: pool,
                hot,
            },
        })
    }
}

/// Connections for the statements of device requests, beside the pool's 16 for
/// everything else (each replica may hold both).
const HOT_CONNECTIONS: usize = 16;

/// The advisory-lock key that serialises creating the organisation ("LKORG").
const ORG_LOCK: i64 = 0x004C_4B4F_5247;

/// The change-log entries a feed may serve: those written by transactions that
/// have finished. A `seq` is `transaction id << 20 | ordinal`, and every
/// transaction not finished when this statement's snapshot was taken has an id
/// of at least the snapshot's `xmin`. (The ordinal is drawn from one cycling
/// sequence; a transaction would need 2^20 entries drawn while it runs before
/// two of its own collide, and the primary key would refuse that write.)
pub const SETTLED_CHANGES_SQL: &str =
    "seq < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)";

const PUT_ABSENT_SQL: &str = "INSERT INTO connection_records \
     (user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at, deleted) \
     VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, FALSE) \
     ON CONFLICT (user_id, vault_key_id, integration_id, environment) DO UPDATE SET \
     envelope = excluded.envelope, version = connection_records.version + 1, \
     device_id = excluded.device_id, created_at = excluded.created_at, \
     updated_at = excluded.updated_at, deleted = FALSE \
     WHERE connection_records.deleted = TRUE \
     RETURNING user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at";

const PUT_MATCH_SQL: &str = "UPDATE connection_records SET envelope = $5, version = version + 1, device_id = $6, \
     updated_at = $7 WHERE user_id = $1 AND vault_key_id = $2 AND integration_id = $3 \
     AND environment = $4 AND deleted = FALSE AND version = $8 \
     RETURNING user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at";

/// The single statement of a record write: the CAS (`$1`-`$8`; `$8` is the
/// expected version, unused but bound for a create), then the audit row
/// (`$9`-`$15`) and `changes` rows (five parameters each). Every later part
/// reads `upd`, so a lost CAS writes nothing.
fn put_record_sql(precondition: Precondition, changes: usize) -> String {
    let cas = match precondition {
        Precondition::Absent => PUT_ABSENT_SQL.replace(
            "VALUES ($1, $2, $3, $4, $5, 1,",
            "VALUES ($1, $2, $3, $4, $5, 1 + 0 * $8::bigint,",
        ),
        Precondition::Version(_) => PUT_MATCH_SQL.to_owned(),
    };
    let mut sql = format!(
        "WITH upd AS ({cas}), \
         aud AS (INSERT INTO audit_events (org_id, at, actor_kind, actor_id, action, target, detail) \
         SELECT $9, $10, $11, $12, $13, $14, $15 FROM upd)"
    );
    if changes > 0 {
        let rows: Vec<String> = (0..changes)
            .map(|i| {
                let b = 16 + i * 5;
                format!(
                    "(${b}::text, ${}::text, ${}::text, ${}::text, ${}::bigint)",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                )
            })
            .collect();
        sql.push_str(&format!(
            ", chg AS (INSERT INTO changes (org_id, user_id, kind, integration_id, at) \
             SELECT v.org_id, v.user_id, v.kind, v.integration_id, v.at FROM upd, \
             (VALUES {}) AS v(org_id, user_id, kind, integration_id, at))",
            rows.join(", ")
        ));
    }
    sql.push_str(" SELECT * FROM upd");
    sql
}

/// PostgreSQL's side of the shared SQL implementation: one pool, the org lock,
/// the change-feed horizon, and the record write as a single statement.
#[async_trait]
impl SqlBackend for PostgresDatabase {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const ORDER_ID_SQL: &'static str =
        "md5(random()::text || clock_timestamp()::text || t.device_id)";
    const SETTLED_CHANGES_SQL: &'static str = SETTLED_CHANGES_SQL;

    fn pools(&self) -> &Pools<Postgres> {
        &self.pools
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn lock_org(&self, tx: &mut Transaction<'_, Postgres>) -> DbResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ORG_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn write_record(&self, put: RecordWrite<'_>) -> DbResult<Option<ConnectionRecord>> {
        // One statement, one round trip: the CAS write, its audit row and its
        // change rows commit together, or none do.
        let sql = put_record_sql(put.precondition, put.journal.changes.len());
        let slot = put.slot;
        // A new slot starts at version 1; a tombstone is revived at its version + 1.
        let mut query = sqlx::query(&sql)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .bind(put.envelope)
            .bind(put.device_id)
            .bind(put.now)
            .bind(match put.precondition {
                Precondition::Absent => 0,
                Precondition::Version(v) => v,
            });
        query = sql::bind_audit(query, &put.journal.audit);
        for c in &put.journal.changes {
            query = sql::bind_change(query, c);
        }
        let mut hot = self.pools.hot.acquire().await?;
        let written = query.fetch_optional(hot.conn()?).await;
        hot.settle(&written);
        let written = written.map_err(backend)?;
        written.as_ref().map(rows::record).transpose()
    }
}
