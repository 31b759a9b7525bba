//! Salesforce's five approvals per user and app, in the real desktop window (tauri-driver
//! over WebKitWebDriver on a private Xvfb display): Ada already holds grants of the
//! Salesforce-shaped connection on five other computers, so pressing Connect here would
//! sign the oldest of them out. The card says which computer before any browser opens;
//! "Not now" leaves everything as it was (no sign-in at the provider), and "Connect
//! anyway" signs in.
//! Linux only: it needs Xvfb, tauri-driver and WebKitWebDriver (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use base64::Engine;
use common::Display;
use common::webdriver::{AppHome, card, launch, window_tools_ready};
use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready, repo_root};
use serde_json::{Value, json};

const CONNECTION: &str = "demo-salesforce";

/// Enrolls another computer of `user_id` named `name` and stores a grant of the
/// connection there (a sealed record under its own vault key), as a sign-in would.
async fn grant_on_another_computer(store: &TestStore, user_id: &str, name: &str, n: usize) {
    let (code, _) = store.enrollment_code(user_id).await;
    let http = reqwest::Client::new();
    let enrolled: Value = http
        .post(format!("{}/v1/enroll", store.url()))
        .json(&json!({ "code": code, "device_name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled["device_token"].as_str().unwrap();
    let put = http
        .put(format!(
            "{}/v1/records/{CONNECTION}/production/vk-other-{n}",
            store.url()
        ))
        .bearer_auth(token)
        .header("If-None-Match", "*")
        .json(&json!({
            "envelope": base64::engine::general_purpose::STANDARD.encode(b"sealed elsewhere"),
            "new_grant": true,
        }))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_card_names_the_computer_a_sixth_approval_would_sign_out() {
    if !window_tools_ready(&[]) {
        return;
    }
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();
    let salesforce = AuthServer::start_salesforce(3600);
    let store = TestStore::start().await;
    store
        .enable_demo(CONNECTION, &salesforce.issuer, "latchkey-static")
        .await;
    let (_, user_id) = store.invite("ada@acme.example").await;
    for n in 1..=5 {
        grant_on_another_computer(&store, &user_id, &format!("Ada's computer {n}"), n).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A new code for this computer (a new code replaces the older ones).
    let (_, link) = store.enrollment_code(&user_id).await;

    let home = AppHome::new(|_| format!("exec '{}' \"$@\"\n", browser_script().display()));
    let (data, browser) = (home.data.clone(), home.browser.clone());
    let display = Display::start();
    let (_driver, ui) = launch(&display, home.path(), &data, &browser, &link).await;
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;
    ui.click("[data-action=\"enroll\"]").await;
    ui.wait(&card(CONNECTION, "not_connected"), Duration::from_secs(60))
        .await;

    // Connect asks first, naming the oldest of the five, before any browser opens.
    let connect = format!("[data-integration=\"{CONNECTION}\"] [data-action=\"connect\"]");
    ui.click(&connect).await;
    let asked = ui
        .wait_text(
            &format!("#approval-text-{CONNECTION}"),
            "Ada's computer 1",
            Duration::from_secs(30),
        )
        .await;
    assert!(asked.contains("Connect anyway?"), "{asked}");
    assert!(
        !asked.contains("Ada's computer 2"),
        "only the oldest: {asked}"
    );
    ui.screenshot(&shots, "approval-limit-asks-first").await;

    // Not now: nothing happened at the provider.
    ui.click(&format!(
        "[data-integration=\"{CONNECTION}\"] [data-action=\"not-now\"]"
    ))
    .await;
    ui.wait(&card(CONNECTION, "not_connected"), Duration::from_secs(10))
        .await;
    assert!(
        !ui.visible(&format!("#approval-{CONNECTION}")).await,
        "the question is gone"
    );
    assert_eq!(
        salesforce.stats().await["token_total"].as_u64().unwrap(),
        0,
        "no sign-in was made"
    );

    // Connect anyway: the sign-in goes ahead.
    ui.click(&connect).await;
    ui.wait(&format!("#approval-{CONNECTION}"), Duration::from_secs(30))
        .await;
    ui.click(&format!(
        "[data-integration=\"{CONNECTION}\"] [data-action=\"confirm-connect\"]"
    ))
    .await;
    ui.wait(&card(CONNECTION, "connected"), Duration::from_secs(90))
        .await;
    assert!(salesforce.stats().await["token_total"].as_u64().unwrap() > 0);
}
