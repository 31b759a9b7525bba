//! The menu's home-screen widgets end to end with every part real: the Latchkey server
//! (in this process, SQLite), a Salesforce-shaped oidc-provider (Accounts "Acme 1…N"
//! with `SystemModstamp`, `query`/`queryAll` and its error bodies), headless Chromium for
//! the sign-in, and the OS keychain. It checks that the background loop fetches a widget
//! and then leaves the app alone until it is due, that the window gets titles and opaque
//! ids only, that a row opens through the system-browser hook, that a failing refresh
//! keeps the rows and says why, that the user's choice (and the admin's default) decide
//! what is shown and fetched, and that a revoke takes the widget, its ids and its sealed
//! snapshot away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Browser;
use latchkey_menu::{Menu, Settings, WIDGET_ROWS, WidgetCard, WidgetSink};
use latchkey_test_peers::{AuthServer, TestStore, files_containing, peers_ready};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

const KEY: &str = "demo-salesforce/salesforce.recent_accounts";

/// Every list of cards the window was sent.
#[derive(Default)]
struct Window(Mutex<Vec<Vec<WidgetCard>>>);

impl Window {
    /// The first card sent that satisfies `ready`; panics after 20 s.
    async fn wait_for(&self, ready: impl Fn(&WidgetCard) -> bool) -> WidgetCard {
        let start = Instant::now();
        loop {
            if let Some(card) = self.0.lock().unwrap().iter().flatten().find(|c| ready(c)) {
                return card.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "never sent: {:?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn api_requests(provider: &AuthServer) -> u64 {
    provider.stats().await["api"]["requests"].as_u64().unwrap()
}

fn titles(card: &WidgetCard) -> Vec<String> {
    card.rows.iter().map(|r| r.title.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn widgets_refresh_in_the_background_open_by_opaque_id_follow_the_users_choice_and_go_with_a_revoke()
 {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start_salesforce(3600);
    let store = TestStore::start().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    let (link, _) = store.invite("ada@acme.example").await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Arc::new(Browser::default());
    let menu = Menu::new(dir.path(), browser.clone(), Arc::new(|_| {}));
    menu.load().await;
    menu.enroll(Some(&link), None, None).await.unwrap();
    assert!(menu.widgets().is_empty(), "nothing connected, no widget");

    menu.connect("demo-salesforce").await.unwrap();
    let cards = menu.widgets();
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(cards[0].key, KEY);
    assert_eq!(cards[0].title, "Recent Accounts");
    assert!(cards[0].shown && cards[0].offered_by_default);
    assert!(cards[0].rows.is_empty() && cards[0].refreshed_at.is_none());

    // The background loop fetches the widget it has never fetched, telling the window
    // as the refresh starts and ends.
    let window = Arc::new(Window::default());
    let sink: WidgetSink = {
        let window = window.clone();
        Arc::new(move |cards: &[WidgetCard]| window.0.lock().unwrap().push(cards.to_vec()))
    };
    let stop = CancellationToken::new();
    let running = tokio::spawn(menu.clone().run_widgets(sink, stop.clone()));
    let fetched = window.wait_for(|c| !c.rows.is_empty()).await;
    window.wait_for(|c| c.refreshing).await;
    assert_eq!(fetched.rows.len(), WIDGET_ROWS, "{fetched:?}");
    assert!(fetched.total >= fetched.rows.len());
    assert!(
        titles(&fetched).iter().all(|t| t.starts_with("Acme ")),
        "{fetched:?}"
    );
    assert!(fetched.refreshed_at.is_some() && fetched.problem.is_none());

    // Fetched, it is not due again for minutes: the loop leaves the app alone.
    let asked = api_requests(&provider).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        api_requests(&provider).await,
        asked,
        "no refresh before due"
    );
    stop.cancel();
    running.await.unwrap();
    let cards = menu.refresh_widgets(false).await;
    assert_eq!(cards[0].refreshed_at, fetched.refreshed_at);
    assert_eq!(api_requests(&provider).await, asked, "not due: not asked");

    // The window never holds a record id, a link, the org's address or a token.
    let said = serde_json::to_string(&*window.0.lock().unwrap()).unwrap();
    for leak in [
        "001000",
        "lightning",
        "/view",
        "http",
        "127.0.0.1",
        "Bearer",
    ] {
        assert!(!said.contains(leak), "the window was sent {leak:?}: {said}");
    }

    // A row opens the record's page through the system-browser hook.
    menu.open_widget_row(&fetched.rows[0].id.0).unwrap();
    let opened = browser.opened.lock().unwrap().last().cloned().unwrap();
    let issuer = Url::parse(&provider.issuer).unwrap();
    let page = Url::parse(&opened).unwrap();
    assert_eq!(page.origin(), issuer.origin(), "{opened}");
    assert!(
        page.path().starts_with("/lightning/r/Account/") && page.path().ends_with("/view"),
        "{opened}"
    );
    assert_eq!(
        menu.open_widget_row("made-up").unwrap_err().code(),
        "menu.widget_row_gone"
    );

    // Refresh: incremental, the renamed Account comes first; the disk never holds it in
    // plaintext.
    provider
        .salesforce_change(&[("Acme 3", "Acme Three")], &[])
        .await;
    let cards = menu.refresh_widgets(true).await;
    assert_eq!(cards[0].rows[0].title, "Acme Three", "{cards:?}");
    assert!(cards[0].problem.is_none());
    assert_eq!(
        files_containing(dir.path(), b"Acme Three"),
        Vec::<std::path::PathBuf>::new()
    );

    // Salesforce's daily limit: the rows stand and the card says why.
    provider
        .fail(json!({
            "path": "/services/data/v62.0/queryAll", "status": 403, "count": 1,
            "body": [{ "message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED" }],
        }))
        .await;
    let limited = menu.refresh_widgets(true).await;
    let problem = limited[0].problem.clone().expect("the failure is said");
    assert_eq!(problem.code, "search.rate_limited", "{problem:?}");
    assert_eq!(titles(&limited[0]), titles(&cards[0]), "the rows stand");
    let healed = menu.refresh_widgets(true).await;
    assert!(healed[0].problem.is_none(), "{healed:?}");

    // Hidden by the user: not on the home screen and not fetched; the choice is saved.
    let cards = menu.set_widget_shown(KEY, false).unwrap();
    assert!(!cards[0].shown);
    assert_eq!(Settings::load(dir.path()).widgets.get(KEY), Some(&false));
    let asked = api_requests(&provider).await;
    menu.refresh_widgets(true).await;
    assert_eq!(
        api_requests(&provider).await,
        asked,
        "a hidden widget is not fetched"
    );
    assert_eq!(
        menu.set_widget_shown("demo-salesforce/nope", true)
            .unwrap_err()
            .code(),
        "menu.unknown_widget"
    );

    // The admin offers none by default: a user who never chose sees it off, and one
    // who chose keeps the choice.
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-salesforce",
            Some(json!({
                "enabled": true, "environment": "production",
                "client_id": "latchkey-static", "params": { "issuer": provider.issuer },
                "default_widgets": Value::Array(vec![]),
            })),
        )
        .await;
    menu.refresh().await;
    let cards = menu.set_widget_shown(KEY, true).unwrap();
    assert!(cards[0].shown && !cards[0].offered_by_default, "{cards:?}");
    let mut settings = Settings::load(dir.path());
    settings.widgets.clear();
    menu.set_settings(settings).unwrap();
    assert!(!menu.widgets()[0].shown, "the admin's default");
    menu.set_widget_shown(KEY, true).unwrap();

    // Revoke: the widget, its row ids and its sealed snapshot all go.
    let row = menu.widgets()[0].rows[0].id.clone();
    menu.revoke("demo-salesforce").await.unwrap();
    assert!(menu.widgets().is_empty());
    assert_eq!(
        menu.open_widget_row(&row.0).unwrap_err().code(),
        "menu.widget_row_gone"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("widgets"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "snapshots left after the revoke: {left:?}");
}
