//! An org connection from a user's computer, end to end: the real `latchkey` binary,
//! the real Latchkey server, and oidc-provider answering as Salesforce does (sessions
//! without expires_in, `instance_url`, SOSL under /services/data/v62.0/search). The
//! admin authorizes once through the console's flow; the user never signs in, never
//! holds a token, and searches and calls through the server's proxy, with links on the
//! org's own host (not the Latchkey server's) and nothing outside the allow-list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{latchkey, text};
use latchkey_test_peers::{AuthServer, TestStore, peers_ready};
use reqwest::Method;
use serde_json::{Value, json};

const CONNECTION: &str = "demo-salesforce";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_connection_searches_and_calls_through_the_server_with_the_orgs_links() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let store = TestStore::start().await;
    let idp = AuthServer::start_salesforce_for_org(300, "latchkey-org", &store.url());
    store
        .admin(
            Method::PUT,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            Some(json!({
                "enabled": true,
                "client_id": "latchkey-org",
                "params": { "issuer": idp.issuer },
                "api_paths": ["/search", "/query"],
                "org_wide": true,
            })),
        )
        .await;
    store
        .authorize_org_connection(CONNECTION, &idp, "ada@acme.example")
        .await;

    let (link, _) = store.invite("grace@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));

    // Connected by the admin: nothing to sign in to on this computer.
    let out = latchkey(data, &["list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("connected by your admin"),
        "{}",
        text(&out)
    );

    // Search goes through the server's proxy; the links are the org's own.
    let out = latchkey(data, &["search", "acme", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["failures"], json!([]), "{found}");
    let results = found["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{found}");
    assert_eq!(results[0]["integration"], CONNECTION);
    let first = results[0]["url"].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{}/lightning/r/Account/001", idp.issuer))
            && first.ends_with("/view"),
        "a link on the org's host, not the Latchkey server's ({}): {first}",
        store.url()
    );

    // An API call through the proxy, and a path outside the admin's allow-list refused.
    let out = latchkey(
        data,
        &[
            "api",
            CONNECTION,
            "query?q=SELECT+PermissionsApiEnabled+FROM+UserPermissionAccess",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PermissionsApiEnabled"),
        "{}",
        text(&out)
    );
    let out = latchkey(data, &["api", CONNECTION, "sobjects"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("path_not_allowed") || text(&out).contains("not allowed"),
        "{}",
        text(&out)
    );

    // No token on this computer: the server keeps the org's.
    let out = latchkey(data, &["token", CONNECTION]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("admin"), "{}", text(&out));

    // Every call is on the audit record with its path (never its query).
    let audit = store
        .admin(Method::GET, "/v1/admin/audit?action=proxy.request", None)
        .await;
    let paths: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"]["path"].as_str())
        .collect();
    assert!(paths.contains(&"/search"), "{audit}");
    assert!(
        !audit.to_string().contains("acme"),
        "the query stays out of the audit: {audit}"
    );
}
