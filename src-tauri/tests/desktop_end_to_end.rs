//! The real desktop app end to end, driven through its window with WebDriver
//! (`tauri-driver` over Debian's `WebKitWebDriver`) on a private Xvfb display:
//! a real Latchkey server (in this process; on SQLite, and on PostgreSQL when
//! `LATCHKEY_TEST_POSTGRES_URL` is set, as `make test` does), oidc-provider as the
//! provider, headless Chromium as the system browser (`$BROWSER`), and the OS
//! keychain (`make test` runs this inside a private Secret Service session).
//!
//! The app is launched with a `latchkey://enroll` link as its argument, as the
//! OS does when the user clicks the link; the test then enrolls, connects,
//! watches a card appear when the admin enables another integration, filters
//! with the search box, revokes, and checks the server at each step. Then the
//! kill switch with the window open: the admin disconnects Ada from an
//! integration (the card says so; the provider saw the refresh token revoked;
//! the admin sees the receipt), revokes her computer (the window offers to
//! enroll again; the copy is wiped, the grant kept for her other devices), and,
//! once she has enrolled again from the window, removes her (the leaver: the
//! grant revoked at the provider, every copy wiped, the receipt audited). It
//! saves a screenshot of each state in `test-output/desktop/`; copy them to
//! `docs/screenshots/` when they change.
//! Linux only: it needs Xvfb, tauri-driver and WebKitWebDriver (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::webdriver::{AppHome, card, launch, logging_browser, window_tools_ready};
use common::{Display, have};
use latchkey_test_peers::{AuthServer, Backend, TestStore, browser_script, peers_ready, repo_root};
use serde_json::{Value, json};

/// One story at a time: the app is a single instance per session bus, and the
/// fixed-port integration's callback listens on one port.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_and_revoke_through_the_real_window_on_sqlite() {
    connect_and_revoke_through_the_real_window(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_and_revoke_through_the_real_window_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        connect_and_revoke_through_the_real_window(backend).await;
    }
}

async fn connect_and_revoke_through_the_real_window(backend: Backend) {
    if !window_tools_ready(&[]) {
        return;
    }
    // One window at a time; the deadline starts once this test has the display.
    let _one_window = ONE_WINDOW.lock().await;
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();

    let provider = AuthServer::start(3600);
    let store = TestStore::start_on(backend).await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;

    // $BROWSER: the peers' Chromium, unless the test makes it a browser that opens nothing
    // visible (a remote session), by creating `no-browser` beside the data dir.
    let home = AppHome::new(|home| {
        format!(
            "[ -e '{}' ] && exit 0\nexec '{}' \"$@\"\n",
            home.join("no-browser").display(),
            browser_script().display()
        )
    });
    let (data, browser) = (home.data.clone(), home.browser.clone());
    let no_browser = home.path().join("no-browser");

    let display = Display::start();
    let (_driver, ui) = launch(&display, home.path(), &data, &browser, &link).await;

    // First launch from the link: onboarding shows the link's server, the
    // one-time code stays out of the page.
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;
    let code = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let source = ui.call(reqwest::Method::GET, "/source", None).await;
    assert!(!source.as_str().unwrap().contains(&code));
    ui.wait(".link-received", Duration::from_secs(10)).await;
    ui.screenshot(&shots, "onboarding").await;
    ui.click("[data-action=\"enroll\"]").await;

    // Enrolled: the card the admin enabled, not connected.
    ui.wait(
        &card("demo-oauth", "not_connected"),
        Duration::from_secs(60),
    )
    .await;
    ui.screenshot(&shots, "not-connected").await;

    // Connect: the system browser ($BROWSER = headless Chromium) signs in and
    // consents; the card turns Connected with who signed in.
    ui.click("[data-integration=\"demo-oauth\"] [data-action=\"connect\"]")
        .await;
    ui.wait(&card("demo-oauth", "connected"), Duration::from_secs(90))
        .await;
    let text = ui.text("[data-integration=\"demo-oauth\"]").await;
    assert!(text.contains("ada@acme.example"), "{text}");
    assert!(
        store
            .connections(&user_id)
            .await
            .to_string()
            .contains("demo-oauth"),
        "the server holds the sealed record"
    );
    ui.screenshot(&shots, "connected").await;

    // The admin enables another integration: its card appears by itself.
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth-fixed-port",
            Some(json!({
                "enabled": true, "environment": "production",
                "client_id": "latchkey-fixed-port",
                "params": { "issuer": provider.issuer },
            })),
        )
        .await;
    ui.wait(
        &card("demo-oauth-fixed-port", "not_connected"),
        Duration::from_secs(30),
    )
    .await;

    // The search box filters the list.
    ui.type_into("#search", "fixed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ui.visible("[data-integration=\"demo-oauth-fixed-port\"]")
            .await
    );
    assert!(!ui.visible("[data-integration=\"demo-oauth\"]").await);
    // Backspace five times, as a user would (WebDriver's "clear" fires no input event).
    ui.type_into("#search", &"\u{E003}".repeat(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ui.visible("[data-integration=\"demo-oauth\"]").await);

    // The browser opens nothing (a remote session): the card offers the sign-in link, Rust
    // puts it on the clipboard (never in the page), and opening it by hand connects.
    std::fs::write(&no_browser, b"").unwrap();
    ui.click("[data-integration=\"demo-oauth-fixed-port\"] [data-action=\"connect\"]")
        .await;
    ui.wait(
        "[data-integration=\"demo-oauth-fixed-port\"] [data-action=\"copy-link\"]",
        Duration::from_secs(30),
    )
    .await;
    ui.click("[data-integration=\"demo-oauth-fixed-port\"] [data-action=\"copy-link\"]")
        .await;
    let mut copied = String::new();
    for _ in 0..50 {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &display.name)
            .output()
            .unwrap();
        copied = String::from_utf8_lossy(&out.stdout).into_owned();
        if copied.starts_with("http") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        copied.starts_with(&format!("{}/auth?", provider.issuer)),
        "{copied:?}"
    );
    let page = ui.call(reqwest::Method::GET, "/source", None).await;
    let state = url::Url::parse(&copied)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert!(
        !page.as_str().unwrap().contains(&state),
        "the link stays out of the page"
    );
    ui.screenshot(&shots, "copy-sign-in-link").await;
    std::fs::remove_file(&no_browser).unwrap();
    latchkey_test_peers::open_in_peer_browser(&copied, &[]).unwrap();
    ui.wait(
        &card("demo-oauth-fixed-port", "connected"),
        Duration::from_secs(90),
    )
    .await;

    // Revoke asks first, then reports each step; the card and the server are empty.
    ui.click("[data-integration=\"demo-oauth\"] [data-action=\"revoke\"]")
        .await;
    ui.screenshot(&shots, "confirm-revoke").await;
    ui.click("[data-integration=\"demo-oauth\"] [data-action=\"confirm-revoke\"]")
        .await;
    ui.wait(
        &card("demo-oauth", "not_connected"),
        Duration::from_secs(60),
    )
    .await;
    let report = ui.text(".revoke-report").await;
    assert!(report.to_lowercase().contains("provider"), "{report}");
    assert!(
        !store
            .connections(&user_id)
            .await
            .to_string()
            .contains("\"demo-oauth\""),
        "the server holds no record after Revoke"
    );
    ui.screenshot(&shots, "revoked").await;

    // The kill switch, with the window open. The admin disconnects Ada from the
    // integration she connected through the copied link: the change feed tells the app,
    // which revokes the grant at the provider, wipes its copy, says so on the card (with
    // Connect to start again) and answers the order with a receipt the admin sees.
    let fixed_port = "[data-integration=\"demo-oauth-fixed-port\"]";
    let revoked_before = refresh_token_revocations(&provider).await;
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/connections/demo-oauth-fixed-port"),
            None,
        )
        .await;
    ui.wait(
        &card("demo-oauth-fixed-port", "disconnected_by_admin"),
        Duration::from_secs(60),
    )
    .await;
    let line = ui.text(&format!("{fixed_port} .status-text")).await;
    assert_eq!(line, "Your admin disconnected Demo OAuth (fixed callback)");
    assert!(
        ui.visible(&format!("{fixed_port} [data-action=\"connect\"]"))
            .await
    );
    assert_eq!(
        refresh_token_revocations(&provider).await,
        revoked_before + 1,
        "the provider revoked the refresh token"
    );
    let (view, order) =
        answered_order(&store, &user_id, "demo-oauth-fixed-port", "disconnect").await;
    assert_eq!(order["receipt"]["provider"], "revoked", "{view}");
    assert_eq!(order["receipt"]["local_wiped"], true, "{view}");
    assert_eq!(view["revocations_pending"], json!({}), "{view}");
    assert!(
        !view["connections"]
            .to_string()
            .contains("\"demo-oauth-fixed-port\""),
        "the server holds no record after the admin's disconnect: {view}"
    );
    ui.screenshot(&shots, "disconnected-by-admin").await;

    // Ada connects Demo OAuth again; then the admin revokes this computer. The app
    // carries out its last order (its copy wiped; the grant kept at the provider for
    // her other devices), forgets its token and offers to enroll again.
    ui.click("[data-integration=\"demo-oauth\"] [data-action=\"connect\"]")
        .await;
    ui.wait(&card("demo-oauth", "connected"), Duration::from_secs(90))
        .await;
    let sealed = sealed_copies(&data);
    assert_eq!(sealed.len(), 1, "one sealed copy on disk: {sealed:?}");
    let revocations_before = provider.stats().await["revocation"].as_u64().unwrap();
    let device_id = live_device(&store, &user_id).await;
    store
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/devices/{device_id}/revoke"),
            None,
        )
        .await;
    ui.wait("[data-phase=\"problem\"]", Duration::from_secs(60))
        .await;
    // The window says why and offers one way out: enroll again. Leaving notes why the
    // token is gone, so a later load (seconds later here, or the next start) says the
    // same, never that the token went missing from the keychain.
    ui.wait_text(
        ".problem-message",
        "Your admin revoked this computer",
        Duration::from_secs(30),
    )
    .await;
    let message = ui.text(".problem-message").await;
    assert!(!message.contains("keychain"), "{message}");
    assert_eq!(
        ui.text("[data-action=\"show-enroll\"]").await,
        "Enroll this computer again"
    );
    assert_eq!(sealed_copies(&data), Vec::<PathBuf>::new(), "copy wiped");
    let (view, order) = answered_order(&store, &user_id, "demo-oauth", "device_revoked").await;
    assert_eq!(order["receipt"]["provider"], "kept", "{view}");
    assert_eq!(order["receipt"]["local_wiped"], true, "{view}");
    assert_eq!(
        provider.stats().await["revocation"].as_u64().unwrap(),
        revocations_before,
        "the user's grant is not revoked at the provider when one computer is"
    );
    assert!(
        view["connections"].to_string().contains("\"demo-oauth\""),
        "the record stays on the server for Ada's other devices: {view}"
    );
    ui.screenshot(&shots, "device-revoked").await;

    // The leaver. Ada enrolls this computer again from the window with a new link (a new
    // device, with nothing connected yet) and connects Demo OAuth; then the admin removes her. The app carries out the last
    // order its token still opens: the grant revoked at the provider, every copy wiped,
    // a receipt in the audit log; it forgets its token and offers to enroll again.
    let again = store
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user_id}/enrollment"),
            None,
        )
        .await;
    ui.click("[data-action=\"show-enroll\"]").await;
    ui.type_into("#server", again["enrollment"]["link"].as_str().unwrap())
        .await;
    ui.click("[data-action=\"enroll\"]").await;
    ui.wait("[data-phase=\"ready\"]", Duration::from_secs(60))
        .await;
    let second_device = live_device(&store, &user_id).await;
    assert_ne!(second_device, device_id, "a new enrollment is a new device");
    ui.wait(
        &card("demo-oauth", "not_connected"),
        Duration::from_secs(30),
    )
    .await;
    ui.click("[data-integration=\"demo-oauth\"] [data-action=\"connect\"]")
        .await;
    ui.wait(&card("demo-oauth", "connected"), Duration::from_secs(90))
        .await;
    let sealed = sealed_copies(&data);
    assert_eq!(sealed.len(), 1, "one sealed copy on disk: {sealed:?}");
    let revoked_before = refresh_token_revocations(&provider).await;
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}"),
            None,
        )
        .await;
    ui.wait("[data-phase=\"problem\"]", Duration::from_secs(60))
        .await;
    assert_eq!(
        ui.text("[data-action=\"show-enroll\"]").await,
        "Enroll this computer again"
    );
    assert_eq!(
        refresh_token_revocations(&provider).await,
        revoked_before + 1,
        "the leaver's grant is revoked at the provider"
    );
    assert_eq!(
        sealed_copies(&data),
        Vec::<PathBuf>::new(),
        "every copy wiped"
    );
    let audit = store
        .admin(
            reqwest::Method::GET,
            "/v1/admin/audit?action=revocation.receipt",
            None,
        )
        .await;
    let receipts: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"] == second_device.as_str())
        .collect();
    assert_eq!(receipts.len(), 1, "{audit}");
    assert_eq!(receipts[0]["detail"]["provider"], "revoked", "{audit}");
    assert_eq!(receipts[0]["detail"]["local_wiped"], true, "{audit}");
    ui.wait_text(
        ".problem-message",
        "Your admin removed your account from Latchkey",
        Duration::from_secs(30),
    )
    .await;
    ui.screenshot(&shots, "user-removed").await;

    ui.call(reqwest::Method::DELETE, "", None).await;
    drop(display);
}

/// The id of `user_id`'s one device that is not revoked.
async fn live_device(store: &TestStore, user_id: &str) -> String {
    let devices = store
        .admin(reqwest::Method::GET, "/v1/admin/devices", None)
        .await;
    let live: Vec<&Value> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["user_id"] == user_id && d["revoked_at"].is_null())
        .collect();
    assert_eq!(live.len(), 1, "one live device for {user_id}: {devices}");
    live[0]["id"].as_str().unwrap().to_owned()
}

/// Successful refresh-token revocations that reached the provider so far.
async fn refresh_token_revocations(provider: &AuthServer) -> usize {
    provider.stats().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"] == "/token/revocation"
                && r["token_type_hint"] == "refresh_token"
                && r["status"] == 200
        })
        .count()
}

/// The sealed copies (`*.lkc`) under the device's data dir.
fn sealed_copies(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut sealed = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".lkc") {
                sealed.push(path);
            }
        }
    }
    sealed
}

/// The admin's view of `user_id`'s connections and the order for `integration` with
/// `reason`, once that order has its receipt (the device posts it just after it acts);
/// panics after 30 s.
async fn answered_order(
    store: &TestStore,
    user_id: &str,
    integration: &str,
    reason: &str,
) -> (Value, Value) {
    let start = Instant::now();
    loop {
        let view = store.connections(user_id).await;
        let answered = view["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["integration_id"] == integration
                    && o["reason"] == reason
                    && !o["receipt"].is_null()
            })
            .cloned();
        if let Some(order) = answered {
            return (view, order);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no receipt for {integration} ({reason}) after 30 s: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether the menu window is mapped on `display` (xdotool lists only visible windows).
fn window_visible(display: &Display) -> bool {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "^Latchkey$"])
        .env("DISPLAY", &display.name)
        .output()
        .unwrap();
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// An API that accepts connections and never answers: a provider too slow for search's
/// deadline. It lives as long as the returned task.
async fn hung_api() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (origin, task)
}

/// Federated search through the real window. Demo Salesforce (the Salesforce-shaped
/// oidc-provider, SOSL over its Accounts and a Contact) answers; Stripe, an API-key app
/// the admin connected, goes through the Latchkey server's proxy to an API that never
/// answers, so its row says "Stripe didn't answer in time" while Salesforce's results
/// stand. The page never holds a link or a record id: a result opens by its opaque id,
/// and the record's page reaches the system browser (`$BROWSER`, logged here). Then the
/// in: chip, Refresh past the cache, Escape hiding the window, and the global shortcut
/// (pressed with xdotool on the Xvfb display) bringing it back with the box focused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_through_the_real_window() {
    if !window_tools_ready(&[("xdotool", have("xdotool"))]) {
        return;
    }
    // One window at a time; the deadline starts once this test has the display.
    let _one_window = ONE_WINDOW.lock().await;
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();

    let provider = AuthServer::start_salesforce(3600);
    let (stripe_api, _stripe) = hung_api().await;
    let mut store = TestStore::start().await;
    // The proxy may call an http API on this computer (the stand-in for Stripe's).
    store.allow_http_proxy().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/stripe",
            Some(json!({
                "enabled": true,
                "api_key": "sk_test_LATCHKEY_SEARCH",
                "api_base_url": stripe_api,
                "api_paths": ["/v1/customers/search"],
            })),
        )
        .await;
    let (link, _) = store.invite("ada@acme.example").await;

    // $BROWSER: every URL the app opens is logged; sign-ins go on to the peers' Chromium.
    let home = AppHome::new(logging_browser);
    let (data, browser) = (home.data.clone(), home.browser.clone());
    let opened = home.path().join("opened.log");
    let opened_urls = || {
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("/lightning/"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    let display = Display::start();
    let (_driver, ui) = launch(&display, home.path(), &data, &browser, &link).await;
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;
    ui.click("[data-action=\"enroll\"]").await;
    ui.wait(
        &card("stripe", "connected_by_admin"),
        Duration::from_secs(60),
    )
    .await;
    ui.click("[data-integration=\"demo-salesforce\"] [data-action=\"connect\"]")
        .await;
    ui.wait(
        &card("demo-salesforce", "connected"),
        Duration::from_secs(90),
    )
    .await;

    // The home screen: the Recent Accounts widget, fetched in the background once
    // Salesforce is connected, with opaque row ids only; a row opens the record's page
    // (the most recently changed Account, Acme 1, comes first).
    let widget = "[data-widget=\"demo-salesforce/salesforce.recent_accounts\"]";
    ui.wait(&format!("{widget} .widget-row"), Duration::from_secs(30))
        .await;
    let rows = ui.content(&format!("{widget} .widget-rows")).await;
    assert!(rows.contains("Acme 1"), "{rows}");
    assert_eq!(
        ui.find_all(&format!("{widget} .widget-row")).await.len(),
        5,
        "five rows"
    );
    ui.screenshot(&shots, "widgets").await;
    let page = ui.source().await;
    for leak in [
        provider.issuer.trim_start_matches("http://"),
        "lightning",
        "001000",
    ] {
        assert!(!page.contains(leak), "{leak} is on the home screen");
    }
    ui.click(&format!("{widget} .widget-row")).await;
    let first = format!("{}/lightning/r/Account/001{:015}/view", provider.issuer, 1);
    let start = Instant::now();
    while !opened_urls().contains(&first) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{first} never reached the browser: {:?}",
            opened_urls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Hidden from the settings, it leaves the home screen.
    ui.click("[data-action=\"settings\"]").await;
    ui.click("[data-widget-choice=\"demo-salesforce/salesforce.recent_accounts\"]")
        .await;
    ui.click("[data-action=\"back\"]").await;
    ui.wait("[data-action=\"choose-widgets\"]", Duration::from_secs(5))
        .await;
    assert!(ui.find_all(widget).await.is_empty(), "the widget is hidden");

    // One query, both apps: Salesforce's results arrive while Stripe is still being
    // asked, then Stripe's row says it did not answer in time; the results stand.
    ui.type_into("#search", "acme").await;
    // (Typed slowly, "ac" and "acm" may be asked first: wait for the answer to "acme".)
    let salesforce = "section.search-results[data-query=\"acme\"] .result-group[data-integration=\"demo-salesforce\"]";
    let stripe =
        "section.search-results[data-query=\"acme\"] .result-group[data-integration=\"stripe\"]";
    ui.wait(
        &format!("{salesforce}[data-state=\"results\"] .result"),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        !ui.find_all(&format!("{stripe}[data-state=\"searching\"]"))
            .await
            .is_empty(),
        "Stripe is still being asked when Salesforce's results show: {}",
        ui.text("section.search-results").await
    );
    ui.wait(
        &format!("{stripe}[data-state=\"failed\"]"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        ui.text(&format!("{stripe} .app-failed")).await,
        "Stripe didn't answer in time"
    );
    // (WebDriver's visible-text reading skips text in an overflow: hidden box, as titles
    // are, to ellipsize: read their DOM text.)
    let titles = ui.content(salesforce).await;
    assert!(
        titles.contains("Acme 1") && titles.contains("Account · Manufacturing"),
        "{titles}"
    );
    assert!(ui.visible("[data-chip=\"demo-salesforce\"]").await);
    assert!(ui.visible("[data-chip=\"stripe\"]").await);
    ui.screenshot(&shots, "search").await;

    // The page holds titles and opaque ids: no link, no org address, no record id.
    let page = ui.source().await;
    let issuer_host = provider.issuer.trim_start_matches("http://");
    for leak in [issuer_host, "lightning", "001000", "003000", "sk_test_"] {
        assert!(!page.contains(leak), "{leak} is in the page");
    }

    // Keyboard: ↓ selects the second result, Enter opens it. Rust maps its opaque id to
    // the record's page on the org's host, which reaches the system browser.
    ui.type_into("#search", "\u{E015}").await;
    let selected = ui
        .content(".result[aria-selected=\"true\"] .result-title")
        .await;
    let n: u32 = selected
        .strip_prefix("Acme ")
        .unwrap_or_else(|| panic!("{selected}"))
        .parse()
        .unwrap();
    assert_ne!(n, 1, "the second result is selected, not the first");
    ui.type_into("#search", "\u{E007}").await;
    let want = format!("{}/lightning/r/Account/001{n:015}/view", provider.issuer);
    let start = Instant::now();
    while !opened_urls().contains(&want) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{want} never reached the browser: {:?}",
            opened_urls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A click opens too: the first result is Acme 1, the most recently changed.
    let opened_before = opened_urls().iter().filter(|u| **u == first).count();
    ui.click(".result-group[data-integration=\"demo-salesforce\"] .result")
        .await;
    let start = Instant::now();
    while opened_urls().iter().filter(|u| **u == first).count() == opened_before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{first} never reached the browser: {:?}",
            opened_urls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The chip narrows the search to one app (in:demo-salesforce): Stripe's row goes.
    ui.click("[data-chip=\"demo-salesforce\"]").await;
    ui.wait(
        "[data-chip=\"demo-salesforce\"][aria-pressed=\"true\"]",
        Duration::from_secs(5),
    )
    .await;
    let narrowed = "section.search-results[data-query=\"in:demo-salesforce acme \"]";
    ui.wait(
        &format!(
            "{narrowed} .result-group[data-integration=\"demo-salesforce\"][data-state=\"results\"]"
        ),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        ui.find_all(".result-group[data-integration=\"stripe\"]")
            .await
            .is_empty(),
        "Stripe's row went"
    );

    // The answer came from the five-minute cache; Refresh asks Salesforce again.
    let searches = provider.stats().await["api"]["searches"].as_u64().unwrap();
    ui.click("[data-action=\"refresh-search\"]").await;
    let start = Instant::now();
    while provider.stats().await["api"]["searches"].as_u64().unwrap() == searches {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Refresh asked nobody"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Escape closes the settings, then puts the window away; the global shortcut brings
    // it back with the search box focused, as from any other app.
    assert!(window_visible(&display));
    ui.click("[data-action=\"settings\"]").await;
    ui.wait("[data-view=\"settings\"]", Duration::from_secs(5))
        .await;
    ui.type_into("[data-action=\"settings\"]", "\u{E00C}").await;
    ui.wait("[data-view=\"ready\"]", Duration::from_secs(5))
        .await;
    assert_eq!(ui.active_id().await, "", "focus is on the settings button");
    ui.type_into("[data-action=\"settings\"]", "\u{E00C}").await;
    common::wait_for("the window to hide", Duration::from_secs(10), || {
        !window_visible(&display)
    });
    let pressed = Command::new("xdotool")
        .args(["key", "--clearmodifiers", "ctrl+shift+space"])
        .env("DISPLAY", &display.name)
        .status()
        .unwrap();
    assert!(pressed.success());
    common::wait_for(
        "the shortcut to show the window",
        Duration::from_secs(10),
        || window_visible(&display),
    );
    let start = Instant::now();
    while ui.active_id().await != "search" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the search box is not focused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ui.screenshot(&shots, "search-shortcut").await;

    // Settings change the shortcut: one that cannot be parsed is refused in words and the
    // old one stays; a new one works at once and is saved.
    // End, then backspace over the old text, as a user would.
    let clear = format!("\u{E010}{}", "\u{E003}".repeat(40));
    ui.click("[data-action=\"settings\"]").await;
    ui.type_into("#search-shortcut", &format!("{clear}Banana"))
        .await;
    ui.click("[data-action=\"save-shortcut\"]").await;
    ui.wait_text(
        ".settings .form-error",
        "Could not use the shortcut Banana",
        Duration::from_secs(10),
    )
    .await;
    ui.type_into(
        "#search-shortcut",
        &format!("{clear}CommandOrControl+Alt+K"),
    )
    .await;
    ui.click("[data-action=\"save-shortcut\"]").await;
    let saved = data.join("settings.json");
    common::wait_for(
        "the new shortcut to be saved",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&saved)
                .unwrap_or_default()
                .contains("CommandOrControl+Alt+K")
        },
    );
    ui.type_into("#search-shortcut", "\u{E00C}").await;
    ui.wait("[data-view=\"ready\"]", Duration::from_secs(5))
        .await;
    ui.type_into("[data-action=\"settings\"]", "\u{E00C}").await;
    common::wait_for("the window to hide", Duration::from_secs(10), || {
        !window_visible(&display)
    });
    let pressed = Command::new("xdotool")
        .args(["key", "--clearmodifiers", "ctrl+alt+k"])
        .env("DISPLAY", &display.name)
        .status()
        .unwrap();
    assert!(pressed.success());
    common::wait_for(
        "the new shortcut to show the window",
        Duration::from_secs(10),
        || window_visible(&display),
    );

    // Nothing of a search is on disk.
    for needle in [b"Acme 1".as_slice(), b"Manufacturing", b"lightning/r"] {
        assert_eq!(
            latchkey_test_peers::files_containing(&data, needle),
            Vec::<PathBuf>::new(),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    ui.call(reqwest::Method::DELETE, "", None).await;
    drop(display);
}

/// (process name, PSS, RSS) in KiB of the app launched with data dir `data` and each of
/// its descendants (WebKit's web and network processes), from `/proc`.
fn app_tree_memory(data: &Path) -> Vec<(String, u64, u64)> {
    let marker = format!("LATCHKEY_DATA_DIR={}", data.display());
    let procs: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let after = stat.rsplit_once(')')?.1;
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let app = procs
        .iter()
        .map(|(pid, _)| *pid)
        .find(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            comm.trim() == "latchkey-deskto"
                && env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes())
        })
        .expect("the app's process");
    let mut tree = vec![app];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(procs.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    let field = |rollup: &str, name: &str| -> u64 {
        rollup
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    tree.iter()
        .map(|pid| {
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (
                comm.trim().to_owned(),
                field(&rollup, "Pss:"),
                field(&rollup, "Rss:"),
            )
        })
        .collect()
}

/// The median of `n` samples of [`app_tree_memory`], one a second: the whole tree's
/// (PSS, RSS) and each process's PSS by name.
async fn idle_memory(data: &Path, n: usize) -> (u64, u64, Value) {
    let mut samples = Vec::new();
    for _ in 0..n {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(app_tree_memory(data));
    }
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let pss = median(
        samples
            .iter()
            .map(|s| s.iter().map(|p| p.1).sum())
            .collect(),
    );
    let rss = median(
        samples
            .iter()
            .map(|s| s.iter().map(|p| p.2).sum())
            .collect(),
    );
    let mut by_name = serde_json::Map::new();
    for (name, _, _) in &samples[0] {
        let of_name = samples
            .iter()
            .map(|s| s.iter().filter(|p| &p.0 == name).map(|p| p.1).sum())
            .collect();
        by_name.insert(name.clone(), json!(median(of_name)));
    }
    (pss, rss, Value::Object(by_name))
}

/// A benchmark, not a test (`make bench-search` runs it; `cargo test` skips it): the
/// menu's idle memory with search's five-minute cache full, next to the same app idle
/// before its first search. The real app (debug build) on Xvfb with a Salesforce-shaped
/// provider of 2,000 Accounts; [`QUERIES`] distinct queries fill the cache past its 256
/// entries. Each idle figure is taken with the window open and after a minute in the tray.
/// Writes `test-output/bench-search-memory.json` for scripts/bench-search.sh.
const QUERIES: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: make bench-search"]
async fn bench_menu_memory_with_a_full_search_cache() {
    assert!(
        window_tools_ready(&[]) && peers_ready().is_some(),
        "the benchmark needs the desktop test peers"
    );
    let _one_window = ONE_WINDOW.lock().await;
    let provider =
        AuthServer::start_with(3600, &[("SALESFORCE_SHAPE", "1"), ("SF_ACCOUNTS", "2000")]);
    let store = TestStore::start().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    let (link, _) = store.invite("ada@acme.example").await;
    let home = AppHome::new(logging_browser);
    let (data, browser) = (home.data.clone(), home.browser.clone());
    let display = Display::start();
    let (_driver, ui) = launch(&display, home.path(), &data, &browser, &link).await;
    ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
        .await;
    ui.click("[data-action=\"enroll\"]").await;
    ui.click("[data-integration=\"demo-salesforce\"] [data-action=\"connect\"]")
        .await;
    ui.wait(
        &card("demo-salesforce", "connected"),
        Duration::from_secs(90),
    )
    .await;
    ui.wait(".widget-row", Duration::from_secs(30)).await;

    // Idle, never searched: open, then put away in the tray (the menu's usual state).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let open_before = idle_memory(&data, 7).await;
    let hide = async || {
        ui.type_into("#search", "\u{E00C}").await;
        common::wait_for("the window to hide", Duration::from_secs(10), || {
            !window_visible(&display)
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
    };
    hide().await;
    let hidden_before = idle_memory(&data, 7).await;
    let pressed = Command::new("xdotool")
        .args(["key", "--clearmodifiers", "ctrl+shift+space"])
        .env("DISPLAY", &display.name)
        .status()
        .unwrap();
    assert!(pressed.success());
    common::wait_for("the window to show", Duration::from_secs(10), || {
        window_visible(&display)
    });

    // Fill the cache: each query typed over the last one, answered before the next;
    // more than the cache's 256 entries, with a sample half-way to show whether the
    // growth is bounded.
    let queries: Vec<String> = (1..=QUERIES).map(|n| format!("acme {n}")).collect();
    let mut typed = 0usize;
    let mut results = 0usize;
    let mut half_way = None;
    for (n, q) in queries.iter().enumerate() {
        if n == queries.len() / 2 {
            half_way = Some(idle_memory(&data, 3).await);
        }
        let keys = format!("{}{q}", "\u{E003}".repeat(typed));
        ui.type_into("#search", &keys).await;
        typed = q.chars().count();
        ui.wait(
            &format!("section.search-results[data-query=\"{q}\"][data-done=\"true\"]"),
            Duration::from_secs(20),
        )
        .await;
        results += ui.find_all(".result").await.len();
    }
    ui.type_into("#search", &"\u{E003}".repeat(typed)).await;
    ui.wait(".widget-row", Duration::from_secs(10)).await;

    // Idle again with the cache full: open, then in the tray.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let open_after = idle_memory(&data, 7).await;
    hide().await;
    let hidden_after = idle_memory(&data, 7).await;
    let sample = |(pss, rss, parts): (u64, u64, Value)| json!({ "pss_kib": pss, "rss_kib": rss, "pss_by_process_kib": parts });
    let report = json!({
        "queries": queries.len(),
        "results_shown": results,
        "searches_at_provider": provider.stats().await["api"]["searches"],
        "open_before": sample(open_before),
        "hidden_before": sample(hidden_before),
        "half_way": half_way.map(sample),
        "open_after": sample(open_after),
        "hidden_after": sample(hidden_after),
    });
    let out = repo_root().join("test-output");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bench-search-memory.json"), report.to_string()).unwrap();
    println!("{report}");
    ui.call(reqwest::Method::DELETE, "", None).await;
    drop(display);
}
