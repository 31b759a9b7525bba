//! PostgreSQL backend of `latchkey-server`: several stateless server replicas
//! share one PostgreSQL.
//!
//! The shared SQL implementation of `latchkey-server-database` (both engines take
//! `$N` parameters), with the two
//! differences PostgreSQL needs: appends to the change log take a
//! transaction-scoped advisory lock, so the identity `seq` becomes visible in
//! commit order (a poller on any replica that resumes after seq N can never
//! miss a row committed later with a smaller seq); and CAS relies on
//! row locks: a concurrent `UPDATE ... WHERE version = $v` waits for the first
//! writer, then re-checks the version and matches nothing.

use async_trait::async_trait;
use latchkey_server_database::rows::{self, Columns, backend};
use latchkey_server_database::{
    ConnectionRecord, DbError, DbResult, Journal, Millis, Precondition, SlotKey, SqlBackend, sql,
};
use sqlx::Postgres;
use sqlx::Transaction;
use sqlx::postgres::{PgPool, PgPoolOptions, PgQueryResult};
use std::time::Duration;

/// A PostgreSQL-backed store.
pub struct PostgresDatabase {
    read: PgPool,
    write: PgPool,
}

impl PostgresDatabase {
    /// Connects to `url` (`postgres://…`).
    pub async fn connect(url: &str) -> DbResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(backend)?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
    }
}

/// The advisory-lock key that serialises change-log appends ("LKCHANGE").
const CHANGE_LOG_LOCK: i64 = 0x4C4B_4348_414E_4745;

/// The advisory-lock key that serialises creating the organisation ("LKORG").
const ORG_LOCK: i64 = 0x004C_4B4F_5247;

/// Takes a transaction-scoped advisory lock.
async fn advisory_lock(tx: &mut Transaction<'_, Postgres>, key: i64) -> DbResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

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
/// (`$9`-`$15`), the change-log lock key (`$16`) and `changes` rows (five
/// parameters each). Every later part reads `upd`, so a lost CAS writes nothing.
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
         SELECT $9, $10, $11, $12, $13, $14, $15 FROM upd), \
         lk AS (SELECT pg_advisory_xact_lock($16) AS locked FROM upd)"
    );
    if changes > 0 {
        let rows: Vec<String> = (0..changes)
            .map(|i| {
                let b = 17 + i * 5;
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
             SELECT v.org_id, v.user_id, v.kind, v.integration_id, v.at FROM lk, \
             (VALUES {}) AS v(org_id, user_id, kind, integration_id, at))",
            rows.join(", ")
        ));
    }
    sql.push_str(" SELECT * FROM upd");
    sql
}

/// PostgreSQL's side of the shared SQL implementation: one pool, the advisory
/// locks, and the record write as a single statement.
#[async_trait]
impl SqlBackend for PostgresDatabase {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const ORDER_ID_SQL: &'static str =
        "md5(random()::text || clock_timestamp()::text || t.device_id)";

    fn read(&self) -> &PgPool {
        &self.read
    }

    fn write(&self) -> &PgPool {
        &self.write
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn run_migrations(&self) -> DbResult<()> {
        sqlx::migrate!("./migrations")
            .run(&self.write)
            .await
            .map_err(|e| DbError::Backend(format!("migration failed: {e}")))
    }

    async fn lock_org(&self, tx: &mut Transaction<'_, Postgres>) -> DbResult<()> {
        advisory_lock(tx, ORG_LOCK).await
    }

    async fn lock_change_log(&self, tx: &mut Transaction<'_, Postgres>) -> DbResult<()> {
        advisory_lock(tx, CHANGE_LOG_LOCK).await
    }

    async fn write_record(
        &self,
        slot: &SlotKey,
        envelope: &[u8],
        device_id: &str,
        precondition: Precondition,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<ConnectionRecord> {
        // One statement, one round trip: the CAS write, its audit row and its
        // change rows (after the change-log lock) commit together, or none do.
        let sql = put_record_sql(precondition, journal.changes.len());
        // A new slot starts at version 1; a tombstone is revived at its version + 1.
        let mut query = sqlx::query(&sql)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .bind(envelope)
            .bind(device_id)
            .bind(now)
            .bind(match precondition {
                Precondition::Absent => 0,
                Precondition::Version(v) => v,
            });
        let a = &journal.audit;
        query = query
            .bind(&a.org_id)
            .bind(a.at)
            .bind(&a.actor_kind)
            .bind(&a.actor_id)
            .bind(&a.action)
            .bind(&a.target)
            .bind(&a.detail)
            .bind(CHANGE_LOG_LOCK);
        for c in &journal.changes {
            query = query
                .bind(&c.org_id)
                .bind(&c.user_id)
                .bind(&c.kind)
                .bind(&c.integration_id)
                .bind(c.at);
        }
        let written = query.fetch_optional(&self.write).await.map_err(backend)?;
        let Some(row) = written else {
            let current = sqlx::query(sql::LIVE_VERSION)
                .bind(&slot.user_id)
                .bind(&slot.vault_key_id)
                .bind(&slot.integration_id)
                .bind(&slot.environment)
                .fetch_optional(&self.read)
                .await
                .map_err(backend)?
                .map(|r| r.int("version"))
                .transpose()?;
            return Err(DbError::VersionMismatch { current });
        };
        rows::record(&row)
    }
}
