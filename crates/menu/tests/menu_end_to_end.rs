//! The menu's model end to end with every part real: the Latchkey server (in
//! this process, SQLite), oidc-provider, headless Chromium as the system
//! browser, and the OS keychain (`make test` runs this in a private Secret
//! Service session). The desktop window's own test drives the same flows
//! through the webview; this one checks the states the window is told about.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_connect::{BrowserLauncher, ConnectError};
use latchkey_keychain::{Keychain, OsKeychain};
use latchkey_menu::{Menu, MenuState, Phase, ProblemAction, Settings};
use latchkey_test_peers::{AuthServer, TestStore, open_in_peer_browser, peers_ready};
use latchkey_vault::{DEFAULT_KEYCHAIN_SERVICE, UserIdentity};
use serde_json::Value;
use url::Url;

/// The peers' Chromium as the system browser, with a mode the test can switch.
#[derive(Default)]
struct PeerBrowser {
    env: Mutex<Vec<(String, String)>>,
    opened: Mutex<Vec<String>>,
    /// Plays a computer with no default browser (a remote session).
    broken: std::sync::atomic::AtomicBool,
}

impl PeerBrowser {
    fn mode(&self, env: &[(&str, &str)]) {
        *self.env.lock().unwrap() = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    }
}

impl BrowserLauncher for PeerBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        self.opened.lock().unwrap().push(url.to_string());
        if url.path().starts_with("/console") {
            return Ok(());
        }
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ConnectError::BrowserUnavailable {
                reason: "no method available for opening the link".into(),
            });
        }
        let env = self.env.lock().unwrap().clone();
        open_in_peer_browser(url.as_str(), &env).map_err(|e| ConnectError::BrowserUnavailable {
            reason: e.to_string(),
        })
    }
}

/// Every state the window was told about.
#[derive(Default)]
struct Window(Mutex<Vec<MenuState>>);

impl Window {
    fn seen(&self, f: impl Fn(&MenuState) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(f)
    }

    async fn wait_for(&self, what: &str, f: impl Fn(&MenuState) -> bool) {
        for _ in 0..300 {
            if self.0.lock().unwrap().last().is_some_and(&f) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the window was never told {what}; last: {:?}",
            self.0.lock().unwrap().last()
        );
    }
}

/// The state of card `id`, or "absent".
fn state_of(state: &MenuState, id: &str) -> String {
    state.integrations.iter().find(|v| v.id == id).map_or_else(
        || "absent".to_owned(),
        |v| v.status["state"].as_str().unwrap_or("").to_owned(),
    )
}

fn card<'a>(state: &'a MenuState, id: &str) -> &'a Value {
    &state
        .integrations
        .iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("no card {id} in {state:?}"))
        .status
}

async fn setup() -> (
    AuthServer,
    TestStore,
    tempfile::TempDir,
    Arc<PeerBrowser>,
    Arc<Window>,
    Arc<Menu>,
    String,
    String,
) {
    let provider = AuthServer::start(3600);
    let store = TestStore::start().await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Arc::new(PeerBrowser::default());
    let window = Arc::new(Window::default());
    let sink = window.clone();
    let menu = Menu::new(
        dir.path(),
        browser.clone(),
        Arc::new(move |s: &MenuState| sink.0.lock().unwrap().push(s.clone())),
    );
    (provider, store, dir, browser, window, menu, link, user_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn onboarding_connect_cancel_deny_revoke_and_live_updates() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (provider, store, dir, browser, window, menu, link, user_id) = setup().await;

    // First launch: onboarding, nothing else.
    let state = menu.load().await;
    assert_eq!(state.phase, Phase::Onboarding);
    assert!(state.account.is_none() && state.integrations.is_empty());

    // A latchkey://enroll link arrives (second launch or argv): the window
    // learns the server, never the one-time code.
    let code = Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let state = menu.receive_link(&link).unwrap();
    assert_eq!(state.enroll_prefill.as_ref().unwrap().server, store.url());
    assert!(!serde_json::to_string(&state).unwrap().contains(&code));

    // A bad link is refused in plain words and loses nothing.
    let err = menu.receive_link("latchkey://enroll?code=x").unwrap_err();
    assert_eq!(err.code(), "client.invalid_link");
    assert!(err.to_string().contains("names no server"), "{err}");
    assert!(menu.state().enroll_prefill.is_some());

    // Enroll with the received link: the cards appear.
    let state = menu.enroll(None, None, None).await.unwrap();
    assert_eq!(state.phase, Phase::Ready, "{state:?}");
    assert_eq!(state.account.as_ref().unwrap().email, "ada@acme.example");
    assert!(state.enroll_prefill.is_none());
    assert_eq!(card(&state, "demo-oauth")["state"], "not_connected");
    let view = &state.integrations[0];
    assert_eq!(
        (view.name.as_str(), view.environment_label.as_str()),
        ("Demo OAuth", "Production")
    );

    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(menu.clone().follow_changes(stop.clone()));

    // Connect: the window is told "connecting", then "connected as ...".
    let view = menu.connect("demo-oauth").await.unwrap();
    assert_eq!(view.status["state"], "connected", "{view:?}");
    assert_eq!(view.status["identity"], "ada@acme.example");
    assert!(window.seen(|s| state_of(s, "demo-oauth") == "connecting"));
    assert!(
        store
            .connections(&user_id)
            .await
            .to_string()
            .contains("demo-oauth")
    );

    // No state the window was ever told holds the token (read here the way
    // the CLI's `latchkey token` does).
    let device = latchkey_device::Device::load(dir.path()).unwrap();
    let session = latchkey_device::Session::open(&device, dir.path(), browser.clone())
        .await
        .unwrap();
    let token = session.access_token("demo-oauth", None).await.unwrap();
    assert!(token.expose().len() >= 16);
    for s in window.0.lock().unwrap().iter() {
        let json = serde_json::to_string(s).unwrap();
        assert!(
            !json.contains(token.expose()),
            "the token reached the window"
        );
        assert!(!json.contains("access_token") && !json.contains("refresh_token"));
    }
    drop(session);

    // Live update: the admin enables a second integration; the window is told
    // without anyone pressing anything.
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth-fixed-port",
            Some(serde_json::json!({
                "enabled": true, "environment": "production",
                "client_id": "latchkey-fixed-port",
                "params": { "issuer": provider.issuer },
            })),
        )
        .await;
    window
        .wait_for("about the newly enabled integration", |s| {
            s.integrations
                .iter()
                .any(|v| v.id == "demo-oauth-fixed-port")
        })
        .await;

    // Cancel: the browser opens but nobody signs in; Cancel ends the wait and
    // the card goes back to "not connected" without an error.
    browser.mode(&[("LATCHKEY_TEST_BROWSER_MODE", "open-only")]);
    let pending = tokio::spawn({
        let menu = menu.clone();
        async move { menu.connect("demo-oauth-fixed-port").await }
    });
    window
        .wait_for("connecting", |s| {
            state_of(s, "demo-oauth-fixed-port") == "connecting"
        })
        .await;
    let again = menu.connect("demo-oauth-fixed-port").await.unwrap_err();
    assert_eq!(again.code(), "menu.already_connecting");
    menu.cancel_connect("demo-oauth-fixed-port");
    let err = pending.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "connect.cancelled");
    assert_eq!(
        card(&menu.state(), "demo-oauth-fixed-port")["state"],
        "not_connected"
    );

    // Denied at the provider: the card says so, in words, until the next try.
    browser.mode(&[("LATCHKEY_TEST_CONSENT", "deny")]);
    let err = menu.connect("demo-oauth-fixed-port").await.unwrap_err();
    assert_eq!(err.code(), "connect.denied");
    let status = card(&menu.state(), "demo-oauth-fixed-port").clone();
    assert_eq!(status["state"], "error");
    assert_eq!(status["code"], "connect.denied");
    assert!(!status["message"].as_str().unwrap().is_empty());
    browser.mode(&[]);

    // No browser opens (a remote session): the sign-in keeps waiting, the card says so
    // and offers the link, which the user opens in a browser by hand.
    browser
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let pending = tokio::spawn({
        let menu = menu.clone();
        async move { menu.connect("demo-oauth-fixed-port").await }
    });
    window
        .wait_for("the browser failure and the link", |s| {
            let c = card(s, "demo-oauth-fixed-port");
            c["state"] == "connecting"
                && c["sign_in_link"] == true
                && c["browser_failed"].is_string()
        })
        .await;
    let link = menu.sign_in_link("demo-oauth-fixed-port").unwrap();
    assert!(link.as_str().starts_with(&provider.issuer), "{link}");
    browser
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    open_in_peer_browser(link.as_str(), &[]).unwrap();
    pending.await.unwrap().unwrap();
    assert_eq!(
        card(&menu.state(), "demo-oauth-fixed-port")["state"],
        "connected"
    );
    let gone = menu.sign_in_link("demo-oauth-fixed-port").unwrap_err();
    assert_eq!(gone.code(), "menu.no_sign_in");

    // Revoke: every step reported, the card and the server are empty.
    let report = menu.revoke("demo-oauth").await.unwrap();
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.outcome == "done" || s.outcome == "skipped"),
        "{report:?}"
    );
    assert_eq!(card(&menu.state(), "demo-oauth")["state"], "not_connected");
    assert!(
        !store
            .connections(&user_id)
            .await
            .to_string()
            .contains("\"demo-oauth\"")
    );

    // The admin console opens at the server's /console/, checked first.
    menu.open_console().unwrap();
    assert_eq!(
        browser.opened.lock().unwrap().last().unwrap(),
        &format!("{}/console/", store.url())
    );

    // Settings persist next to the vault.
    let saved = menu
        .set_settings(Settings {
            start_at_login: true,
            hide_on_blur: false,
            ..Settings::default()
        })
        .unwrap();
    assert_eq!(menu.settings(), saved);

    // The admin disconnects Ada from an integration: the feed wakes the menu, which
    // revokes at the provider, wipes the copy, says so on the card and answers the order.
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/connections/demo-oauth-fixed-port"),
            None,
        )
        .await;
    window
        .wait_for("that the admin disconnected the fixed-port card", |s| {
            card(s, "demo-oauth-fixed-port")["state"] == "disconnected_by_admin"
        })
        .await;
    let mut receipt = Value::Null;
    for _ in 0..50 {
        let view = store.connections(&user_id).await;
        receipt = view["revocations"][0]["receipt"].clone();
        if !receipt.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receipt["provider"], "revoked", "{receipt}");
    assert_eq!(receipt["local_wiped"], true);

    // The admin revokes this device: the feed says so and the window offers
    // to enroll again instead of going blank.
    let devices = store
        .admin(reqwest::Method::GET, "/v1/admin/devices", None)
        .await;
    let device_id = devices["devices"][0]["id"].as_str().unwrap().to_owned();
    store
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/devices/{device_id}/revoke"),
            None,
        )
        .await;
    window
        .wait_for("that this computer was revoked", |s| {
            s.phase == Phase::Problem && s.problem.as_ref().unwrap().action == ProblemAction::Enroll
        })
        .await;
    stop.cancel();
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_vault_key_is_said_plainly_and_a_new_key_gets_the_user_going() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (_provider, store, _dir, _browser, _window, menu, link, user_id) = setup().await;
    menu.load().await;
    menu.enroll(Some(&link), None, None).await.unwrap();
    menu.connect("demo-oauth").await.unwrap();

    // The salt disappears from the keychain (a wiped keyring, a new login).
    let identity = UserIdentity::new(&store.url(), &user_id).unwrap();
    OsKeychain::new(DEFAULT_KEYCHAIN_SERVICE)
        .delete(&identity.keychain_account())
        .unwrap();
    let state = menu.refresh().await;
    assert_eq!(state.phase, Phase::Problem, "{state:?}");
    let problem = state.problem.unwrap();
    assert_eq!(problem.code, "vault.salt_missing");
    assert_eq!(problem.action, ProblemAction::ResetVault);
    assert!(problem.message.contains("Connect"), "{}", problem.message);
    assert!(state.integrations.is_empty());

    // The way out: a new key; the old connection is void and says so.
    let state = menu.reset_vault().await.unwrap();
    assert_eq!(state.phase, Phase::Ready, "{state:?}");
    assert_eq!(card(&state, "demo-oauth")["state"], "not_connected");
    let view = menu.connect("demo-oauth").await.unwrap();
    assert_eq!(view.status["state"], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_without_input_or_with_a_dead_code_explains_what_to_do() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (_provider, store, _dir, _browser, _window, menu, _link, _user) = setup().await;
    menu.load().await;
    let err = menu.enroll(None, None, None).await.unwrap_err();
    assert_eq!(err.code(), "menu.enroll_input_missing");
    let err = menu
        .enroll(None, Some(&store.url()), Some("not-a-real-code"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin"), "{err}");
    assert_eq!(menu.state().phase, Phase::Onboarding);
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["code"], err.code());
    assert_eq!(json["needs_reconnect"], false);
    let err = menu.connect("demo-oauth").await.unwrap_err();
    assert_eq!(err.code(), "menu.not_enrolled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offline_shows_the_remembered_cards_and_recovers_by_itself() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (_provider, mut store, _dir, _browser, window, menu, link, _user) = setup().await;
    menu.load().await;
    menu.enroll(Some(&link), None, None).await.unwrap();
    menu.connect("demo-oauth").await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(menu.clone().follow_changes(stop.clone()));

    // The server goes away: the cards stay (from this computer's cache), with
    // the reason, and the connection is still there.
    store.down().await;
    let state = menu.refresh().await;
    assert_eq!(state.phase, Phase::Ready, "{state:?}");
    assert!(state.offline.is_some(), "{state:?}");
    assert_eq!(card(&state, "demo-oauth")["state"], "connected");

    // It comes back: the banner clears without anyone pressing anything.
    store.up().await;
    window
        .wait_for("that the server is back", |s| {
            s.offline.is_none() && s.phase == Phase::Ready
        })
        .await;
    stop.cancel();
}

/// Runs [`keychain_child`] in a process whose D-Bus session does not exist,
/// so the real OS keychain is unreachable (it cannot be switched off in-process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_keychain_is_a_problem_with_a_retry_never_a_blank_window() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (_provider, _store, dir, _browser, _window, menu, link, _user) = setup().await;
    menu.load().await;
    menu.enroll(Some(&link), None, None).await.unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "keychain_child", "--ignored", "--nocapture"])
        .env("LATCHKEY_MENU_TEST_DIR", dir.path())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/latchkey-test-bus",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("STATE "))
        .unwrap_or_else(|| panic!("the child printed no state: {text}"));
    let state: Value = serde_json::from_str(line).unwrap();
    assert_eq!(state["phase"], "problem", "{state}");
    assert_eq!(state["problem"]["action"], "retry", "{state}");
    assert!(
        state["problem"]["code"]
            .as_str()
            .unwrap()
            .starts_with("keychain."),
        "{state}"
    );
    assert!(
        state["problem"]["message"]
            .as_str()
            .unwrap()
            .contains("keychain"),
        "{state}"
    );
}

#[tokio::test]
#[ignore = "run as a child process by an_unreachable_keychain_is_a_problem_with_a_retry_never_a_blank_window"]
async fn keychain_child() {
    let dir = std::path::PathBuf::from(std::env::var_os("LATCHKEY_MENU_TEST_DIR").unwrap());
    let menu = Menu::new(
        &dir,
        Arc::new(PeerBrowser::default()),
        Arc::new(|_: &MenuState| {}),
    );
    let state = menu.load().await;
    println!("STATE {}", serde_json::to_string(&state).unwrap());
}
