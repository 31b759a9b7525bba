//! The integrations remembered for offline use, against the REAL OS keychain
//! (`make test` runs this inside a private Secret Service session): settings
//! go to `integrations.json`, client secrets only to the keychain, and both
//! come back together, so a refresh that needs the secret works offline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_client::RemoteIntegration;
use latchkey_device::Device;
use latchkey_keychain::{Keychain, OsKeychain};
use serde_json::json;

fn keychain_ready() -> bool {
    let required = std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() == Ok("required")
        || std::env::var_os("CI").is_some();
    match OsKeychain::new("latchkey-test-probe").get("probe") {
        Ok(_) => true,
        Err(e) if required => panic!("the real keychain is required but failed: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no Secret Service here ({e}); run via scripts/with-keychain.sh");
            false
        }
    }
}

fn remote(secret: Option<&str>) -> RemoteIntegration {
    serde_json::from_value(json!({
        "id": "salesforce", "kind": "oauth", "environment": "production",
        "client_id": "3MVG9-client", "client_secret": secret,
        "scopes": ["api", "refresh_token"], "params": {},
    }))
    .unwrap()
}

#[test]
fn client_secrets_are_remembered_in_the_keychain_not_in_the_file() {
    if !keychain_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A unique server origin keeps this test's keychain entries its own.
    let port = 20_000 + std::process::id() % 40_000;
    std::fs::write(
        dir.path().join("device.json"),
        json!({
            "server": format!("http://127.0.0.1:{port}"), "user_id": "u1",
            "email": "ada@acme.example", "device_id": "d1",
        })
        .to_string(),
    )
    .unwrap();
    let device = Device::load(dir.path()).unwrap();
    let secret = "a-client-secret-4f1c9e2b7d";

    device.cache_integrations(&[remote(Some(secret))]).unwrap();
    let file = std::fs::read_to_string(dir.path().join("integrations.json")).unwrap();
    assert!(file.contains("3MVG9-client"));
    assert!(!file.contains(secret), "the secret reached a file: {file}");
    let cached = device.cached_integrations();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].client_secret.as_ref().unwrap().expose(), secret);

    // The admin removes the secret: it is removed from the keychain too.
    device.cache_integrations(&[remote(None)]).unwrap();
    assert!(device.cached_integrations()[0].client_secret.is_none());
}

/// A device token stored by a release that keyed it by server alone moves to this
/// enrollment's own entry the first time it is read, and is found there afterwards.
#[test]
fn a_token_keyed_by_server_moves_to_the_enrollments_entry() {
    if !keychain_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = 20_000 + (std::process::id() + 7) % 40_000;
    let server = format!("http://127.0.0.1:{port}");
    std::fs::write(
        dir.path().join("device.json"),
        json!({
            "server": server, "user_id": "u1", "email": "ada@acme.example", "device_id": "d-legacy",
        })
        .to_string(),
    )
    .unwrap();
    let tokens = OsKeychain::new("app.latchkey.device");
    tokens.set(&server, b"lkd_legacy-token").unwrap();
    let device = Device::load(dir.path()).unwrap();
    assert_eq!(device.token().unwrap().expose(), "lkd_legacy-token");
    assert!(
        tokens.get(&server).unwrap().is_none(),
        "the old entry is gone"
    );
    assert_eq!(device.token().unwrap().expose(), "lkd_legacy-token");
    device.forget_token(false).unwrap();
    // Gone on purpose, and said so: not "missing from the keychain".
    let err = device.token().unwrap_err();
    assert_eq!(err.code(), "device.revoked_by_admin", "{err}");
    assert!(
        err.to_string().contains("Your admin revoked this computer"),
        "{err}"
    );
    assert!(
        tokens
            .get(&format!("{server}#device=d-legacy"))
            .unwrap()
            .is_none()
    );
    device.forget_token(true).unwrap();
    assert_eq!(
        device.token().unwrap_err().code(),
        "device.removed_by_admin"
    );
}
