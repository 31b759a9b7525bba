//! SQLite backend of `latchkey-server`: the default, one file in the data dir.
//!
//! SQLite allows one writer at a time, so every mutation goes through a
//! dedicated one-connection writer pool: writers queue in the pool instead of
//! failing with `SQLITE_BUSY`, and the change log's `AUTOINCREMENT` seq is
//! commit order. Reads use a separate pool and, in WAL mode, never block on writes.
//! `synchronous = FULL`: an acknowledged write survives a crash or power loss.
//!
//! Record writes (the hot path) use group commit on a thread of their own
//! (`record_writer`): each batch of queued PUTs is one transaction and one
//! fsync, and no caller is answered before it commits. That thread writes only
//! while holding the write pool's connection, so there is still one writer.
//!
//! Device-token and integration lookups, made on every device request, are
//! served from memory (`hot_cache`): one server process owns a SQLite file. A
//! record read runs on the caller's thread on a connection of its own (`readers`),
//! without a hand-off to sqlx's worker thread.

mod hot_cache;
mod readers;
mod record_writer;

use async_trait::async_trait;
use latchkey_server_database::rows::backend;
use latchkey_server_database::{
    ConnectionRecord, DbError, DbResult, Device, HotPool, Integration, Millis, Pools, RecordWrite,
    SlotKey, SqlBackend, User,
};
use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::hot_cache::HotCache;
use crate::readers::Readers;
use crate::record_writer::PutJob;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connections for the reads of device requests: each is a worker thread of sqlx's,
/// and a read takes microseconds, so a few serve two cores.
const HOT_READERS: usize = 4;

/// A SQLite-backed store.
pub struct SqliteDatabase {
    pools: Pools<Sqlite>,
    puts: mpsc::Sender<PutJob>,
    /// Record reads on the caller's thread (`readers`); `None` for an in-memory database.
    readers: Option<Readers>,
    /// Only in the serving process (see [`SqliteDatabase::serve`]).
    hot: Option<HotCache>,
    /// Held while serving: the lock that keeps a second server off this file.
    /// Held while serving; released by [`Database::close`], not only when the last
    /// handle to the database drops (a finishing connection task may still hold one),
    /// so a server restarted right after a shutdown is not refused.
    serving: std::sync::Mutex<Option<std::fs::File>>,
}

impl SqliteDatabase {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> DbResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // No ping before handing out a connection (sqlx's default): a SQLite
        // connection is a file handle in this process, it cannot go stale, and
        // each ping is one more hand-off to sqlx's worker thread per query.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let puts = record_writer::start(options.get_filename(), is_in_memory(url), write.clone())?;
        let readers = match is_in_memory(url) {
            true => None,
            false => Some(Readers::open(options.get_filename())?),
        };
        // Read connections open on first use, after `migrate`: one opened before would
        // keep the schema it first saw, and sqlx would read a migrated table's rows with
        // the old column list (an upgraded server failing on its first `SELECT *`). The
        // writer above has already proved the file opens.
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_lazy_with(options.read_only(false));
        // The reads of every device request, on connections of their own that
        // sqlx's pool does not ping after each statement (opened on first use too).
        let hot = HotPool::new((*read.connect_options()).clone(), HOT_READERS);
        Ok(Self {
            pools: Pools { read, write, hot },
            puts,
            readers,
            hot: None,
            serving: std::sync::Mutex::new(None),
        })
    }

    /// Opens the database for the one server process that serves it: takes
    /// an exclusive lock next to the file (a second server on the same file is
    /// refused, since a SQLite database has one serving process; replicas need
    /// PostgreSQL) and turns on the in-memory lookups of `hot_cache`, which
    /// that ownership makes sound. One-shot commands (`admin`, `migrate`) use
    /// [`SqliteDatabase::connect`] and may run beside the server.
    pub async fn serve(url: &str) -> DbResult<Self> {
        let lock = serving_lock(url)?;
        let mut db = Self::connect(url).await?;
        db.hot = Some(HotCache::default());
        db.serving = std::sync::Mutex::new(lock);
        Ok(db)
    }
}

/// The record writer's thread is gone (only a panic ends it early, and a
/// release build aborts on panic): no record write can be committed, so
/// `/readyz` fails too.
fn writer_stopped() -> DbError {
    DbError::Backend(
        "the SQLite record writer has stopped, so connection records cannot be saved; \
         restart latchkey-server (its log says why the writer stopped)"
            .into(),
    )
}

/// Whether `url` names an in-memory database (which sqlx renames `file:sqlx-in-memory-N`).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Locks `<database file>.serving.lock`; `None` for an in-memory database.
fn serving_lock(url: &str) -> DbResult<Option<std::fs::File>> {
    let options = SqliteConnectOptions::from_str(url).map_err(backend)?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || is_in_memory(url) {
        return Ok(None);
    }
    let mut path = file.as_os_str().to_owned();
    path.push(".serving.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DbError::Backend(format!("cannot open {}: {e}", path.to_string_lossy())))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbError::Backend(format!(
            "another latchkey-server is already serving {}. One server process serves a SQLite \
             database; stop the other one, or run several replicas on PostgreSQL \
             (LATCHKEY_DATABASE_URL=postgres://...)",
            file.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(DbError::Backend(format!(
            "cannot lock {}: {e}",
            path.to_string_lossy()
        ))),
    }
}

/// SQLite's side of the shared SQL implementation: the group-commit record
/// writer, the serving lock, and the in-memory lookups of the serving process
/// (every write that changes a device or an integration drops them).
#[async_trait]
impl SqlBackend for SqliteDatabase {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const ORDER_ID_SQL: &'static str = "lower(hex(randomblob(16)))";

    fn pools(&self) -> &Pools<Sqlite> {
        &self.pools
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn write_record(&self, put: RecordWrite<'_>) -> DbResult<Option<ConnectionRecord>> {
        let (reply, outcome) = oneshot::channel();
        let job = PutJob {
            slot: put.slot.clone(),
            envelope: put.envelope.to_vec(),
            device_id: put.device_id.to_owned(),
            precondition: put.precondition,
            now: put.now,
            journal: put.journal.clone(),
            reply,
        };
        self.puts.send(job).await.map_err(|_| writer_stopped())?;
        outcome.await.map_err(|_| writer_stopped())?
    }

    fn ready(&self) -> DbResult<()> {
        if self.puts.is_closed() {
            return Err(writer_stopped());
        }
        Ok(())
    }

    fn closed(&self) {
        // The file is closed for good: another server may serve it now.
        drop(
            self.serving
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }

    fn integrations_changed(&self) {
        if let Some(hot) = &self.hot {
            hot.invalidate_integrations();
        }
    }

    fn devices_changed(&self) {
        if let Some(hot) = &self.hot {
            hot.invalidate_devices();
        }
    }

    fn device_touched(&self, id: &str, now: Millis) {
        if let Some(hot) = &self.hot {
            hot.touched_device(id, now);
        }
    }

    async fn cached_integration<F>(
        &self,
        org_id: &str,
        id: &str,
        load: F,
    ) -> DbResult<Option<Integration>>
    where
        F: Future<Output = DbResult<Option<Integration>>> + Send,
    {
        let Some(hot) = &self.hot else {
            return load.await;
        };
        let seen = match hot.integration(org_id, id) {
            Ok(found) => return Ok(found),
            Err(generation) => generation,
        };
        let found = load.await?;
        hot.store_integration(seen, org_id, id, found.clone());
        Ok(found)
    }

    fn record_in_process(&self, slot: &SlotKey) -> Option<DbResult<Option<ConnectionRecord>>> {
        self.readers.as_ref().map(|readers| readers.record(slot))
    }

    fn caches_devices(&self) -> bool {
        self.hot.is_some()
    }

    async fn cached_device<F>(&self, token_hash: &[u8], load: F) -> DbResult<Option<(Device, User)>>
    where
        F: Future<Output = DbResult<Option<(Device, User)>>> + Send,
    {
        let Some(hot) = &self.hot else {
            return load.await;
        };
        let seen = match hot.device(token_hash) {
            Ok(found) => return Ok(found),
            Err(generation) => generation,
        };
        let found = load.await?;
        hot.store_device(seen, token_hash, found.clone());
        Ok(found)
    }
}
