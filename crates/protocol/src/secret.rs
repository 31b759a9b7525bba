//! Writing a secret into a wire body, on purpose.
//!
//! [`SecretString`] has no `Serialize` (so a secret is never serialised by
//! accident, into a log line or a cache file). A few bodies must carry one: the
//! device token the server hands out once, the enrollment code a device sends,
//! an OAuth client secret a native app is given. Those fields name these
//! functions in `serialize_with`, so every place a secret goes on the wire is a
//! grep away. Their `Debug` stays redacted.

use latchkey_secret::SecretString;
use serde::Serializer;

/// Serialises the secret's value (`#[serde(serialize_with = "expose")]`).
pub fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// [`expose`] for an optional secret: `None` is `null`.
pub fn expose_option<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose()),
        None => serializer.serialize_none(),
    }
}
