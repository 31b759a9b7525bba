//! Wrappers for secret values: tokens, keys, salts, passwords.
//!
//! Why a crate of its own: both the desktop side and the server handle secrets,
//! and the server must never depend on the vault. These types make the safe
//! thing the easy thing:
//! - `Debug` prints `[redacted]`; there is no `Display`, `Clone` or `Serialize`,
//!   so a secret cannot reach a log line, an error message or an IPC payload by
//!   accident. Reading the value takes an explicit `.expose()`.
//! - The memory is wiped on drop. Values are allocated once at their final size
//!   (no `Vec` growth), so no stale copies are left behind by reallocation.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// A secret UTF-8 string, such as an access token or a password.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a string. The string is moved, not copied, so no stray copy remains.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret value. Call sites of `expose` are the places to review.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Length in bytes, useful for validation without exposing the value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A deliberate copy, for the rare places that must hold the value twice
    /// (for example, keeping the old refresh token until the new one is stored).
    pub fn duplicate(&self) -> Self {
        Self::new(self.expose().to_owned())
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl PartialEq for SecretString {
    /// Constant-time in the length of the shorter value, so comparing a
    /// presented secret with a stored one leaks no prefix timing.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose().as_bytes(), other.expose().as_bytes())
    }
}

impl Eq for SecretString {}

/// A fixed-size secret byte array, such as a salt or a derived key.
pub struct SecretBytes<const N: usize>(Box<Zeroizing<[u8; N]>>);

impl<const N: usize> SecretBytes<N> {
    /// Takes ownership of the bytes and wipes the caller's array.
    pub fn from_array(mut bytes: [u8; N]) -> Self {
        let boxed = Box::new(Zeroizing::new(bytes));
        bytes.zeroize();
        Self(boxed)
    }

    /// Builds the secret in place: `fill` writes into zeroed memory at its final
    /// address, so no copy of the secret is left on the stack by a move.
    pub fn try_new_with<E>(fill: impl FnOnce(&mut [u8; N]) -> Result<(), E>) -> Result<Self, E> {
        let mut boxed = Box::new(Zeroizing::new([0u8; N]));
        fill(&mut boxed)?;
        Ok(Self(boxed))
    }

    /// Copies a slice of exactly `N` bytes; `None` if the length differs.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != N {
            return None;
        }
        let mut boxed = Box::new(Zeroizing::new([0u8; N]));
        boxed.copy_from_slice(bytes);
        Some(Self(boxed))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>([redacted])")
    }
}

/// A variable-length secret byte string, as read back from a keychain.
pub struct SecretVec(Zeroizing<Vec<u8>>);

impl SecretVec {
    /// Takes ownership of the bytes; they are wiped when this value drops.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretVec(len={}, [redacted])", self.0.len())
    }
}

/// Compares two byte strings without early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    // `black_box` keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_value() {
        let token = SecretString::from("00Dxx0000001gPL!AR8AQJXg");
        let printed = format!("{token:?} {:?}", Some(&token));
        assert!(!printed.contains("AR8AQ"), "{printed}");
        assert!(printed.contains("redacted"));

        let key = SecretBytes::from_array([0xAB; 32]);
        let printed = format!("{key:?}");
        assert!(!printed.to_lowercase().contains("ab"), "{printed}");
    }

    #[test]
    fn from_array_wipes_the_source_copy_and_keeps_the_value() {
        let key = SecretBytes::from_array([7u8; 4]);
        assert_eq!(key.expose(), &[7u8; 4]);
    }

    #[test]
    fn from_slice_rejects_wrong_lengths() {
        assert!(SecretBytes::<32>::from_slice(&[0u8; 31]).is_none());
        assert!(SecretBytes::<32>::from_slice(&[0u8; 33]).is_none());
        assert!(SecretBytes::<32>::from_slice(&[0u8; 32]).is_some());
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(SecretString::from("a"), SecretString::from("a"));
        assert_ne!(SecretString::from("a"), SecretString::from("b"));
        assert_ne!(SecretString::from("a"), SecretString::from("ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn deserializes_from_json_string() {
        let secret: SecretString = serde_json::from_str("\"s3cr3t\"").unwrap();
        assert_eq!(secret.expose(), "s3cr3t");
    }
}
