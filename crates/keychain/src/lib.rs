//! The OS keychain behind one small trait.
//!
//! Latchkey keeps exactly one kind of thing in the keychain today: the per-user
//! vault salt. Everything that touches the keychain goes through [`Keychain`],
//! so the vault can be tested against an error-injecting double
//! ([`MemoryKeychain`]) and, separately, against the real store ([`OsKeychain`]).
//!
//! ## Why `keyring` 3.6 with explicit platform features
//! `keyring` 3.6 is one mature crate that covers Secret Service (Linux/BSD),
//! the macOS Keychain and the Windows Credential Manager. Its weak spot is that
//! a build without a platform feature silently falls back to an in-memory mock
//! store. We close that gap twice: each OS gets its feature in `Cargo.toml`
//! under a target table, and [`OsKeychain`] builds the platform credential type
//! by name (`SsCredential`, `MacCredential`, `WinCredential`), which does not
//! compile if the feature is missing. Other platforms fail to compile at all.
//! (`keyring-core` 1.x splits stores into separate crates; it would give the
//! same result with more moving parts.)
//!
//! The Linux kernel keyutils store is deliberately not used: it forgets
//! everything at reboot, and a lost salt voids every token.

mod error;
mod memory;
mod os;

pub use error::KeychainError;
pub use latchkey_secret::SecretVec;
pub use memory::{InjectedFailure, MemoryKeychain};
pub use os::OsKeychain;

/// The largest secret Latchkey puts in any keychain: Windows Credential Manager's
/// blob limit (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 5 × 512 bytes), the smallest of the
/// three stores. Every [`Keychain`] here refuses more on every OS, so a secret Windows
/// would refuse fails in tests on Linux too, not first on a user's PC.
pub const MAX_SECRET_LEN: usize = 2560;

/// Refuses a secret longer than [`MAX_SECRET_LEN`], naming the keychain (never the bytes).
pub(crate) fn check_secret_len(keychain: &str, secret: &[u8]) -> Result<(), KeychainError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(KeychainError::Rejected {
            keychain: keychain.to_owned(),
            reason: format!(
                "the secret is {} bytes, over the {MAX_SECRET_LEN} bytes every OS keychain takes \
                 (Windows Credential Manager's limit)",
                secret.len()
            ),
        });
    }
    Ok(())
}

/// A place to keep small secrets, addressed by an account name within the
/// store's service namespace.
pub trait Keychain: Send + Sync {
    /// A human name for messages, e.g. "Secret Service: GNOME Keyring or KWallet".
    fn describe(&self) -> &str;

    /// Reads a secret. `Ok(None)` means the entry does not exist.
    fn get(&self, account: &str) -> Result<Option<SecretVec>, KeychainError>;

    /// Creates or replaces a secret of at most [`MAX_SECRET_LEN`] bytes.
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError>;

    /// Deletes a secret. `Ok(false)` means there was nothing to delete.
    fn delete(&self, account: &str) -> Result<bool, KeychainError>;
}

impl<K: Keychain + ?Sized> Keychain for std::sync::Arc<K> {
    fn describe(&self) -> &str {
        (**self).describe()
    }
    fn get(&self, account: &str) -> Result<Option<SecretVec>, KeychainError> {
        (**self).get(account)
    }
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        (**self).set(account, secret)
    }
    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        (**self).delete(account)
    }
}
