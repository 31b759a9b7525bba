//! The server's own cryptography: random tokens and their hashes, Argon2id
//! password hashes, and the server key that seals client secrets and API keys at rest.
//!
//! The server never holds a key able to open a connection record: envelopes are
//! sealed on the user's device and stored as opaque bytes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use latchkey_secret::{SecretBytes, SecretString, constant_time_eq};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error("server key is invalid: {0}")]
    BadKey(String),
    #[error("cannot read or create the server key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("sealed value cannot be opened with this server key (was the key changed?)")]
    Open,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The context (AEAD associated data) a sealed integration secret is bound to: its org,
/// integration and field, so a sealed value cannot be moved to another integration or
/// field. Frozen: changing it makes every stored secret unreadable (see the test vector).
pub fn secret_context(org_id: &str, integration_id: &str, field: &str) -> String {
    format!("{org_id}/integrations/{integration_id}/{field}")
}

/// Fills `buf` from the OS random generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| CryptoError::Random(e.to_string()))
}

/// A random id for rows (128 bits, hex).
pub fn new_id() -> Result<String, CryptoError> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(hex::encode(b))
}

/// What a bearer secret is for; the prefix makes a leaked token recognisable
/// (secret scanners) and stops one kind being accepted as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// 256-bit device token.
    Device,
    /// 256-bit admin API token.
    AdminApi,
    /// 256-bit console session token (cookie).
    Session,
    /// 256-bit CSRF token paired with a session.
    Csrf,
    /// 128-bit one-time enrollment code.
    Enrollment,
    /// 256-bit one-time setup code for the first admin.
    Setup,
    /// 256-bit SCIM bearer token an identity provider provisions users with.
    Scim,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Device => "lkd_",
            Self::AdminApi => "lka_",
            Self::Session => "lks_",
            Self::Csrf => "lkc_",
            Self::Enrollment => "lke_",
            Self::Setup => "lku_",
            Self::Scim => "lkp_",
        }
    }

    fn random_len(self) -> usize {
        match self {
            Self::Enrollment => 16,
            _ => 32,
        }
    }

    /// Whether `token` looks like this kind (prefix and length), checked before any lookup.
    pub fn matches(self, token: &str) -> bool {
        let body_len = (self.random_len() * 4).div_ceil(3);
        token.len() == self.prefix().len() + body_len
            && token.starts_with(self.prefix())
            && token[self.prefix().len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// A fresh random token of `kind`.
pub fn new_token(kind: TokenKind) -> Result<SecretString, CryptoError> {
    let mut raw = [0u8; 32];
    let raw = &mut raw[..kind.random_len()];
    random_bytes(raw)?;
    let token = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(&*raw));
    raw.fill(0);
    Ok(SecretString::new(token))
}

/// SHA-256 of a token: what storage keeps and looks up. Tokens are 128+ random
/// bits, so a fast hash is enough (no dictionary to attack).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time check that a stored hash belongs to the presented token.
pub fn token_matches(token: &str, stored_hash: &[u8]) -> bool {
    constant_time_eq(&token_hash(token), stored_hash)
}

/// Argon2id (OWASP parameters: 19 MiB, t=2, p=1) PHC string of a password.
pub fn hash_password(password: &SecretString) -> Result<String, CryptoError> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CryptoError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

/// Checks a password against a PHC string (the library compares in constant time).
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of nothing anyone knows, verified when an email is unknown so a
/// failed login takes as long whether or not the admin exists.
pub const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9FMM0c1JfrlyJ/wnLIfGcKlAcHKFQ/MB9H2bI1tcBYY";

/// The 256-bit key sealing integration secrets at rest (XChaCha20-Poly1305).
pub struct ServerKey(SecretBytes<32>);

impl ServerKey {
    /// Parses 64 hex digits.
    pub fn from_hex(hex_key: &SecretString) -> Result<Self, CryptoError> {
        let mut bytes = hex::decode(hex_key.expose().trim())
            .map_err(|_| CryptoError::BadKey("expected 64 hex digits".into()))?;
        let key = SecretBytes::from_slice(&bytes)
            .ok_or_else(|| CryptoError::BadKey("expected 64 hex digits (32 bytes)".into()));
        bytes.fill(0);
        Ok(Self(key?))
    }

    /// Reads `path`, or creates it with a fresh random key (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let err = |message: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::from_hex(&SecretString::new(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e.to_string())),
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let mut raw = [0u8; 32];
        random_bytes(&mut raw)?;
        let text = SecretString::new(hex::encode(raw));
        let key = SecretBytes::from_array(raw);
        write_private_file(path, text.expose().as_bytes()).map_err(|e| err(e.to_string()))?;
        Ok(Self(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose().into())
    }

    /// Seals `plaintext`, binding it to `context` (which integration and field),
    /// so a sealed value cannot be moved to another row or column.
    /// Layout: 24-byte nonce || ciphertext+tag.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_aad(aad(context).as_bytes(), plaintext)
    }

    /// Seals `plaintext` under explicit associated data (for envelopes that carry their
    /// own versioned header, such as org tokens). Layout: 24-byte nonce || ciphertext+tag.
    pub fn seal_with_aad(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 24];
        random_bytes(&mut nonce)?;
        let ct = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a value sealed by [`ServerKey::seal_with_aad`] with the same `aad`.
    pub fn open_with_aad(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretString, CryptoError> {
        if sealed.len() < 24 + 16 {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = sealed.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain)
            .map(SecretString::new)
            .map_err(|_| CryptoError::Open)
    }

    /// Opens a value sealed by [`ServerKey::seal`] with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<SecretString, CryptoError> {
        self.open_with_aad(aad(context).as_bytes(), sealed)
    }
}

/// The associated data of a sealed integration secret. Frozen wire contract:
/// changing it makes every stored secret unreadable (a test pins it).
fn aad(context: &str) -> String {
    format!("latchkey-server/v1/{context}")
}

#[cfg(unix)]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_prefix_length_and_are_distinct() {
        let a = new_token(TokenKind::Device).unwrap();
        let b = new_token(TokenKind::Device).unwrap();
        assert!(TokenKind::Device.matches(a.expose()));
        assert!(!TokenKind::AdminApi.matches(a.expose()));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 4 + 43);
        let code = new_token(TokenKind::Enrollment).unwrap();
        assert!(TokenKind::Enrollment.matches(code.expose()));
        assert!(token_matches(a.expose(), &token_hash(a.expose())));
        assert!(!token_matches(b.expose(), &token_hash(a.expose())));
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let pw = SecretString::from("correct horse battery staple");
        let phc = hash_password(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&pw, &phc));
        assert!(!verify_password(&SecretString::from("wrong"), &phc));
        assert!(!verify_password(&pw, DUMMY_PASSWORD_HASH));
        assert!(PasswordHash::new(DUMMY_PASSWORD_HASH).is_ok());
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let key = ServerKey::from_hex(&SecretString::new("11".repeat(32))).unwrap();
        let sealed = key.seal("org/salesforce/client_secret", b"s3cr3t").unwrap();
        assert_eq!(
            key.open("org/salesforce/client_secret", &sealed)
                .unwrap()
                .expose(),
            "s3cr3t"
        );
        assert!(key.open("org/salesforce/api_key", &sealed).is_err());
        let other = ServerKey::from_hex(&SecretString::new("22".repeat(32))).unwrap();
        assert!(other.open("org/salesforce/client_secret", &sealed).is_err());
        assert_eq!(aad("x"), "latchkey-server/v1/x", "frozen wire contract");
    }

    #[test]
    fn a_secret_sealed_by_an_earlier_release_still_opens() {
        // Frozen: sealed once with key 11…11 under the context of Salesforce's client
        // secret in org "org1". If this fails, the context or the AAD changed, and every
        // deployment's stored secrets would no longer open.
        let key = ServerKey::from_hex(&SecretString::new("11".repeat(32))).unwrap();
        let context = secret_context("org1", "salesforce", "client_secret");
        assert_eq!(context, "org1/integrations/salesforce/client_secret");
        let sealed = hex::decode(FROZEN_SEALED).unwrap();
        assert_eq!(key.open(&context, &sealed).unwrap().expose(), "s3cr3t");
    }

    const FROZEN_SEALED: &str = "819ce8edf265c1dc48f9ed6b7390769b5c16e7b24726757970ca18529e426e9b7c262443f90ddc5875817f5d104c";

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let a = ServerKey::load_or_create(&path).unwrap();
        let b = ServerKey::load_or_create(&path).unwrap();
        let sealed = a.seal("c", b"v").unwrap();
        assert_eq!(b.open("c", &sealed).unwrap().expose(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
