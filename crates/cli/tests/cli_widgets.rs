//! `latchkey widgets` end to end against a Salesforce-shaped org: the first refresh
//! fetches the newest Accounts, the second only what changed (a renamed Account comes
//! first, a deleted one goes), the snapshot on disk is sealed (no Account name in any
//! file), it shows offline-fast without a refresh, and revoking wipes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{latchkey, text};
use latchkey_test_peers::{AuthServer, TestStore, files_containing, peers_ready};
use serde_json::{Value, json};

fn titles(widgets: &Value) -> Vec<String> {
    widgets["widgets"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recent_accounts_sync_incrementally_stay_sealed_and_go_with_a_revoke() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start_salesforce(3600);
    let store = TestStore::start().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    let (link, _) = store.invite("ada@example.org").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    assert!(latchkey(data, &["enroll", &link]).status.success());
    let out = latchkey(data, &["connect", "demo-salesforce", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));

    // Not fetched yet.
    let out = latchkey(data, &["widgets", "--json"]);
    let widgets: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        widgets["widgets"][0]["widget"], "salesforce.recent_accounts",
        "{widgets}"
    );
    assert_eq!(widgets["widgets"][0]["items"], Value::Null);

    // First refresh: the newest Accounts.
    let out = latchkey(data, &["widgets", "--refresh", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        titles(&first),
        ["Acme 1", "Acme 2", "Acme 3", "Acme 4", "Acme 5"]
    );
    assert_eq!(first["widgets"][0]["fetched"], 5);

    // Someone renames one Account and deletes another; the second refresh fetches only
    // those two rows.
    provider
        .salesforce_change(&[("Acme 4", "Acme Four")], &["Acme 2"])
        .await;
    let rows_before = provider.stats().await["api"]["rows"].as_u64().unwrap();
    let out = latchkey(data, &["widgets", "--refresh", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(titles(&second), ["Acme Four", "Acme 1", "Acme 3", "Acme 5"]);
    assert_eq!(second["widgets"][0]["fetched"], 2, "{second}");
    assert_eq!(
        provider.stats().await["api"]["rows"].as_u64().unwrap() - rows_before,
        2,
        "the provider sent only the changed rows"
    );

    // Without a refresh: straight from the sealed snapshot, no request.
    let requests = provider.stats().await["api"]["requests"].as_u64().unwrap();
    let out = latchkey(data, &["widgets"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Acme Four  (Manufacturing)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        provider.stats().await["api"]["requests"].as_u64().unwrap(),
        requests
    );
    // Sealed: no Account name in any file.
    assert_eq!(
        files_containing(data, b"Acme"),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(
        data.join("widgets").read_dir().unwrap().next().is_some(),
        "a snapshot is there"
    );

    // The admin offers no widget for it by default: the computer shows none.
    let set = |widgets: Value| {
        let store = &store;
        let issuer = provider.issuer.clone();
        async move {
            store
                .admin(
                    reqwest::Method::PUT,
                    "/v1/admin/integrations/demo-salesforce",
                    Some(json!({
                        "enabled": true, "environment": "production",
                        "client_id": "latchkey-static", "params": { "issuer": issuer },
                        "default_widgets": widgets,
                    })),
                )
                .await
        }
    };
    set(json!([])).await;
    let out = latchkey(data, &["widgets", "--json"]);
    let none: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(none["widgets"], json!([]), "{none}");
    set(Value::Null).await;
    let out = latchkey(data, &["widgets", "--json"]);
    let back: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        titles(&back)[0],
        "Acme Four",
        "the sealed snapshot is still there"
    );

    // Revoke: the snapshot goes with the tokens.
    let out = latchkey(data, &["revoke", "demo-salesforce"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        data.join("widgets").read_dir().unwrap().next().is_none(),
        "wiped"
    );
}
