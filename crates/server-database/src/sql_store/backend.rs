//! What a SQL engine brings to the shared [`Database`](crate::Database)
//! implementation: its pools and migrations, its record write, and hooks where
//! the engines really differ.

use super::HotPool;
use crate::{
    ConnectionRecord, DbResult, Device, Integration, Journal, Millis, Precondition, SlotKey, User,
};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::{Pool, Transaction};
use std::future::Future;

/// A backend's connection pools. PostgreSQL reads and writes through one pool;
/// SQLite writes through a pool of its one writer connection. The statements of
/// every device request use `hot` instead ([`HotPool`]: no ping per statement).
pub struct Pools<DB: sqlx::Database> {
    pub read: Pool<DB>,
    pub write: Pool<DB>,
    /// PostgreSQL: reads and its one-statement record write; SQLite: reads only.
    pub hot: HotPool<DB>,
}

/// One record write, as [`crate::Database::put_record`] takes it.
#[derive(Clone, Copy)]
pub struct RecordWrite<'a> {
    pub slot: &'a SlotKey,
    /// The sealed envelope.
    pub envelope: &'a [u8],
    pub device_id: &'a str,
    pub precondition: Precondition,
    pub now: Millis,
    pub journal: &'a Journal,
}

/// What a SQL engine brings to the shared [`Database`](crate::Database) implementation.
#[async_trait]
pub trait SqlBackend: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: sqlx::Database;
    /// `sqlite` or `postgres`, for logs and metrics.
    const NAME: &'static str;
    /// A SQL expression for a fresh random revocation-order id (`{id}` of
    /// `revocation_sql::INSERT_ORDERS`); the engines have no common one.
    const ORDER_ID_SQL: &'static str;
    /// A SQL condition on `seq` that holds for the change-log entries a feed may
    /// serve now: every entry a later commit can add has a greater `seq`. SQLite
    /// appends with one writer, so every visible entry qualifies; PostgreSQL
    /// appends concurrently and holds back those of transactions not yet settled.
    const SETTLED_CHANGES_SQL: &'static str = "TRUE";

    /// This backend's pools.
    fn pools(&self) -> &Pools<Self::Db>;
    /// This backend's own migrations (`sqlx::migrate!` of its crate).
    fn migrator() -> &'static Migrator;
    /// The rows a statement changed (sqlx has no driver-independent accessor).
    fn rows_affected(done: &<Self::Db as sqlx::Database>::QueryResult) -> u64;
    /// Writes a connection record with its journal, in one transaction; the hot path,
    /// which each engine does its own fastest way. `None`: the compare-and-swap
    /// lost and nothing was written.
    async fn write_record(&self, put: RecordWrite<'_>) -> DbResult<Option<ConnectionRecord>>;

    /// The pool reads go to.
    fn read(&self) -> &Pool<Self::Db> {
        &self.pools().read
    }
    /// The pool writes go to (SQLite: its one writer connection).
    fn write(&self) -> &Pool<Self::Db> {
        &self.pools().write
    }

    /// Whether this backend can serve, beyond answering a query.
    fn ready(&self) -> DbResult<()> {
        Ok(())
    }
    /// Called once both pools are closed.
    fn closed(&self) {}
    /// Taken at the start of the transaction that creates the organisation.
    async fn lock_org(&self, _tx: &mut Transaction<'_, Self::Db>) -> DbResult<()> {
        Ok(())
    }
    /// Integrations changed (committed).
    fn integrations_changed(&self) {}
    /// Devices changed (committed).
    fn devices_changed(&self) {}
    /// A device was seen at `now` (committed).
    fn device_touched(&self, _id: &str, _now: Millis) {}
    /// An integration lookup: `load` reads it from the database.
    async fn cached_integration<F>(
        &self,
        _org_id: &str,
        _id: &str,
        load: F,
    ) -> DbResult<Option<Integration>>
    where
        F: Future<Output = DbResult<Option<Integration>>> + Send,
    {
        load.await
    }
    /// The live record in `slot` read without a round trip to the database, where the
    /// engine can (SQLite: the file, on the caller's thread); `None`: read it with SQL.
    fn record_in_process(&self, _slot: &SlotKey) -> Option<DbResult<Option<ConnectionRecord>>> {
        None
    }
    /// Whether [`Self::cached_device`] serves devices from memory: then a lookup that
    /// reads a device with something else reads the device alone, from memory, and the
    /// rest by itself, instead of joining both in one statement.
    fn caches_devices(&self) -> bool {
        false
    }
    /// A device-token lookup: `load` reads it from the database.
    async fn cached_device<F>(
        &self,
        _token_hash: &[u8],
        load: F,
    ) -> DbResult<Option<(Device, User)>>
    where
        F: Future<Output = DbResult<Option<(Device, User)>>> + Send,
    {
        load.await
    }
}
