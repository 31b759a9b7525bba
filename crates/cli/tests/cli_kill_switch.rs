//! The kill switch through the real `latchkey` binary: an admin's disconnect (or
//! disabling the integration) reaches this computer, which revokes the grant at the
//! provider (oidc-provider sees it), wipes its copy, says plainly what happened, and
//! answers with a receipt the admin sees. The device was "offline" when the admin
//! acted (no command running): it reconciles when it next talks to the server.
//!
//! The kill-switch stories run on both server backends: SQLite, and PostgreSQL when
//! `LATCHKEY_TEST_POSTGRES_URL` names a cluster (`scripts/with-postgres.sh` sets it;
//! unset, the PostgreSQL runs fail under CI and say they skip elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use latchkey_test_peers::{AuthServer, Backend, TestStore, files_containing, peers_ready};
use serde_json::{Value, json};

mod common;
use common::{latchkey, sealed_copies, text};

fn token(data: &Path) -> String {
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admins_disconnect_and_disable_reach_the_device_with_receipts_on_sqlite() {
    an_admins_disconnect_and_disable_reach_the_device_with_receipts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admins_disconnect_and_disable_reach_the_device_with_receipts_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        an_admins_disconnect_and_disable_reach_the_device_with_receipts(backend).await;
    }
}

/// An admin disconnects Ada, then disables the integration she reconnected: each time her
/// next command revokes at the provider, wipes the copy and answers with a receipt.
async fn an_admins_disconnect_and_disable_reach_the_device_with_receipts(backend: Backend) {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let mut store = TestStore::start_on(backend).await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let first = token(data);
    assert!(provider.active("latchkey-static", &first).await);

    // The admin disconnects Ada while no command runs on her computer.
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/connections/demo-oauth"),
            None,
        )
        .await;
    let pending = store.connections(&user_id).await;
    assert_eq!(pending["revocations_pending"]["demo-oauth"], 1, "{pending}");

    // Her next command reconciles: revoked at the provider, wiped, said plainly.
    let before = provider.stats().await["revocation"].as_u64().unwrap();
    let out = latchkey(data, &["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let card = &status["integrations"][0]["status"];
    assert_eq!(card["state"], "disconnected_by_admin", "{status}");
    assert_eq!(card["reason"], "Your admin disconnected Demo OAuth");
    assert_eq!(
        provider.stats().await["revocation"].as_u64().unwrap() - before,
        1
    );
    assert!(
        !provider.active("latchkey-static", &first).await,
        "the grant is dead at the provider"
    );
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("Your admin disconnected Demo OAuth"),
        "{}",
        text(&out)
    );
    let out = latchkey(data, &["list"]);
    assert!(
        text(&out).contains("Your admin disconnected Demo OAuth"),
        "{}",
        text(&out)
    );

    // The admin sees the receipt.
    let view = store.connections(&user_id).await;
    assert_eq!(view["revocations_pending"], json!({}), "{view}");
    let receipt = &view["revocations"][0]["receipt"];
    assert_eq!(receipt["provider"], "revoked", "{view}");
    assert_eq!(receipt["local_wiped"], true);
    assert_eq!(view["revocations"][0]["reason"], "disconnect");
    // Answered once: the next command does not revoke again.
    let out = latchkey(data, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        provider.stats().await["revocation"].as_u64().unwrap() - before,
        1
    );

    // Connect works again (a new grant may fill the slot the admin emptied).
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("connected as ada@acme.example"),
        "{}",
        text(&out)
    );
    let second = token(data);
    assert!(provider.active("latchkey-static", &second).await);

    // The admin disables the integration: the order carries its settings, so the
    // device still reaches the provider although the integration left its list.
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({
                "enabled": false,
                "environment": "production",
                "client_id": "latchkey-static",
                "params": { "issuer": provider.issuer },
            })),
        )
        .await;
    let out = latchkey(data, &["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !provider.active("latchkey-static", &second).await,
        "revoked at the provider after the integration was disabled"
    );
    let view = store.connections(&user_id).await;
    let disabled = view["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["reason"] == "integration_disabled")
        .unwrap_or_else(|| panic!("{view}"))
        .clone();
    assert_eq!(disabled["receipt"]["provider"], "revoked", "{view}");
    for secret in [&first, &second] {
        assert!(files_containing(data, secret.as_bytes()).is_empty());
    }
    // Everything this computer wrote (device and integration files, the sealed cache,
    // locks, markers, the outbox) is the user's alone, although the data dir existed
    // with looser rights before enrollment (Unix permission bits; Windows keeps a
    // profile's folders to their user already).
    #[cfg(unix)]
    latchkey_test_peers::assert_private_tree(data);
    store.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leavers_computer_revokes_wipes_and_forgets_its_token_on_sqlite() {
    a_leavers_computer_revokes_wipes_and_forgets_its_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leavers_computer_revokes_wipes_and_forgets_its_token_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        a_leavers_computer_revokes_wipes_and_forgets_its_token(backend).await;
    }
}

/// The leaver: the admin removes Ada while her computer is off. When it next talks to
/// the server it carries out the last order its token still opens (the grant revoked at
/// the provider, receipt sent), wipes every copy and forgets the device token; it says
/// plainly that it was cut off.
async fn a_leavers_computer_revokes_wipes_and_forgets_its_token(backend: Backend) {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let mut store = TestStore::start_on(backend).await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let access = token(data);
    assert!(provider.active("latchkey-static", &access).await);

    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}"),
            None,
        )
        .await;

    let out = latchkey(data, &["status"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("revoked"), "{}", text(&out));
    assert!(
        !provider.active("latchkey-static", &access).await,
        "the leaver's grant is dead at the provider"
    );
    // Nothing sealed is left, and the token is gone: the computer is not enrolled now.
    let sealed = sealed_copies(data);
    assert!(sealed.is_empty(), "sealed copies left: {sealed:?}");
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Every later command says why, not that a token went missing.
    assert!(
        text(&out).contains("Your admin removed your account from Latchkey"),
        "{}",
        text(&out)
    );
    let audit = store
        .admin(
            reqwest::Method::GET,
            "/v1/admin/audit?action=revocation.receipt",
            None,
        )
        .await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["detail"]["provider"], "revoked", "{audit}");
    assert_eq!(events[0]["detail"]["local_wiped"], true);
    store.down().await;
}

/// Two data dirs on one OS account, enrolled with one server, are two devices: each keeps
/// its own device token in the keychain, so revoking one leaves the other working (they
/// used to share one entry, keyed by the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_enrollments_on_one_account_keep_their_own_tokens() {
    let mut store = TestStore::start().await;
    let (ada_link, ada_id) = store.invite("ada@acme.example").await;
    let (bob_link, _) = store.invite("bob@acme.example").await;
    let (ada_home, bob_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ada, bob) = (ada_home.path(), bob_home.path());
    for (data, link) in [(ada, &ada_link), (bob, &bob_link)] {
        let out = latchkey(data, &["enroll", link]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let devices = store
        .admin(reqwest::Method::GET, "/v1/admin/devices", None)
        .await;
    let ada_device = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["user_id"] == ada_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    store
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/devices/{ada_device}/revoke"),
            None,
        )
        .await;
    let out = latchkey(ada, &["list"]);
    assert!(
        !out.status.success(),
        "Ada's computer is revoked: {}",
        text(&out)
    );
    let out = latchkey(bob, &["list"]);
    assert!(
        out.status.success(),
        "Bob's computer still works: {}",
        text(&out)
    );
    store.down().await;
}
