//! The group-commit writer of connection records, the server's hot write path.
//!
//! One OS thread owns its own SQLite connection (rusqlite, on the same
//! libsqlite3 as sqlx) and, for every batch of queued PUTs, runs `BEGIN
//! IMMEDIATE`, each compare-and-swap in order, the audit and change rows of
//! the winners, and one `COMMIT`, before answering any caller. Running the
//! whole batch on the thread that owns the connection is the point: through
//! sqlx every statement is a hand-off to sqlx's worker thread and back, and on
//! two busy cores those hand-offs, not SQLite, were most of a batch's time
//! (see docs/benchmarks.md).
//!
//! SQLite has one writer at a time, and the rest of the backend writes through
//! sqlx's one-connection write pool. So that the two never race for SQLite's
//! lock (a deferred sqlx transaction that read first would fail with
//! `SQLITE_BUSY_SNAPSHOT`), this thread writes only while it holds that pool's
//! connection: the write pool's one connection is the process's write lock. It
//! keeps it across back-to-back batches for at most [`GATE_WINDOW`], then
//! hands it back so that other writes wait no longer than that.
//!
//! A lost CAS changes nothing, so it needs no savepoint (its caller hears
//! `None` and looks up the live version); if the batch fails,
//! it is rolled back, every caller gets the error and nothing of it was
//! acknowledged.

use latchkey_server_database::{
    ConnectionRecord, DbError, DbResult, Journal, Millis, Precondition, SlotKey,
};
use rusqlite::{OpenFlags, OptionalExtension, ToSql, params, params_from_iter};
use sqlx::SqlitePool;
use sqlx::pool::PoolConnection;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// The most record writes committed together.
const MAX_BATCH: usize = 64;

/// How long the writer keeps the write lock across back-to-back batches.
const GATE_WINDOW: Duration = Duration::from_millis(20);

/// One queued record write and where to send its outcome.
pub(crate) struct PutJob {
    pub slot: SlotKey,
    pub envelope: Vec<u8>,
    pub device_id: String,
    pub precondition: Precondition,
    pub now: Millis,
    pub journal: Journal,
    pub reply: oneshot::Sender<DbResult<Option<ConnectionRecord>>>,
}

/// Opens the writer's connection to `file` and starts its thread; the
/// thread ends when every sender of the returned queue is gone.
pub(crate) fn start(
    file: &Path,
    in_memory: bool,
    write_pool: SqlitePool,
) -> DbResult<mpsc::Sender<PutJob>> {
    let conn = open(file, in_memory)?;
    let runtime = Handle::try_current()
        .map_err(|e| DbError::Backend(format!("the record writer needs a Tokio runtime: {e}")))?;
    let (sender, jobs) = mpsc::channel(1024);
    std::thread::Builder::new()
        .name("sqlite-record-writer".into())
        .spawn(move || {
            Writer {
                conn,
                write_pool,
                runtime,
                gate: None,
            }
            .run(jobs)
        })
        .map_err(|e| DbError::Backend(format!("cannot start the record writer: {e}")))?;
    Ok(sender)
}

pub(crate) fn open(file: &Path, in_memory: bool) -> DbResult<rusqlite::Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = if in_memory {
        // sqlx names its shared in-memory database `file:sqlx-in-memory-N`.
        let uri = format!("{}?mode=memory&cache=shared", file.display());
        rusqlite::Connection::open_with_flags(uri, flags)
    } else {
        rusqlite::Connection::open_with_flags(file, flags)
    }
    .map_err(backend)?;
    // The same settings as the sqlx connections: synchronous and foreign keys
    // are per connection; WAL is already the file's mode.
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

struct Writer {
    conn: rusqlite::Connection,
    write_pool: SqlitePool,
    runtime: Handle,
    /// The write pool's connection while this thread holds the write lock, and since when.
    gate: Option<(PoolConnection<sqlx::Sqlite>, Instant)>,
}

impl Writer {
    fn run(mut self, mut jobs: mpsc::Receiver<PutJob>) {
        loop {
            let first = match jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Nothing queued: let other writers in while waiting.
                    self.release_gate();
                    match jobs.blocking_recv() {
                        Some(job) => job,
                        None => break,
                    }
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.take_gate() {
                answer_all(batch, &e);
                continue;
            }
            match write_batch(&mut self.conn, &batch) {
                Ok(outcomes) => {
                    for (job, outcome) in batch.into_iter().zip(outcomes) {
                        let result =
                            outcome.map(|(version, created_at, updated_at)| ConnectionRecord {
                                slot: job.slot,
                                envelope: job.envelope,
                                version,
                                device_id: job.device_id,
                                created_at,
                                updated_at,
                            });
                        let _ = job.reply.send(Ok(result));
                    }
                }
                Err(e) => answer_all(batch, &e),
            }
        }
        self.release_gate();
    }

    /// Holds the write pool's connection (the process's write lock), taking it
    /// again once the window is over so that queued writers get their turn.
    fn take_gate(&mut self) -> DbResult<()> {
        if self
            .gate
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() > GATE_WINDOW)
        {
            self.release_gate();
        }
        if self.gate.is_none() {
            let conn = self
                .runtime
                .block_on(self.write_pool.acquire())
                .map_err(|e| DbError::Backend(format!("cannot take the write lock: {e}")))?;
            self.gate = Some((conn, Instant::now()));
        }
        Ok(())
    }

    fn release_gate(&mut self) {
        // sqlx returns a pool connection on a Tokio task: drop it in the runtime's context.
        let _context = self.runtime.enter();
        self.gate = None;
    }
}

fn answer_all(batch: Vec<PutJob>, e: &DbError) {
    // Each caller gets the same error; keep its message without a second prefix.
    let message = match e {
        DbError::Backend(m) => m.clone(),
        other => other.to_string(),
    };
    for job in batch {
        let _ = job.reply.send(Err(DbError::Backend(message.clone())));
    }
}

/// A won CAS's new version and times; the caller already has the rest.
type Written = (i64, Millis, Millis);

/// Runs one batch in one transaction, each write's outcome in order (`None`: its
/// CAS lost); on any error nothing of it is kept.
fn write_batch(
    conn: &mut rusqlite::Connection,
    batch: &[PutJob],
) -> DbResult<Vec<Option<Written>>> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let s = &job.slot;
        let mut args: Vec<&dyn ToSql> = vec![
            &s.user_id,
            &s.vault_key_id,
            &s.integration_id,
            &s.environment,
            &job.envelope,
            &job.device_id,
            &job.now,
        ];
        let sql = match &job.precondition {
            // A new slot starts at version 1; a tombstone is revived at its version + 1.
            Precondition::Absent => PUT_ABSENT_SQL,
            Precondition::Version(v) => {
                args.push(v);
                PUT_MATCH_SQL
            }
        };
        let written = tx
            .prepare_cached(sql)
            .map_err(backend)?
            .query_row(params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(backend)?;
        if written.is_some() {
            write_journal(&tx, &job.journal)?;
        }
        outcomes.push(written);
    }
    tx.commit().map_err(backend)?;
    Ok(outcomes)
}

fn write_journal(tx: &rusqlite::Transaction<'_>, journal: &Journal) -> DbResult<()> {
    let a = &journal.audit;
    tx.prepare_cached(
        "INSERT INTO audit_events (org_id, at, actor_kind, actor_id, action, target, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(backend)?
    .execute(params![
        a.org_id,
        a.at,
        a.actor_kind,
        a.actor_id,
        a.action,
        a.target,
        a.detail
    ])
    .map_err(backend)?;
    for c in &journal.changes {
        tx.prepare_cached(
            "INSERT INTO changes (org_id, user_id, kind, integration_id, at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?
        .execute(params![c.org_id, c.user_id, c.kind, c.integration_id, c.at])
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn backend(e: rusqlite::Error) -> DbError {
    DbError::Backend(e.to_string())
}

const PUT_ABSENT_SQL: &str = "INSERT INTO connection_records \
     (user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at, deleted) \
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?7, FALSE) \
     ON CONFLICT (user_id, vault_key_id, integration_id, environment) DO UPDATE SET \
     envelope = excluded.envelope, version = connection_records.version + 1, \
     device_id = excluded.device_id, created_at = excluded.created_at, \
     updated_at = excluded.updated_at, deleted = FALSE \
     WHERE connection_records.deleted = TRUE \
     RETURNING version, created_at, updated_at";

const PUT_MATCH_SQL: &str = "UPDATE connection_records SET envelope = ?5, version = version + 1, device_id = ?6, \
     updated_at = ?7 WHERE user_id = ?1 AND vault_key_id = ?2 AND integration_id = ?3 \
     AND environment = ?4 AND deleted = FALSE AND version = ?8 \
     RETURNING version, created_at, updated_at";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::SqliteDatabase;
    use latchkey_server_database::{
        Database, DbError, Journal, NewAudit, Precondition, SlotKey, User,
    };
    use std::time::Duration;

    fn journal(org: &str) -> Journal {
        Journal {
            audit: NewAudit {
                org_id: org.into(),
                at: 0,
                actor_kind: "device".into(),
                actor_id: Some("d".into()),
                action: "record.test".into(),
                target: None,
                detail: "{}".into(),
            },
            changes: Vec::new(),
        }
    }

    async fn database(dir: &std::path::Path) -> (SqliteDatabase, SlotKey, Journal) {
        let url = format!("sqlite://{}", dir.join("latchkey.db").display());
        let db = SqliteDatabase::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let org = db.ensure_org("org", "Org", 0).await.unwrap().id;
        let j = journal(&org);
        let user = User::new("u".into(), org, "u@example.com".into(), "U".into(), 0);
        db.create_user(&user, &j).await.unwrap();
        let slot = SlotKey {
            user_id: "u".into(),
            vault_key_id: "vk".into(),
            integration_id: "salesforce".into(),
            environment: "production".into(),
        };
        (db, slot, j)
    }

    /// An acknowledged record write must survive power loss, as every other
    /// write does: the writer's own connection is `synchronous = FULL` too.
    #[tokio::test]
    async fn the_writer_connection_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let _db = database(dir.path()).await;
        let conn = super::open(&dir.path().join("latchkey.db"), false).unwrap();
        let pragma = |name: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), 2, "FULL");
        assert_eq!(pragma("foreign_keys"), 1);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// The writer's one rule for sharing SQLite: it writes only while it holds
    /// the write pool's connection. Without it, an sqlx write could be starved
    /// by back-to-back batches until SQLite's busy timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_write_waits_while_another_writer_holds_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (db, slot, j) = database(dir.path()).await;
        let db = std::sync::Arc::new(db);
        let held = db.pools.write.acquire().await.unwrap();
        let put = tokio::spawn({
            let (db, slot, j) = (db.clone(), slot.clone(), j.clone());
            async move {
                db.put_record(&slot, b"sealed", "d", Precondition::Absent, 1, &j)
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !put.is_finished(),
            "the record write did not wait for the write lock"
        );
        drop(held);
        let written = put.await.unwrap().unwrap();
        assert_eq!((written.version, written.envelope), (1, b"sealed".to_vec()));
    }

    /// A batch is all or nothing, and every caller in it hears the outcome: a
    /// write the database refuses (an unknown user breaks a foreign key) fails
    /// its batch, and the next write goes through.
    #[tokio::test]
    async fn a_failed_batch_keeps_nothing_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, slot, j) = database(dir.path()).await;
        let stranger = SlotKey {
            user_id: "nobody".into(),
            ..slot.clone()
        };
        let refused = db
            .put_record(&stranger, b"x", "d", Precondition::Absent, 1, &j)
            .await;
        match refused {
            // SQLite's own words, once (the caller adds "database error: ").
            Err(DbError::Backend(m)) => {
                assert!(m.contains("FOREIGN KEY"), "{m}");
                assert!(!m.contains("database error"), "{m}");
            }
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("a record for an unknown user was written"),
        }
        assert!(db.get_record(&stranger).await.unwrap().is_none());
        let written = db
            .put_record(&slot, b"sealed", "d", Precondition::Absent, 1, &j)
            .await
            .unwrap();
        assert_eq!(written.version, 1);
        let stale = db
            .put_record(&slot, b"late", "d", Precondition::Version(7), 2, &j)
            .await;
        assert!(matches!(
            stale,
            Err(DbError::VersionMismatch { current: Some(1) })
        ));
    }
}
