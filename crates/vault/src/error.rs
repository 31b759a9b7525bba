//! Vault errors: typed, with stable codes for the UI, and messages that say
//! what to do next. None of them carries secret material.

use std::path::PathBuf;

use latchkey_keychain::KeychainError;

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The keychain could not be used (unavailable, locked, refused).
    #[error(transparent)]
    Keychain(#[from] KeychainError),

    /// The salt for this user is gone from the keychain, although this machine
    /// was set up before. Every token sealed under it is void.
    #[error(
        "The vault key for {user} is missing from the system keychain ({keychain}), so the connections saved on \
         this computer can no longer be opened. Reconnect your integrations to continue; \
         Latchkey will create a new vault key."
    )]
    SaltMissing { user: String, keychain: String },

    /// The keychain entry exists but is not a 32-byte salt.
    #[error(
        "The vault key for {user} in the system keychain ({keychain}) is damaged ({len} bytes instead of 32). \
         Reconnect your integrations to continue; Latchkey will create a new vault key."
    )]
    SaltInvalid {
        user: String,
        keychain: String,
        len: usize,
    },

    /// The salt in the keychain derives a different key from the one this
    /// machine's records were sealed with (it was replaced outside Latchkey).
    #[error(
        "The vault key for {user} in the keychain has changed since the connections on this \
         computer were saved, so they can no longer be opened. Reconnect your integrations."
    )]
    KeyChanged { user: String },

    /// The vault was locked; unlock it before sealing or opening.
    #[error("The vault is locked. Unlock it and try again.")]
    Locked,

    /// The envelope was sealed with a different vault key (another user, or a
    /// salt that has since been replaced).
    #[error(
        "This saved connection was sealed with a different vault key and cannot be opened. \
         Reconnect the integration."
    )]
    WrongKey,

    /// Authentication failed: the bytes, header or record context were changed,
    /// or the envelope was moved to another user, integration or version.
    #[error(
        "This saved connection failed its integrity check (it was altered or belongs to \
         another record). It was not used. Reconnect the integration."
    )]
    Tampered,

    /// The bytes are not an envelope at all (too short, bad magic).
    #[error(
        "This saved connection is not a valid Latchkey envelope ({reason}). Reconnect the integration."
    )]
    Malformed { reason: &'static str },

    /// A format version, algorithm or KDF parameter set this build does not know.
    #[error(
        "This saved connection uses {what} {value}, which this version of Latchkey does not \
         support. Update Latchkey, or reconnect the integration."
    )]
    UnsupportedFormat { what: &'static str, value: u8 },

    /// The sealed record would exceed the envelope size cap.
    #[error("The token set is too large to seal ({len} bytes; the limit is {max}).")]
    TooLarge { len: usize, max: usize },

    /// A name used in a record context or file name is not acceptable.
    #[error("Invalid {what} {value:?}: {rule}.")]
    InvalidName {
        what: &'static str,
        value: String,
        rule: &'static str,
    },

    /// The decrypted plaintext is not a token set this build understands.
    #[error(
        "A saved connection opened but its contents are not readable ({reason}). Reconnect the integration."
    )]
    PlaintextInvalid { reason: String },

    /// Reading or writing the local cache failed.
    #[error(
        "Could not {action} {path}: {source}. Check that the disk is writable and has free space."
    )]
    CacheIo {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A cache file is damaged (for example truncated by a full disk).
    #[error(
        "The cached connection file {path} is damaged ({reason}). It will be fetched again or you can reconnect."
    )]
    CacheCorrupt { path: PathBuf, reason: &'static str },

    /// The OS random number generator failed.
    #[error("The operating system's random number generator failed ({reason}). Try again.")]
    RandomUnavailable { reason: String },

    /// Argon2id rejected its parameters (a bug or a corrupt parameter table).
    #[error("Key derivation failed ({reason}). This is a bug in Latchkey; please report it.")]
    Kdf { reason: String },
}

impl VaultError {
    /// A stable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Keychain(inner) => inner.code(),
            Self::SaltMissing { .. } => "vault.salt_missing",
            Self::SaltInvalid { .. } => "vault.salt_invalid",
            Self::KeyChanged { .. } => "vault.key_changed",
            Self::Locked => "vault.locked",
            Self::WrongKey => "vault.wrong_key",
            Self::Tampered => "vault.tampered",
            Self::Malformed { .. } => "vault.malformed",
            Self::UnsupportedFormat { .. } => "vault.unsupported_format",
            Self::TooLarge { .. } => "vault.too_large",
            Self::InvalidName { .. } => "vault.invalid_name",
            Self::PlaintextInvalid { .. } => "vault.plaintext_invalid",
            Self::CacheIo { .. } => "vault.cache_io",
            Self::CacheCorrupt { .. } => "vault.cache_corrupt",
            Self::RandomUnavailable { .. } => "vault.random_unavailable",
            Self::Kdf { .. } => "vault.kdf",
        }
    }

    /// True when the only way forward is to connect again (the sealed tokens
    /// are void or unreadable); the UI shows "Reconnect", not a crash.
    pub fn needs_reconnect(&self) -> bool {
        matches!(
            self,
            Self::SaltMissing { .. }
                | Self::SaltInvalid { .. }
                | Self::KeyChanged { .. }
                | Self::WrongKey
                | Self::Tampered
                | Self::Malformed { .. }
                | Self::PlaintextInvalid { .. }
                | Self::CacheCorrupt { .. }
        )
    }
}
