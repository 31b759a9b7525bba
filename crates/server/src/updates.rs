//! Signed app updates: the update key from the configuration, the signature check done
//! on upload, and the rules for the values of Tauri's update URL (target, arch, version)
//! and for channel names.
//!
//! The desktop app's updater (tauri-plugin-updater) verifies every download with the
//! public key built into the app. The server checks the same signature with the same key
//! at upload, so an artifact the app would refuse is never offered to anyone.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use minisign_verify::{PublicKey, Signature};

/// Tauri's `{{target}}` values the server serves.
pub const TARGETS: &[&str] = &["linux", "windows", "darwin"];
/// Tauri's `{{arch}}` values the server serves.
pub const ARCHES: &[&str] = &["x86_64", "aarch64", "i686", "armv7"];

/// Why `updates.public_key` is unusable; the message says what to put there instead.
#[derive(Debug, thiserror::Error)]
pub enum UpdateKeyError {
    #[error(
        "it is not base64: paste the `plugins.updater.pubkey` value of the app's tauri.conf.json (base64 of the .pub file `tauri signer generate` wrote)"
    )]
    NotBase64,
    #[error(
        "it is not a minisign public key: paste the `plugins.updater.pubkey` value of the app's tauri.conf.json (base64 of the .pub file `tauri signer generate` wrote)"
    )]
    NotMinisign,
}

/// The public half of the app's update key: base64 of a minisign public-key file's text,
/// exactly the string of `plugins.updater.pubkey` in the app's `tauri.conf.json`.
#[derive(Clone)]
pub struct UpdateKey {
    key: PublicKey,
    /// The configured text, shown back to admins.
    text: String,
}

impl std::fmt::Debug for UpdateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UpdateKey").field(&self.text).finish()
    }
}

impl UpdateKey {
    pub fn parse(base64_text: &str) -> Result<Self, UpdateKeyError> {
        let text = base64_text.trim();
        let decoded = decode_text(text).ok_or(UpdateKeyError::NotBase64)?;
        let key = PublicKey::decode(&decoded).map_err(|_| UpdateKeyError::NotMinisign)?;
        Ok(Self {
            key,
            text: text.to_owned(),
        })
    }

    /// The key as configured (base64), for the console.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `signature` (base64 of the minisign `.sig` text, as `tauri signer sign`
    /// writes it) is a signature of `artifact` by this key. Legacy (not prehashed)
    /// signatures are accepted because the updater on the device accepts them too.
    pub fn verifies(&self, artifact: &[u8], signature: &str) -> bool {
        let Some(text) = decode_text(signature.trim()) else {
            return false;
        };
        let Ok(signature) = Signature::decode(&text) else {
            return false;
        };
        self.key.verify(artifact, &signature, true).is_ok()
    }
}

/// The version a signature was made for: the `version:` field of its trusted comment,
/// which the Tauri CLI writes and the signature covers. The app refuses an update whose
/// signed version is missing or differs from the announced one (`requireSignedVersion`:
/// the manifest itself is unsigned), so the server refuses such an upload first.
pub fn signed_version(signature: &str) -> Option<String> {
    let text = decode_text(signature.trim())?;
    let signature = Signature::decode(&text).ok()?;
    signature
        .trusted_comment()
        .split('\t')
        .find_map(|field| field.strip_prefix("version:"))
        .map(str::to_owned)
}

fn decode_text(b64: &str) -> Option<String> {
    let bytes = STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// Tauri's `{{target}}`, if it is one the server serves.
pub fn target(value: &str) -> Option<&'static str> {
    TARGETS.iter().find(|t| **t == value).copied()
}

/// Tauri's `{{arch}}`, if it is one the server serves.
pub fn arch(value: &str) -> Option<&'static str> {
    ARCHES.iter().find(|a| **a == value).copied()
}

/// A semver version. A leading `v` is not semver and is refused, as the updater would
/// refuse it in a manifest.
pub fn version(value: &str) -> Option<semver::Version> {
    semver::Version::parse(value).ok()
}

/// A channel name: `[a-z0-9-]{1,32}`.
pub fn channel(value: &str) -> Result<&str, ApiError> {
    let ok = (1..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(value)
    } else {
        Err(ApiError::bad_request(
            "update.bad_channel",
            "A channel name is 1 to 32 lowercase letters, digits or '-' (such as stable or beta).",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_short_lowercase_words() {
        for ok in ["stable", "beta", "early-access-2"] {
            assert!(channel(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Beta", "beta channel", "b_eta", &"x".repeat(33)] {
            assert_eq!(
                channel(bad).unwrap_err().code,
                "update.bad_channel",
                "{bad}"
            );
        }
    }

    #[test]
    fn versions_are_semver_and_targets_are_tauris() {
        assert!(version("0.2.0").is_some());
        assert!(version("1.0.0-beta.1").is_some());
        for bad in ["v1.0.0", "1.0", "latest", ""] {
            assert!(version(bad).is_none(), "{bad}");
        }
        assert!(target("macos").is_none());
        assert!(arch("x64").is_none());
        assert_eq!(target("darwin"), Some("darwin"));
        assert_eq!(arch("aarch64"), Some("aarch64"));
    }

    #[test]
    fn a_key_that_is_not_a_minisign_public_key_is_named() {
        assert!(matches!(
            UpdateKey::parse("not base64!"),
            Err(UpdateKeyError::NotBase64)
        ));
        assert!(matches!(
            UpdateKey::parse(&STANDARD.encode("hello")),
            Err(UpdateKeyError::NotMinisign)
        ));
    }
}
