//! The conformance story against a real PostgreSQL. Run through
//! `scripts/with-postgres.sh cargo test -p latchkey-server --test postgres`;
//! without `LATCHKEY_TEST_POSTGRES_URL` the tests skip locally and fail under CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

conformance_suite!(common::Backend::postgres());
