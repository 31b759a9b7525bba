//! `latchkey token` while the menu app runs: the real binary asks the app's token
//! agent (a private local socket) instead of deriving the vault key itself, and
//! gets what the app knows, errors included; without the app, it opens the vault.
//!
//! How the test tells the two paths apart: the CLI runs with the keychain out of
//! reach (no D-Bus session), so only an answer from the app can print a token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use latchkey_menu::Menu;
use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready};
use tokio_util::sync::CancellationToken;

mod common;
use common::{latchkey, text};

/// `latchkey token ARGS…` with no way to reach the keychain.
fn token_without_keychain(data: &Path, args: &[&str], agent: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command
        .arg("--data-dir")
        .arg(data)
        .arg("token")
        .args(args)
        .env("BROWSER", browser_script())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/latchkey-test-bus",
        )
        .env("RUST_LOG", "latchkey=debug")
        .env_remove("DISPLAY");
    if !agent {
        command.env("LATCHKEY_AGENT", "off");
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_takes_tokens_from_the_running_menu_app() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let store = TestStore::start().await;
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
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    let direct = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // No app running: without the keychain the CLI cannot open the vault.
    let out = token_without_keychain(data, &["demo-oauth"], true);
    assert_eq!(
        out.status.code(),
        Some(6),
        "a keychain failure: {}",
        text(&out)
    );
    assert!(!text(&out).contains(&direct));

    // The app runs and serves its session.
    let menu = Menu::new(
        data,
        Arc::new(latchkey_connect::SystemBrowser),
        Arc::new(|_| {}),
    );
    menu.load().await;
    let stop = CancellationToken::new();
    let serving = tokio::spawn(menu.clone().serve_tokens(stop.clone()));
    let socket = latchkey_device::token_agent::socket_path(data);
    for _ in 0..500 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let out = token_without_keychain(data, &["demo-oauth"], true);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap().trim(),
        direct
    );
    assert!(
        text(&out).contains("token from the menu app"),
        "{}",
        text(&out)
    );
    assert!(provider.active("latchkey-static", &direct).await);
    let out = token_without_keychain(data, &["demo-oauth", "--json"], true);
    assert!(out.status.success(), "{}", text(&out));
    let details: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(details["access_token"], direct.as_str());
    assert_eq!(details["token_type"], "Bearer");
    // `LATCHKEY_AGENT=off` opens the vault here, which needs the keychain.
    let out = token_without_keychain(data, &["demo-oauth"], false);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    // The admin disconnects Ada; once the app has heard (it follows the feed; here
    // it reloads), the CLI gets the app's answer with its code and exit status.
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/connections/demo-oauth"),
            None,
        )
        .await;
    menu.refresh().await;
    let out = token_without_keychain(data, &["demo-oauth"], true);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("Your admin disconnected Demo OAuth"),
        "{}",
        text(&out)
    );
    assert!(!provider.active("latchkey-static", &direct).await);

    // An integration the app has not loaded sends the CLI to the vault itself.
    let out = token_without_keychain(data, &["no-such-app"], true);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    // The app quits: its socket goes, and the CLI opens the vault again.
    stop.cancel();
    serving.await.unwrap();
    assert!(!socket.exists());
    let out = token_without_keychain(data, &["demo-oauth"], true);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
}
