//! The `latchkey` command end to end, every part real: the Latchkey server
//! (in this process, on SQLite), oidc-provider as the authorization server,
//! headless Chromium as the system browser (through `$BROWSER`), the OS
//! keychain (`make test` runs this inside a private Secret Service session),
//! and the `latchkey` binary itself, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use latchkey_test_peers::{AuthServer, TestStore, browser_script, files_containing, peers_ready};
use serde_json::{Value, json};

/// Everything the CLI printed, except the token that `latchkey token` is
/// asked to print, for the leak scan at the end.
static TRANSCRIPT: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Runs the real `latchkey` binary.
fn latchkey(data: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("BROWSER", browser_script())
        .env("RUST_LOG", "debug")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let mut transcript = TRANSCRIPT.lock().unwrap();
    if args.first() != Some(&"token") {
        transcript.extend_from_slice(&output.stdout);
    }
    transcript.extend_from_slice(&output.stderr);
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_connect_token_revoke_with_the_server_going_away() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(40);
    let mut store = TestStore::start().await;
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({
                "enabled": true,
                "environment": "production",
                "client_id": "latchkey-rotating",
                "params": { "issuer": provider.issuer },
            })),
        )
        .await;
    let invite = store
        .admin(
            reqwest::Method::POST,
            "/v1/admin/users",
            Some(json!({ "email": "ada@acme.example", "display_name": "Ada" })),
        )
        .await;
    let link = invite["enrollment"]["link"]
        .as_str()
        .expect("an enrollment link")
        .to_owned();
    let user_id = invite["user"]["id"].as_str().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    let data = home.path();

    // Enroll.
    let out = latchkey(data, &["enroll", &link, "--device-name", "ada-laptop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Enrolled this computer as ada@acme.example"),
        "{}",
        text(&out)
    );

    // List: enabled by the admin, not connected.
    let out = latchkey(data, &["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["integrations"][0]["id"], "demo-oauth");
    assert_eq!(list["integrations"][0]["status"]["state"], "not_connected");

    // Only the environment the admin enabled: refused before any browser opens.
    let out = latchkey(
        data,
        &[
            "connect",
            "demo-oauth",
            "--env",
            "login.demo.example",
            "--timeout",
            "5",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("enabled demo-oauth for production only, not login.demo.example"),
        "{}",
        text(&out)
    );

    // Connect through the browser.
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("connected as ada@acme.example"),
        "{}",
        text(&out)
    );
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        connections.to_string().contains("demo-oauth"),
        "the admin sees the connection: {connections}"
    );

    // A fresh token for scripts.
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(provider.active("latchkey-rotating", &token).await);

    // Two processes at once, when the token is due: exactly one refresh.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = provider.stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("--data-dir")
            .arg(data)
            .args(["token", "demo-oauth"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{} / {}",
        text(&a),
        text(&b)
    );
    assert_eq!(
        a.stdout, b.stdout,
        "both processes print the same fresh token"
    );
    let after = provider.stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        after - before,
        1,
        "exactly one refresh request reached the provider"
    );
    let fresh = String::from_utf8(a.stdout).unwrap().trim().to_owned();
    assert_ne!(fresh, token);

    // The server goes away during a revoke: the provider and this computer are done at once,
    // the server's copy is deleted when it is back.
    store.down().await;
    let out = latchkey(data, &["revoke", "demo-oauth", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["steps"][0]["outcome"], "done", "{report}");
    assert_eq!(report["steps"][1]["outcome"], "done", "{report}");
    assert_eq!(report["steps"][2]["outcome"], "queued", "{report}");
    assert!(
        !provider.active("latchkey-rotating", &fresh).await,
        "revoked at the provider"
    );
    store.up().await;
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 0, "{status}");
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        !connections.to_string().contains("\"connected\":true"),
        "deleted on the server too: {connections}"
    );

    // The server is down during a connect: it works, and syncs when the server is back.
    store.down().await;
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 1, "{status}");
    store.up().await;
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 0, "{status}");
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        connections.to_string().contains("demo-oauth"),
        "{connections}"
    );

    // No token in plaintext anywhere: the device's files, the server's database and data dir.
    let out = latchkey(data, &["token", "demo-oauth"]);
    let last = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let transcript = TRANSCRIPT.lock().unwrap().clone();
    assert!(transcript.len() > 1000, "debug logs were captured");
    for secret in [&token, &fresh, &last] {
        assert!(
            !transcript
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "a token was printed or logged"
        );
        assert!(
            files_containing(data, secret.as_bytes()).is_empty(),
            "a token is on the device in plaintext"
        );
        assert!(
            files_containing(store.dir(), secret.as_bytes()).is_empty(),
            "a token is on the server in plaintext"
        );
    }
    store.down().await;
}
