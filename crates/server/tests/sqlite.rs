//! The conformance story against SQLite (the default backend).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

conformance_suite!(Some(common::Backend::Sqlite));
