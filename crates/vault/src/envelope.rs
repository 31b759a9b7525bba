//! The sealed envelope: the only form in which a token ever leaves memory.
//!
//! The byte format is a frozen wire contract shared with every device and the
//! remote store; `FORMAT.md` in this crate describes it and the tests pin it
//! with fixed vectors. Change it only by adding a new format version.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::kdf::{KdfParams, KeyId};
use crate::{UserIdentity, VaultError, VaultKey};

/// The first two bytes of every envelope, "LK".
pub const MAGIC: [u8; 2] = *b"LK";
/// The only format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Algorithm id 1: XChaCha20-Poly1305.
pub const ALG_XCHACHA20_POLY1305: u8 = 1;
/// magic(2) + version(1) + algorithm(1) + kdf id(1) + key id(8).
pub const HEADER_LEN: usize = 13;
/// XChaCha20 nonce length; random per seal, so safe to draw at random.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// The smallest possible envelope (empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// The largest envelope accepted, matching the remote store's cap.
pub const MAX_LEN: usize = 64 * 1024;

/// Label that starts the associated data, so these bytes can never be
/// confused with another protocol's.
const AAD_LABEL: &[u8] = b"latchkey/envelope/v1";

/// What kind of record is sealed; part of the associated data so a record of
/// one kind can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A [`crate::TokenSet`].
    TokenSet,
    /// A home-screen widget's snapshot (its items and sync cursor); the record
    /// version is the widget's number, so one widget's snapshot never opens as another's.
    WidgetSnapshot,
}

impl RecordKind {
    /// The frozen name bound into the associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::TokenSet => "token-set",
            RecordKind::WidgetSnapshot => "widget-snapshot",
        }
    }
}

/// A connection slot on a device: one integration in one environment.
///
/// Both parts are restricted to `[a-z0-9][a-z0-9.-]*` (at most 253 bytes) so
/// they are safe as file names and unambiguous in the associated data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId {
    integration: String,
    environment: String,
}

impl SlotId {
    /// Validates and builds a slot id, e.g. (`salesforce`, `sandbox`) or
    /// (`salesforce`, `acme.my.salesforce.com`).
    pub fn new(integration: &str, environment: &str) -> Result<SlotId, VaultError> {
        check_name("integration id", integration)?;
        check_name("environment", environment)?;
        Ok(SlotId {
            integration: integration.to_owned(),
            environment: environment.to_owned(),
        })
    }

    /// The integration id.
    pub fn integration(&self) -> &str {
        &self.integration
    }

    /// The environment: `production`, `sandbox` or a custom host.
    pub fn environment(&self) -> &str {
        &self.environment
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), VaultError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !value.contains("..");
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidName {
            what,
            value: value.chars().take(80).collect(),
            rule: "use lowercase letters, digits, '.' and '-', starting with a letter or digit",
        })
    }
}

/// Everything an envelope is bound to besides its own header: whose it is,
/// which slot, what kind, and which record version. Moving a blob to another
/// user, integration, environment or version makes it fail to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    /// The owner.
    pub identity: UserIdentity,
    /// The integration and environment.
    pub slot: SlotId,
    /// What is sealed.
    pub kind: RecordKind,
    /// The record version this envelope is written as (the remote store's
    /// compare-and-swap version), so an old envelope cannot be replayed as new.
    pub version: u64,
}

impl RecordContext {
    /// A token-set record context.
    pub fn token_set(identity: UserIdentity, slot: SlotId, version: u64) -> RecordContext {
        RecordContext {
            identity,
            slot,
            kind: RecordKind::TokenSet,
            version,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        self.identity.encode_into(out);
        put_str(out, &self.slot.integration);
        put_str(out, &self.slot.environment);
        put_str(out, self.kind.as_str());
        out.extend_from_slice(&self.version.to_be_bytes());
    }
}

/// Appends a u16-big-endian length prefix and the bytes. All strings that reach
/// here are validated to be far below 65 535 bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// The parsed, unauthenticated header of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// Format version (1).
    pub version: u8,
    /// Algorithm id (1 = XChaCha20-Poly1305).
    pub algorithm: u8,
    /// Argon2id parameter set id.
    pub kdf_params_id: u8,
    /// Id of the key that sealed it.
    pub key_id: KeyId,
}

impl EnvelopeHeader {
    /// Parses and checks the header and overall length. This is the parser the
    /// fuzz target drives: it must return an error, never panic, on any input.
    pub fn parse(envelope: &[u8]) -> Result<EnvelopeHeader, VaultError> {
        if envelope.len() < 2 || envelope[..2] != MAGIC {
            return Err(VaultError::Malformed {
                reason: "it does not start with the Latchkey envelope marker",
            });
        }
        if envelope.len() > MAX_LEN {
            return Err(VaultError::Malformed {
                reason: "it is larger than the 64 KiB limit",
            });
        }
        let version = envelope.get(2).copied().ok_or(VaultError::Malformed {
            reason: "it is truncated",
        })?;
        if version != FORMAT_VERSION {
            return Err(VaultError::UnsupportedFormat {
                what: "envelope format version",
                value: version,
            });
        }
        if envelope.len() < MIN_LEN {
            return Err(VaultError::Malformed {
                reason: "it is truncated",
            });
        }
        let algorithm = envelope[3];
        if algorithm != ALG_XCHACHA20_POLY1305 {
            return Err(VaultError::UnsupportedFormat {
                what: "encryption algorithm",
                value: algorithm,
            });
        }
        let kdf_params_id = envelope[4];
        if KdfParams::by_id(kdf_params_id).is_none() {
            return Err(VaultError::UnsupportedFormat {
                what: "key derivation parameter set",
                value: kdf_params_id,
            });
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&envelope[5..HEADER_LEN]);
        Ok(EnvelopeHeader {
            version,
            algorithm,
            kdf_params_id,
            key_id: KeyId(key_id),
        })
    }
}

fn associated_data(header: &[u8], context: &RecordContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + HEADER_LEN + 128);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(header);
    context.encode_into(&mut aad);
    aad
}

/// Seals `plaintext` for `context` with a fresh random nonce.
pub fn seal(
    key: &VaultKey,
    context: &RecordContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce)?;
    seal_with_nonce(key, context, plaintext, nonce)
}

/// Seals with a caller-chosen nonce. Only for fixed test vectors: reusing a
/// nonce under one key breaks confidentiality.
#[doc(hidden)]
pub fn seal_with_nonce(
    key: &VaultKey,
    context: &RecordContext,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, VaultError> {
    let total = MIN_LEN + plaintext.len();
    if total > MAX_LEN {
        return Err(VaultError::TooLarge {
            len: total,
            max: MAX_LEN,
        });
    }
    // One allocation at the final size: the plaintext is copied in once and
    // encrypted in place, so no stray plaintext copy is left by growth.
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(ALG_XCHACHA20_POLY1305);
    out.push(key.params().id);
    out.extend_from_slice(&key.id().0);
    out.extend_from_slice(&nonce);
    let aad = associated_data(&out[..HEADER_LEN], context);
    out.extend_from_slice(plaintext);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key.expose()));
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &aad,
            &mut out[HEADER_LEN + NONCE_LEN..],
        )
        .map_err(|_| VaultError::TooLarge {
            len: total,
            max: MAX_LEN,
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens an envelope sealed for `context`, returning the plaintext in a buffer
/// that is wiped on drop.
pub fn open(
    key: &VaultKey,
    context: &RecordContext,
    envelope: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let header = EnvelopeHeader::parse(envelope)?;
    if header.key_id != key.id() {
        return Err(VaultError::WrongKey);
    }
    if header.kdf_params_id != key.params().id {
        // Same key id but other parameters cannot happen for an honest record.
        return Err(VaultError::Tampered);
    }
    let aad = associated_data(&envelope[..HEADER_LEN], context);
    let nonce = XNonce::from_slice(&envelope[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    let body = &envelope[HEADER_LEN + NONCE_LEN..];
    let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    plaintext.extend_from_slice(ciphertext);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key.expose()));
    cipher
        .decrypt_in_place_detached(nonce, &aad, &mut plaintext, Tag::from_slice(tag))
        .map_err(|_| VaultError::Tampered)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_secret::SecretBytes;

    /// The fixed inputs of the published test vector (see FORMAT.md).
    fn vector_key() -> VaultKey {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        VaultKey::from_raw_for_tests(bytes, KdfParams::CURRENT)
    }

    fn vector_context() -> RecordContext {
        RecordContext::token_set(
            UserIdentity::new("https://latchkey.example", "user-1").unwrap(),
            SlotId::new("salesforce", "sandbox").unwrap(),
            7,
        )
    }

    const VECTOR_PLAINTEXT: &[u8] = br#"{"access_token":"test"}"#;

    fn vector_nonce() -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = 0x40 + i as u8;
        }
        nonce
    }

    const VECTOR_KEY_ID: &str = "bfd8d28cfcf9c0b9";
    const VECTOR_AAD: &str = "6c617463686b65792f656e76656c6f70652f76314c4b010101bfd8d28cfcf9c0b9001868747470733a2f2f6c617463686b65792e6578616d706c650006757365722d31000a73616c6573666f726365000773616e64626f780009746f6b656e2d7365740000000000000007";
    const VECTOR_ENVELOPE: &str = "4c4b010101bfd8d28cfcf9c0b9404142434445464748494a4b4c4d4e4f5051525354555657af1b6413b3850a65d080e8d5caf247a8b0cec8b7677b2e7f4a84db0d46ada4ccd9bbf065e30dbb";
    const VECTOR_DERIVED_KEY: &str =
        "039daaf9fa02022705e73cce46902e58a92d5f99569888a68d753373b2209c7b";

    #[test]
    fn wire_format_is_pinned_by_the_published_vector() {
        let key = vector_key();
        assert_eq!(
            key.id().to_hex(),
            VECTOR_KEY_ID,
            "key id derivation changed"
        );
        let mut header = Vec::new();
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&[FORMAT_VERSION, ALG_XCHACHA20_POLY1305, 1]);
        header.extend_from_slice(&key.id().0);
        let aad = associated_data(&header, &vector_context());
        assert_eq!(
            hex::encode(&aad),
            VECTOR_AAD,
            "associated data layout changed"
        );
        let sealed =
            seal_with_nonce(&key, &vector_context(), VECTOR_PLAINTEXT, vector_nonce()).unwrap();
        assert_eq!(
            hex::encode(&sealed),
            VECTOR_ENVELOPE,
            "envelope bytes changed"
        );
        let opened = open(&key, &vector_context(), &sealed).unwrap();
        assert_eq!(&opened[..], VECTOR_PLAINTEXT);
    }

    #[test]
    fn the_pinned_envelope_still_opens() {
        // Guards the reading side on its own: old records must stay readable.
        let sealed = hex::decode(VECTOR_ENVELOPE).unwrap();
        let opened = open(&vector_key(), &vector_context(), &sealed).unwrap();
        assert_eq!(&opened[..], VECTOR_PLAINTEXT);
    }

    #[test]
    fn key_derivation_is_pinned() {
        let salt = SecretBytes::from_array([0x11; 32]);
        let identity = UserIdentity::new("https://latchkey.example", "user-1").unwrap();
        let key = VaultKey::derive(&salt, &identity, KdfParams::CURRENT).unwrap();
        assert_eq!(hex::encode(key.expose()), VECTOR_DERIVED_KEY);
    }

    #[test]
    fn unknown_versions_algorithms_and_kdf_ids_are_rejected_not_guessed() {
        let sealed =
            seal_with_nonce(&vector_key(), &vector_context(), b"x", vector_nonce()).unwrap();
        for (offset, what) in [
            (2, "envelope format version"),
            (3, "encryption algorithm"),
            (4, "key derivation parameter set"),
        ] {
            let mut bad = sealed.clone();
            bad[offset] = 0x7f;
            match open(&vector_key(), &vector_context(), &bad) {
                Err(VaultError::UnsupportedFormat { what: w, value }) => {
                    assert_eq!((w, value), (what, 0x7f));
                }
                other => panic!("offset {offset}: expected UnsupportedFormat, got {other:?}"),
            }
        }
    }

    #[test]
    fn short_or_foreign_bytes_are_malformed() {
        for bytes in [&b""[..], b"L", b"XX\x01", b"LK\x01\x01\x01"] {
            let err = EnvelopeHeader::parse(bytes).unwrap_err();
            assert_eq!(err.code(), "vault.malformed", "{bytes:?}");
        }
        let too_big = [&MAGIC[..], &[1u8; MAX_LEN][..]].concat();
        assert_eq!(
            EnvelopeHeader::parse(&too_big).unwrap_err().code(),
            "vault.malformed"
        );
    }

    #[test]
    fn a_fresh_nonce_is_drawn_for_every_seal() {
        let key = vector_key();
        let a = seal(&key, &vector_context(), b"same").unwrap();
        let b = seal(&key, &vector_context(), b"same").unwrap();
        assert_ne!(
            a[HEADER_LEN..HEADER_LEN + NONCE_LEN],
            b[HEADER_LEN..HEADER_LEN + NONCE_LEN]
        );
        assert_ne!(a, b);
    }

    #[test]
    fn oversized_plaintext_is_refused() {
        let err = seal(&vector_key(), &vector_context(), &vec![0u8; MAX_LEN]).unwrap_err();
        assert_eq!(err.code(), "vault.too_large");
    }

    #[test]
    fn slot_names_are_restricted() {
        assert!(SlotId::new("salesforce", "acme--uat.sandbox.my.salesforce.com").is_ok());
        for (i, e) in [
            ("Salesforce", "sandbox"),
            ("salesforce", "../etc"),
            ("salesforce", "a/b"),
            ("", "sandbox"),
            ("sf", "a..b"),
            ("sf", "-x"),
            ("sf@x", "y"),
        ] {
            assert_eq!(
                SlotId::new(i, e).unwrap_err().code(),
                "vault.invalid_name",
                "{i} {e}"
            );
        }
    }
}
