//! `latchkey search` end to end: the real binary, the real Latchkey server, and a
//! Salesforce-shaped provider (oidc-provider with SALESFORCE_SHAPE=1: sessions without
//! expires_in, SOSL under /services/data/v62.0/search, 401 INVALID_SESSION_ID when a
//! session has timed out). Results come with the user's own token, links on the org's
//! own host, and nothing of a search is left on disk or in the logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{latchkey, text};
use latchkey_test_peers::{AuthServer, TestStore, files_containing, peers_ready};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_asks_salesforce_with_the_users_token_and_keeps_nothing() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start_salesforce(10);
    let store = TestStore::start().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    let (link, _) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));

    // Nothing connected that can search: said plainly.
    let out = latchkey(data, &["search", "acme"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("None of your connected apps can search"),
        "{}",
        text(&out)
    );

    let out = latchkey(data, &["connect", "demo-salesforce", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));

    // Merged, ranked results with links on the org's own host.
    let out = latchkey(data, &["search", "acme", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = found["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{found}");
    assert_eq!(results[0]["integration"], "demo-salesforce");
    assert!(
        results
            .iter()
            .all(|r| r["title"].as_str().unwrap().starts_with("Acme")),
        "{found}"
    );
    let link = results[0]["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/lightning/r/Account/001", provider.issuer))
            && link.ends_with("/view"),
        "{link}"
    );
    assert_eq!(found["failures"], json!([]));
    assert!(
        !String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("acme"),
        "the query and titles stay out of the logs: {}",
        text(&out)
    );

    // Human output, and a contact found by a word inside its name.
    let out = latchkey(data, &["search", "lovelace"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("Ada Lovelace  [Demo Salesforce Contact]  2025-04-15"),
        "{said}"
    );

    // A one-letter query is refused in words, before anything is sent.
    let before = provider.stats().await["api"]["searches"]
        .as_u64()
        .unwrap_or(0);
    let out = latchkey(data, &["search", "a"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("at least two characters"),
        "{}",
        text(&out)
    );
    assert_eq!(
        provider.stats().await["api"]["searches"]
            .as_u64()
            .unwrap_or(0),
        before
    );

    // Filters: an app that is not connected matches nothing.
    let out = latchkey(data, &["search", "acme", "--in", "github"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("No connected app that can search matches github"),
        "{}",
        text(&out)
    );

    // The session times out (no expires_in said so): the search is refused once with
    // 401 INVALID_SESSION_ID, refreshes once, and answers.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let refreshes = provider.refreshes().await;
    let rejected = provider.stats().await["api"]["rejected"].as_u64().unwrap();
    let out = latchkey(data, &["search", "acme", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!found["results"].as_array().unwrap().is_empty(), "{found}");
    assert_eq!(provider.refreshes().await - refreshes, 1, "one refresh");
    assert!(provider.stats().await["api"]["rejected"].as_u64().unwrap() > rejected);

    // No index: nothing of the searches is on disk.
    // (The query "acme" is also the user's email domain, so the SOSL and titles stand in.)
    for needle in [
        b"Acme 1".as_slice(),
        b"Lovelace",
        b"Manufacturing",
        b"FIND",
        b"lightning/r",
    ] {
        assert_eq!(
            files_containing(data, needle),
            Vec::<std::path::PathBuf>::new(),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
}
