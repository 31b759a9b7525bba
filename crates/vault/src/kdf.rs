//! Key derivation: Argon2id parameter sets and the zeroizing vault key.

use argon2::{Algorithm, Argon2, Params, Version};
use latchkey_secret::SecretBytes;
use sha2::{Digest, Sha256};

use crate::{UserIdentity, VaultError};

/// Length of the keychain salt and of the derived key, in bytes.
pub const KEY_LEN: usize = 32;

/// A registered Argon2id parameter set. Each envelope records the id of the set
/// its key came from, so the cost can be raised later without breaking old
/// records: a new id is added here, old ids stay derivable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// The id written into envelopes. Never reuse or change a published id.
    pub id: u8,
    /// Memory cost in KiB (`argon2`'s `m_cost` unit).
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Id 1: OWASP's first recommendation for Argon2id, m = 19 MiB, t = 2, p = 1.
    pub const OWASP_2023: KdfParams = KdfParams {
        id: 1,
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The set new vaults use.
    pub const CURRENT: KdfParams = Self::OWASP_2023;

    /// Every set this build can derive with.
    pub const KNOWN: &'static [KdfParams] = &[Self::OWASP_2023];

    /// Looks a set up by the id found in an envelope.
    pub fn by_id(id: u8) -> Option<KdfParams> {
        Self::KNOWN.iter().copied().find(|p| p.id == id)
    }
}

/// The 8-byte key id written in envelope headers: SHA-256 of a fixed label and
/// the key, truncated. It tells "sealed with another key" apart from "tampered"
/// and reveals nothing about the key or the salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Lowercase hex, as shown in manifests and sent to the server slot.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form.
    pub fn from_hex(text: &str) -> Option<KeyId> {
        let bytes = hex::decode(text).ok()?;
        let array: [u8; 8] = bytes.try_into().ok()?;
        Some(KeyId(array))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The derived vault key. It has no `Clone`, `Debug` or `Serialize` (a test
/// asserts this at compile time); the bytes live in one heap allocation from
/// birth and are wiped on drop.
pub struct VaultKey {
    bytes: SecretBytes<KEY_LEN>,
    id: KeyId,
    params: KdfParams,
}

impl VaultKey {
    /// Derives the key for `identity` from the keychain `salt` with `params`.
    pub fn derive(
        salt: &SecretBytes<KEY_LEN>,
        identity: &UserIdentity,
        params: KdfParams,
    ) -> Result<VaultKey, VaultError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|e| VaultError::Kdf {
            reason: e.to_string(),
        })?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut password = Vec::with_capacity(64);
        password.extend_from_slice(b"latchkey/vault-key/v1");
        identity.encode_into(&mut password);
        let bytes = SecretBytes::try_new_with(|out| {
            argon
                .hash_password_into(&password, salt.expose(), out)
                .map_err(|e| VaultError::Kdf {
                    reason: e.to_string(),
                })
        })?;
        Ok(Self::from_parts(bytes, params))
    }

    fn from_parts(bytes: SecretBytes<KEY_LEN>, params: KdfParams) -> VaultKey {
        let mut hasher = Sha256::new();
        hasher.update(b"latchkey/key-id/v1");
        hasher.update(bytes.expose());
        let digest = hasher.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        VaultKey {
            bytes,
            id: KeyId(id),
            params,
        }
    }

    /// Builds a key from raw bytes. Only for test vectors and benchmarks.
    #[doc(hidden)]
    pub fn from_raw_for_tests(bytes: [u8; KEY_LEN], params: KdfParams) -> VaultKey {
        Self::from_parts(SecretBytes::from_array(bytes), params)
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The parameter set the key was derived with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        self.bytes.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> UserIdentity {
        UserIdentity::new("https://latchkey.example", "user-1").unwrap()
    }

    #[test]
    fn derivation_is_deterministic_and_bound_to_salt_and_identity() {
        let salt = SecretBytes::from_array([1u8; 32]);
        let k1 = VaultKey::derive(&salt, &identity(), KdfParams::CURRENT).unwrap();
        let k2 = VaultKey::derive(&salt, &identity(), KdfParams::CURRENT).unwrap();
        assert_eq!(k1.expose(), k2.expose());
        assert_eq!(k1.id(), k2.id());

        let other_salt = SecretBytes::from_array([2u8; 32]);
        let k3 = VaultKey::derive(&other_salt, &identity(), KdfParams::CURRENT).unwrap();
        assert_ne!(k1.expose(), k3.expose());

        let other_user = UserIdentity::new("https://latchkey.example", "user-2").unwrap();
        let k4 = VaultKey::derive(&salt, &other_user, KdfParams::CURRENT).unwrap();
        assert_ne!(k1.expose(), k4.expose());
        assert_ne!(k1.id(), k4.id());
    }

    #[test]
    fn the_key_is_not_the_salt() {
        let salt = SecretBytes::from_array([9u8; 32]);
        let key = VaultKey::derive(&salt, &identity(), KdfParams::CURRENT).unwrap();
        assert_ne!(key.expose(), salt.expose());
    }

    // Secrets can never be copied, printed or serialised by accident.
    static_assertions::assert_not_impl_any!(VaultKey: Clone, std::fmt::Debug, serde::Serialize);
    static_assertions::assert_not_impl_any!(
        latchkey_secret::SecretString: Clone,
        std::fmt::Display,
        serde::Serialize
    );
    static_assertions::assert_not_impl_any!(crate::TokenSet: Clone, std::fmt::Display, serde::Serialize);

    #[test]
    fn current_params_meet_owasp_minimum() {
        let p = KdfParams::CURRENT;
        assert!(p.memory_kib >= 19 * 1024 && p.iterations >= 2 && p.parallelism >= 1);
        assert_eq!(KdfParams::by_id(p.id), Some(p));
        assert_eq!(KdfParams::by_id(0), None);
    }

    #[test]
    fn key_id_hex_round_trips() {
        let id = KeyId([0, 1, 2, 3, 0xfc, 0xfd, 0xfe, 0xff]);
        assert_eq!(id.to_hex(), "00010203fcfdfeff");
        assert_eq!(KeyId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(KeyId::from_hex("zz"), None);
    }
}
