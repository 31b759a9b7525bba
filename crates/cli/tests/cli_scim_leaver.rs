//! Deprovisioning through SCIM is the leaver flow, end to end through the real
//! `latchkey` binary: Ada has two computers, each holding a sealed copy of her grant at
//! the provider. The company's identity provider deactivates her (`PATCH active: false` on
//! `/scim/v2/Users/{id}`, with a SCIM token). When each computer next talks to the
//! server it revokes the grant at the provider (oidc-provider sees it dead), wipes its
//! sealed copies, forgets its device token and says why; the admin sees both receipts.
//! Both server backends (PostgreSQL when `scripts/with-postgres.sh` names a cluster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use latchkey_test_peers::{AuthServer, Backend, TestStore, peers_ready};
use serde_json::json;

mod common;
use common::{latchkey, sealed_copies, text};

fn token(data: &Path) -> String {
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_deactivated_by_scim_is_wiped_from_both_computers_on_sqlite() {
    deactivated_by_scim(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_deactivated_by_scim_is_wiped_from_both_computers_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        deactivated_by_scim(backend).await;
    }
}

async fn deactivated_by_scim(backend: Backend) {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let store = TestStore::start_on(backend).await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    // Two computers (two data dirs), each enrolled (a new code for the second: issuing one
    // ends the last) and connected.
    let laptop = tempfile::tempdir().unwrap();
    let desktop = tempfile::tempdir().unwrap();
    let mut grants = Vec::new();
    let mut next_link = link;
    for data in [laptop.path(), desktop.path()] {
        let out = latchkey(data, &["enroll", &next_link]);
        assert!(out.status.success(), "{}", text(&out));
        let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
        assert!(out.status.success(), "{}", text(&out));
        let access = token(data);
        assert!(provider.active("latchkey-static", &access).await);
        assert!(!sealed_copies(data).is_empty());
        grants.push(access);
        let again = store
            .admin(
                reqwest::Method::POST,
                &format!("/v1/admin/users/{user_id}/enrollment"),
                None,
            )
            .await;
        next_link = again["enrollment"]["link"].as_str().unwrap().to_owned();
    }
    // (Both data dirs are on one OS account, so they share the keychain's vault key and the
    // second restored the first's sealed grant from the server: one grant, two copies.)

    // The identity provider deactivates Ada, with a token the admin issued for it.
    let issued = store
        .admin(
            reqwest::Method::POST,
            "/v1/admin/scim-tokens",
            Some(json!({ "name": "Entra ID" })),
        )
        .await;
    let scim_token = issued["token"].as_str().unwrap().to_owned();
    let response = reqwest::Client::new()
        .patch(format!("{}/scim/v2/Users/{user_id}", store.url()))
        .bearer_auth(&scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "value": { "active": false } }],
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(body.contains("\"active\":false"), "{body}");

    // Each computer, when it next runs a command: cut off, saying so; its grant is dead at
    // the provider; nothing sealed is left; it is not enrolled any more.
    for (data, access) in [(laptop.path(), &grants[0]), (desktop.path(), &grants[1])] {
        let out = latchkey(data, &["status"]);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("revoked"), "{}", text(&out));
        assert!(
            !provider.active("latchkey-static", access).await,
            "the grant is dead at the provider"
        );
        assert_eq!(sealed_copies(data), Vec::<PathBuf>::new());
        let out = latchkey(data, &["token", "demo-oauth"]);
        assert!(!out.status.success(), "{}", text(&out));
    }
    // The admin sees a receipt from each computer.
    let audit = store
        .admin(
            reqwest::Method::GET,
            "/v1/admin/audit?action=revocation.receipt",
            None,
        )
        .await;
    let receipts = audit["events"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{audit}");
    for receipt in receipts {
        assert_eq!(receipt["detail"]["provider"], "revoked", "{audit}");
        assert_eq!(receipt["detail"]["local_wiped"], true, "{audit}");
    }
    // Her row stays for the identity provider, inactive; no new enrollment for her.
    let (status, refused) = store
        .admin_reply(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user_id}/enrollment"),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "user_inactive", "{refused}");
}
