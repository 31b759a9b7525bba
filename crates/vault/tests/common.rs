//! Helpers shared by the vault's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use latchkey_vault::{SlotId, TokenSet, UserIdentity};

pub fn identity(user: &str) -> UserIdentity {
    UserIdentity::new("https://latchkey.example", user).unwrap()
}

pub fn slot() -> SlotId {
    SlotId::new("salesforce", "sandbox").unwrap()
}

/// A Salesforce-shaped token set with recognisable secret values.
pub fn tokens(tag: &str) -> TokenSet {
    TokenSet {
        access_token: format!("00D5g0000ACCESS{tag}!AQ4AQ").into(),
        refresh_token: Some(format!("5Aep861REFRESH{tag}").into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["api".into(), "refresh_token".into()],
        expires_at: None,
        issued_at: 1_700_000_000,
        instance_url: Some("https://acme.my.salesforce.com".into()),
        extras: BTreeMap::from([("id".into(), "https://test.salesforce.com/id/00D/005".into())]),
    }
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The encodings a leaked secret could take in a file or a log.
pub fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut forms = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
    ];
    // A quarter of a secret is already too much to leak: look for 8-byte windows too.
    if secret.len() >= 16 {
        forms.push(secret[..8].to_vec());
        forms.push(hex::encode(&secret[..8]).into_bytes());
    }
    forms
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Panics naming the file if any form of any secret appears in any file under `dir`.
pub fn assert_no_secret_in_files(dir: &Path, secrets: &[(&str, &[u8])]) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "expected files under {}", dir.display());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (name, secret) in secrets {
            for form in encodings(secret) {
                assert!(
                    !contains(&bytes, &form),
                    "{name} found in {}",
                    file.display()
                );
            }
        }
    }
}
