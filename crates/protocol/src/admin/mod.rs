//! Bodies of the admin API (`/v1/admin/*`), used by the console and scripts, and of
//! the public routes the console and operators call (sign-in, setup, company sign-in
//! info, liveness and readiness).
//!
//! Requests deny unknown fields: a field the server would drop is a client bug. The
//! responses keep the exact JSON the server has always sent: every field present,
//! `null` where there is no value, unless a field says it is left out.
//!
//! Timestamps are milliseconds since the Unix epoch. Ids are plain strings here
//! until the shared id newtypes land (`crate::ids`).

mod accounts;
mod integrations;
#[cfg(test)]
mod tests;
mod users;

pub use accounts::*;
pub use integrations::*;
pub use users::*;

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// A secret the server hands out exactly once (a token, a CSRF token, an enrollment
/// code): serialisable because the one answer carrying it must be, and redacted in
/// `Debug` so it never reaches a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct ShownOnce(String);

impl ShownOnce {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that shows or uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShownOnce(<redacted>)")
    }
}

/// Absent: `None` (keep); `null`: `Some(None)` (clear); a value: `Some(Some(v))` (set).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    <Option<T> as Deserialize>::deserialize(d).map(Some)
}
