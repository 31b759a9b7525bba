//! The one implementation of [`Database`](crate::Database) over SQL, shared by the SQLite and
//! PostgreSQL backends.
//!
//! Both engines accept `$N` binds and the same statements, so the queries, the
//! journal writes and the revocation orders are written once here. A backend
//! implements [`SqlBackend`]: its pools, its migrations, its record write, and the
//! hooks where the engines really differ (PostgreSQL's org lock and change-feed
//! horizon, SQLite's in-memory lookups of the serving process); every
//! [`SqlBackend`] is then a [`Database`](crate::Database).

mod admins;
mod backend;
mod database;
mod hot;
mod org_tokens;
mod people;
mod queries;
mod releases;
mod values;
mod writes;

pub use backend::{Pools, RecordWrite, SqlBackend};
pub use hot::{HotConn, HotPool, STALE_AFTER};
