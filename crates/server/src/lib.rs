//! `latchkey-server`: the zero-knowledge remote store. Devices sync sealed
//! connection-record envelopes (opaque bytes; the server holds no key to open
//! them); admins enable integrations and manage users and devices.
//!
//! The library holds all logic; `main.rs` only parses the command line.

pub mod auth;
pub mod catalog;
pub mod client_ip;
pub mod config;
pub mod console;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod key_rotation;
pub mod metrics;
pub mod oauth_flow;
pub mod openapi;
pub mod org_tokens;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod sso;
pub mod state;
pub mod updates;
pub mod validate;

pub use config::{Config, Flags};
pub use server::{RunningServer, start, start_with_catalog};
pub use validate::CatalogLookup;
