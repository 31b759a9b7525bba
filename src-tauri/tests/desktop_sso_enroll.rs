//! Enrolling with the company account through the real window: the real app (debug
//! build) on a private Xvfb display, driven with WebDriver; the real Latchkey server
//! with company sign-in; oidc-provider as the company's identity provider; headless
//! Chromium as the system browser (`$BROWSER`), signing in as the user. Only the
//! server's address is typed: the browser signs in, the server hands the app a one-time
//! code on its loopback listener, and the cards appear.
//! Linux only: it needs Xvfb, tauri-driver and WebKitWebDriver (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Display;
use common::webdriver::{AppHome, launch_with, window_tools_ready};
use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready};
use serde_json::json;

const CLIENT_ID: &str = "latchkey-sso";
const CLIENT_SECRET: &str = "a-client-secret-only-the-server-knows";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_with_the_company_account_through_the_real_window() {
    if !window_tools_ready(&[]) {
        return;
    }
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = latchkey_test_peers::repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();

    let mut store = TestStore::start().await;
    let clients = json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "application_type": "web",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [format!("{}/v1/console/sso/callback", store.url())],
    }])
    .to_string();
    let idp = AuthServer::start_with(
        3600,
        &[
            ("OIDC_EXTRA_CLIENTS", clients.as_str()),
            ("OIDC_USERS", "{}"),
            ("OIDC_FULL_ID_TOKEN", "1"),
        ],
    );
    let provider = AuthServer::start(3600);
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (_link, user_id) = store.invite("ada@acme.example").await;

    // $BROWSER: the peers' Chromium, signing in at the identity provider as Ada; a browser
    // that opens nothing while `no-browser` exists beside the data dir.
    let home = AppHome::new(|home| {
        format!(
            "[ -e '{}' ] && exit 0\nexec '{}' \"$@\"\n",
            home.join("no-browser").display(),
            browser_script().display()
        )
    });
    let no_browser = home.path().join("no-browser");
    let display = Display::start();
    let browser = home.browser.to_str().unwrap().to_owned();
    let (_driver, ui) = launch_with(
        &display,
        home.path(),
        &home.data,
        &home.browser,
        &[],
        &[
            ("LATCHKEY_TEST_LOGIN", "ada@acme.example"),
            ("BROWSER", &browser),
        ],
    )
    .await;
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;

    // Without a server there is nothing to sign in to: the screen says so.
    ui.click("[data-action=\"enroll-sso\"]").await;
    ui.wait_text(".form-error", "server URL", Duration::from_secs(10))
        .await;

    // A server without company sign-in says so at once, rather than sending the browser
    // to an error page and waiting.
    ui.type_into("#server", &store.url()).await;
    ui.click("[data-action=\"enroll-sso\"]").await;
    ui.wait_text(
        ".form-error",
        "does not offer sign-in with a company account",
        Duration::from_secs(20),
    )
    .await;

    store
        .with_sso(&[
            ("issuer", idp.issuer.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("token_endpoint_auth", "client_secret_basic"),
            ("allowed_domains", "acme.example"),
        ])
        .await;

    // The browser opens nothing: the screen waits, and Cancel ends the wait quietly.
    std::fs::write(&no_browser, b"").unwrap();
    ui.click("[data-action=\"enroll-sso\"]").await;
    ui.wait("[data-sso-waiting]", Duration::from_secs(20)).await;
    ui.screenshot(&shots, "onboarding-sso").await;
    ui.click("[data-action=\"cancel-sso\"]").await;
    ui.wait("[data-action=\"enroll-sso\"]", Duration::from_secs(20))
        .await;
    assert!(
        ui.find_all(".form-error").await.is_empty(),
        "a cancel is no error"
    );
    std::fs::remove_file(&no_browser).unwrap();

    // Then the company sign-in for real: nothing but the server's address was typed.
    ui.click("[data-action=\"enroll-sso\"]").await;
    ui.wait(
        "article.card[data-integration=\"demo-oauth\"][data-state=\"not_connected\"]",
        Duration::from_secs(90),
    )
    .await;
    let page = ui.source().await;
    assert!(page.contains("ada@acme.example"), "enrolled as Ada: {page}");
    ui.screenshot(&shots, "enrolled-sso").await;
    let devices = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/devices?user_id={user_id}"),
            None,
        )
        .await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1, "{devices}");
    // Nothing the sign-in used reached the page.
    for secret in [CLIENT_SECRET, "lko_", "code_verifier"] {
        assert!(!page.contains(secret), "{secret} in the page");
    }
    ui.call(reqwest::Method::DELETE, "", None).await;
    drop(display);
}
