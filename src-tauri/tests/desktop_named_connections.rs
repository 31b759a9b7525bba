//! Two connections of one provider in the real desktop window (tauri-driver over
//! WebKitWebDriver on a private Xvfb display): an org's two systems of the same kind
//! (two oidc-provider servers standing in for two Salesforce orgs) are two cards with
//! the admin's names; connecting one leaves the other as it was, and the server keeps
//! one record per connection. A third connection of the provider asks the user for a
//! value the admin left blank (its server's issuer, as a Salesforce My Domain would be):
//! the card asks, refuses a bad value with the server's reason, and connects with a good
//! one.
//! Linux only: it needs Xvfb, tauri-driver and WebKitWebDriver (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Display;
use common::webdriver::{AppHome, card, launch, window_tools_ready};
use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready, repo_root};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cards_of_one_provider_connect_apart() {
    if !window_tools_ready(&[]) {
        return;
    }
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();
    let emea = AuthServer::start(3600);
    let us = AuthServer::start(3600);
    let asked = AuthServer::start(3600);
    let store = TestStore::start().await;
    store
        .enable_demo_connection("demo-emea", "Demo — EMEA", Some(&emea.issuer))
        .await;
    store
        .enable_demo_connection("demo-us", "Demo — US", Some(&us.issuer))
        .await;
    store
        .enable_demo_connection("demo-ask", "Demo — ask me", None)
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let home = AppHome::new(|_| format!("exec '{}' \"$@\"\n", browser_script().display()));
    let (data, browser) = (home.data.clone(), home.browser.clone());
    let display = Display::start();
    let (_driver, ui) = launch(&display, home.path(), &data, &browser, &link).await;
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;
    ui.click("[data-action=\"enroll\"]").await;

    // Two cards, each with the admin's name for it.
    ui.wait(&card("demo-emea", "not_connected"), Duration::from_secs(60))
        .await;
    ui.wait(&card("demo-us", "not_connected"), Duration::from_secs(10))
        .await;
    ui.screenshot(&shots, "two-cards-of-one-provider").await;
    let emea_card = ui
        .content("[data-integration=\"demo-emea\"] .card-name")
        .await;
    let us_card = ui
        .content("[data-integration=\"demo-us\"] .card-name")
        .await;
    assert!(emea_card.contains("Demo — EMEA"), "{emea_card}");
    assert!(us_card.contains("Demo — US"), "{us_card}");

    // Connecting the US system signs in there; the EMEA card stays as it was.
    ui.click("[data-integration=\"demo-us\"] [data-action=\"connect\"]")
        .await;
    ui.wait(&card("demo-us", "connected"), Duration::from_secs(90))
        .await;
    assert!(
        ui.visible(&card("demo-emea", "not_connected")).await,
        "the other connection is untouched"
    );
    ui.screenshot(&shots, "two-connections-of-one-provider")
        .await;
    let view = store.connections(&user_id).await;
    let records: Vec<&str> = view["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "oauth")
        .map(|c| c["integration_id"].as_str().unwrap())
        .collect();
    assert_eq!(records, vec!["demo-us"], "{view}");
    assert!(us.stats().await["token_total"].as_u64().unwrap() > 0);
    assert_eq!(emea.stats().await["token_total"].as_u64().unwrap(), 0);

    // The value the admin left blank: the card asks for it.
    let ask = "[data-integration=\"demo-ask\"]";
    ui.wait(&card("demo-ask", "needs_values"), Duration::from_secs(10))
        .await;
    ui.type_into(
        &format!("{ask} input[data-value=\"issuer\"]"),
        "ftp://127.0.0.1:1",
    )
    .await;
    ui.click(&format!("{ask} [data-action=\"give-values\"]"))
        .await;
    ui.wait_text(
        &format!("{ask} .card-error"),
        "issuer",
        Duration::from_secs(20),
    )
    .await;
    ui.screenshot(&shots, "value-asked-at-connect").await;
    let field = format!("{ask} input[data-value=\"issuer\"]");
    let e = ui.wait(&field, Duration::from_secs(5)).await;
    ui.call(
        reqwest::Method::POST,
        &format!("/element/{e}/clear"),
        Some(json!({})),
    )
    .await;
    ui.type_into(&field, &asked.issuer).await;
    ui.click(&format!("{ask} [data-action=\"give-values\"]"))
        .await;
    ui.wait(&card("demo-ask", "connected"), Duration::from_secs(90))
        .await;
    assert!(asked.stats().await["token_total"].as_u64().unwrap() > 0);
    let view = store.connections(&user_id).await;
    assert_eq!(
        view["values"]["demo-ask"]["issuer"].as_str(),
        Some(asked.issuer.as_str()),
        "{view}"
    );
}
