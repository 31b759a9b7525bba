//! Latchkey's token vault.
//!
//! Every OAuth token Latchkey holds is sealed here before it leaves memory:
//! only sealed envelopes are written to the local cache or sent to the remote
//! store, so a stolen laptop disk or server database yields nothing usable.
//!
//! ## How the key is made, honestly
//! At first setup of a user on this machine, 32 bytes are drawn from the OS
//! CSPRNG and stored **only** in the OS keychain (see `latchkey-keychain`).
//! The vault key is Argon2id(password = the user identity, salt = those 32
//! bytes), with at least OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//!
//! The 256 random bits of the salt are the secret; nothing else is. The user
//! identity fed to Argon2id is public. Argon2id therefore adds no brute-force
//! resistance here (256 bits cannot be guessed at any speed); what it adds is
//! a standard, parameterised derivation that binds the key to the identity (a
//! salt copied to another user's entry derives a different key), a key that is
//! never the stored bytes themselves, and room to raise the cost later: the
//! parameter set is recorded in every envelope, so old records stay readable.
//!
//! If the keychain entry disappears, the tokens sealed under it are void. The
//! vault never regenerates a salt silently: [`VaultError::SaltMissing`] tells the
//! caller to offer "reconnect", and only [`Vault::reset`] makes a new salt.
//! There is no plaintext fallback when the keychain fails.
//!
//! ## Layout
//! - [`identity`]: who the vault belongs to (server origin + user id).
//! - [`kdf`]: Argon2id parameter sets and the zeroizing [`VaultKey`].
//! - [`envelope`]: the sealed byte format; `FORMAT.md` in this crate pins it.
//! - [`token`]: the token set that gets sealed.
//! - [`cache`]: the encrypted on-disk cache with atomic writes.
//! - [`vault`]: ties keychain, key, envelopes and cache together.
#![doc = ""]
#![doc = "## Envelope format"]
#![doc = include_str!("../FORMAT.md")]

pub mod cache;
pub mod envelope;
mod error;
pub mod identity;
pub mod kdf;
mod random;
pub mod token;
#[allow(clippy::module_inception)]
pub mod vault;

pub use cache::{CachedRecord, EnvelopeCache};
pub use envelope::{RecordContext, RecordKind, SlotId};
pub use error::VaultError;
pub use identity::UserIdentity;
pub use kdf::{KdfParams, KeyId, VaultKey};
pub use token::TokenSet;
pub use vault::{DEFAULT_KEYCHAIN_SERVICE, Vault, VaultOpening};
