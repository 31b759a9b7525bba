//! Record reads on connections of their own, run on the thread that asks.
//!
//! A record read by its key takes SQLite a few microseconds; through sqlx it is a
//! hand-off to the connection's worker thread and back, and on two busy cores that
//! hand-off cost more than the read (see docs/benchmarks.md). So records are read
//! on rusqlite connections (the same libsqlite3 as sqlx) by the caller itself, as
//! the record writer writes them on its own thread. In WAL mode a reader never
//! waits for the writer, and these connections are `query_only`.
//!
//! Only for a database file: in sqlx's shared-cache in-memory database a reader
//! would meet the writer's table locks, which sqlx waits out and these would not.

use crate::record_writer::{backend, open};
use latchkey_server_database::{ConnectionRecord, DbError, DbResult, SlotKey, sql};
use rusqlite::{OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// More than the runtime's worker threads on the machines this serves, so that a
/// reader rarely finds every connection taken.
const READERS: usize = 4;

pub(crate) struct Readers {
    conns: Vec<Mutex<rusqlite::Connection>>,
    next: AtomicUsize,
}

impl Readers {
    pub(crate) fn open(file: &Path) -> DbResult<Self> {
        let conns = (0..READERS)
            .map(|_| {
                let conn = open(file, false)?;
                conn.execute_batch("PRAGMA query_only = ON;")
                    .map_err(backend)?;
                Ok(Mutex::new(conn))
            })
            .collect::<DbResult<_>>()?;
        Ok(Self {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// The live record in `slot`, if any.
    pub(crate) fn record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>> {
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.conns.len();
        for i in 0..count {
            if let Ok(conn) = self.conns[(first + i) % count].try_lock() {
                return read(&conn, slot);
            }
        }
        // Every connection is reading for another thread: wait for one (microseconds).
        let conn = self.conns[first % count]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        read(&conn, slot)
    }
}

fn read(conn: &rusqlite::Connection, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>> {
    let found = conn
        .prepare_cached(sql::GET_RECORD)
        .map_err(backend)?
        .query_row(
            params![
                slot.user_id,
                slot.vault_key_id,
                slot.integration_id,
                slot.environment
            ],
            |r| {
                Ok((
                    r.get::<_, Option<Vec<u8>>>(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let Some((envelope, version, device_id, created_at, updated_at)) = found else {
        return Ok(None);
    };
    Ok(Some(ConnectionRecord {
        slot: slot.clone(),
        envelope: envelope
            .ok_or_else(|| DbError::Corrupt("live record without envelope".into()))?,
        version,
        device_id,
        created_at,
        updated_at,
    }))
}
