//! Two connections of one provider through the real `latchkey` binary: an org's two
//! systems of the same kind (two oidc-provider servers standing in for two
//! Salesforce orgs), each its own card, connected, used and revoked on its own; the
//! user names them by id or by name, and a provider's name alone is ambiguous.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use latchkey_test_peers::{AuthServer, TestStore, peers_ready};
use serde_json::{Value, json};

mod common;
use common::{latchkey, text};

fn token(data: &Path, given: &str) -> String {
    let out = latchkey(data, &["token", given]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_of_one_provider_are_connected_used_and_revoked_apart() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let emea = AuthServer::start(3600);
    let us = AuthServer::start(3600);
    let store = TestStore::start().await;
    store
        .enable_demo_connection("demo-emea", "Demo — EMEA", Some(&emea.issuer))
        .await;
    store
        .enable_demo_connection("demo-us", "Demo — US", Some(&us.issuer))
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));

    // Two cards, each with the id a command takes and the admin's name.
    let out = latchkey(data, &["list"]);
    let listed = text(&out);
    assert!(
        listed.contains("demo-emea") && listed.contains("Demo — EMEA"),
        "{listed}"
    );
    assert!(
        listed.contains("demo-us") && listed.contains("Demo — US"),
        "{listed}"
    );
    let out = latchkey(data, &["list", "--json"]);
    let cards: Value = serde_json::from_slice(&out.stdout).unwrap();
    let providers: Vec<&str> = cards["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, vec!["demo-oauth", "demo-oauth"], "{cards}");

    // The provider's name fits both: the error lists the ids to choose from.
    let out = latchkey(data, &["connect", "Demo OAuth", "--timeout", "60"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("demo-emea") && said.contains("demo-us") && said.contains("could mean"),
        "{said}"
    );
    assert!(said.contains("session.ambiguous_connection"), "{said}");

    // By name (any case) and by id: each signs in at its own system.
    let out = latchkey(data, &["connect", "demo — emea", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Demo — EMEA"), "{}", text(&out));
    let out = latchkey(data, &["connect", "demo-us", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let emea_token = token(data, "demo-emea");
    let us_token = token(data, "Demo — US");
    assert_ne!(emea_token, us_token);
    assert!(emea.active("latchkey-static", &emea_token).await);
    assert!(!us.active("latchkey-static", &emea_token).await);
    assert!(us.active("latchkey-static", &us_token).await);

    // The server keeps one record per connection.
    let view = store.connections(&user_id).await;
    let connected: Vec<&str> = view["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["integration_id"].as_str().unwrap())
        .collect();
    assert!(
        connected.contains(&"demo-emea") && connected.contains(&"demo-us"),
        "{view}"
    );

    // Revoking one leaves the other connected and working.
    let out = latchkey(data, &["revoke", "Demo — EMEA"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!emea.active("latchkey-static", &emea_token).await);
    assert!(us.active("latchkey-static", &us_token).await);
    assert_eq!(token(data, "demo-us"), us_token);
    let out = latchkey(data, &["token", "demo-emea"]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let state_of = |id: &str| {
        status["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["status"]["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state_of("demo-us"), "connected", "{status}");
    assert_ne!(state_of("demo-emea"), "connected", "{status}");
}

/// A value the admin leaves blank (here the test server's issuer, as a Salesforce My
/// Domain would be) is asked of the user: `latchkey connect` says which and how, refuses
/// what the catalog's rules refuse, and connects with a good one, which the admin sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_left_blank_is_asked_at_connect() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let store = TestStore::start().await;
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({
                "enabled": true, "environment": "production", "client_id": "latchkey-static",
                "asked_at_connect": ["issuer"],
            })),
        )
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["list"]);
    assert!(text(&out).contains("needs"), "{}", text(&out));

    // Not given: the command says what and how.
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("--set issuer=") && said.contains("session.values_needed"),
        "{said}"
    );
    // Refused by the catalog's rules, or malformed: said, nothing kept.
    let out = latchkey(
        data,
        &["connect", "demo-oauth", "--set", "issuer=ftp://127.0.0.1:1"],
    );
    assert!(!out.status.success());
    // The server's reason, in the catalog's words.
    assert!(
        text(&out).contains("not a valid value for {issuer}") && text(&out).contains("https"),
        "{}",
        text(&out)
    );
    let out = latchkey(data, &["connect", "demo-oauth", "--set", "issuer"]);
    assert!(
        text(&out).contains("session.bad_argument"),
        "{}",
        text(&out)
    );
    // Given: signed in at that server.
    let set = format!("issuer={}", provider.issuer);
    let out = latchkey(
        data,
        &["connect", "demo-oauth", "--set", &set, "--timeout", "60"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(provider.active("latchkey-static", &token).await);
    let view = store.connections(&user_id).await;
    assert_eq!(
        view["values"]["demo-oauth"]["issuer"].as_str(),
        Some(provider.issuer.as_str()),
        "{view}"
    );
}
