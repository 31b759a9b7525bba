//! Connections for the statements every device request runs, beside sqlx's pool.
//!
//! sqlx's pool tests each connection when it is handed back, with a ping: on
//! PostgreSQL one more round trip per statement, on SQLite one more hand-off to the
//! connection's worker thread, each in a task spawned for it. On the hot paths (the
//! token lookup with the record or integration, a record read, PostgreSQL's
//! one-statement record write) that doubled the work of the statement itself (see
//! docs/benchmarks.md). Here a connection goes back to the idle list as soon as its
//! statement has finished; one whose statement failed other than with an error of
//! the database itself, or whose caller went away mid-statement, is closed instead,
//! so no connection with a half-read reply is reused. One idle for longer than
//! [`STALE_AFTER`] is pinged before use (a restart or a proxy may have dropped it).

use crate::rows::backend;
use crate::{DbError, DbResult};
use sqlx::Connection;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a connection may sit idle before it is pinged again.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

type Conn<DB> = <DB as sqlx::Database>::Connection;

/// See the module documentation.
pub struct HotPool<DB: sqlx::Database> {
    options: <Conn<DB> as Connection>::Options,
    idle: Mutex<Vec<(Conn<DB>, Instant)>>,
    permits: Semaphore,
    closed: AtomicBool,
}

/// A connection of a [`HotPool`] for one statement; [`HotConn::settle`] it with the
/// statement's outcome, or it is closed when dropped.
pub struct HotConn<'p, DB: sqlx::Database> {
    pool: &'p HotPool<DB>,
    conn: Option<Conn<DB>>,
    reusable: bool,
    _permit: SemaphorePermit<'p>,
}

impl<DB: sqlx::Database> HotPool<DB> {
    /// At most `size` connections, opened with `options` when first needed.
    pub fn new(options: <Conn<DB> as Connection>::Options, size: usize) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            closed: AtomicBool::new(false),
        }
    }

    /// A connection: an idle one, or a new one while fewer than `size` are out.
    pub async fn acquire(&self) -> DbResult<HotConn<'_, DB>> {
        let permit = self.permits.acquire().await.map_err(|_| closed())?;
        loop {
            let idle = self.lock().pop();
            let conn = match idle {
                Some((mut conn, since)) => {
                    if since.elapsed() > STALE_AFTER && conn.ping().await.is_err() {
                        continue;
                    }
                    conn
                }
                None => Conn::<DB>::connect_with(&self.options)
                    .await
                    .map_err(backend)?,
            };
            return Ok(HotConn {
                pool: self,
                conn: Some(conn),
                reusable: false,
                _permit: permit,
            });
        }
    }

    /// Closes the idle connections; the pool opens no more, and one in use is closed
    /// when its caller is done.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.permits.close();
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Conn<DB>, Instant)>> {
        // A list of idle connections: a panic elsewhere cannot leave it inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<DB: sqlx::Database> HotConn<'_, DB> {
    /// The connection, for one statement.
    pub fn conn(&mut self) -> DbResult<&mut Conn<DB>> {
        self.conn.as_mut().ok_or_else(closed)
    }

    /// Records how the statement ended: the connection is reused when it completed
    /// or the database refused it (a constraint, a bad value), and closed when the
    /// connection itself failed (I/O, protocol), whatever state that left it in.
    pub fn settle<T>(mut self, outcome: &Result<T, sqlx::Error>) {
        self.reusable = matches!(
            outcome,
            Ok(_) | Err(sqlx::Error::Database(_) | sqlx::Error::RowNotFound)
        );
    }
}

impl<DB: sqlx::Database> Drop for HotConn<'_, DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && !self.pool.closed.load(Ordering::Acquire)
        {
            self.pool.lock().push((conn, Instant::now()));
        }
    }
}

fn closed() -> DbError {
    DbError::Backend("the database connections are closed (the server is stopping)".into())
}
