//! The menu's search end to end with every part real: the Latchkey server (in this
//! process, SQLite), a Salesforce-shaped oidc-provider (SOSL under
//! /services/data/v62.0/search, Accounts "Acme 1…N" and the Contact "Ada Lovelace"),
//! headless Chromium for the sign-in, and the OS keychain. It checks what the window is
//! told as the app answers, that the window never holds a record id or a link, that an
//! opaque id opens the record through the system-browser hook, and that a slow app, a
//! new keystroke, Cancel, a revoke and the admin's disconnect each end or drop what
//! they should.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Browser;
use latchkey_menu::{Menu, MenuState, SearchUpdate, Settings};
use latchkey_test_peers::{AuthServer, TestStore, files_containing, peers_ready};
use serde_json::{Value, json};

const SEARCH_PATH: &str = "/services/data/v62.0/search";

/// Every search update the window was sent.
#[derive(Default)]
struct Window(Mutex<Vec<SearchUpdate>>);

fn run_of(u: &SearchUpdate) -> u64 {
    match u {
        SearchUpdate::Started { run, .. }
        | SearchUpdate::Results { run, .. }
        | SearchUpdate::Failed { run, .. }
        | SearchUpdate::Done { run, .. } => *run,
    }
}

impl Window {
    /// The updates of `run` once it is done; panics after 20 s.
    async fn done(&self, run: u64) -> Vec<SearchUpdate> {
        let start = Instant::now();
        loop {
            let of_run: Vec<SearchUpdate> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|u| run_of(u) == run)
                .cloned()
                .collect();
            if of_run
                .iter()
                .any(|u| matches!(u, SearchUpdate::Done { .. }))
            {
                return of_run;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "run {run} never ended: {of_run:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn json(&self) -> String {
        serde_json::to_string(&*self.0.lock().unwrap()).unwrap()
    }
}

/// The results of a finished run's one Results update: (titles, ids, cached).
fn results(updates: &[SearchUpdate]) -> (Vec<String>, Vec<String>, bool) {
    let found: Vec<_> = updates
        .iter()
        .filter_map(|u| match u {
            SearchUpdate::Results {
                results, cached, ..
            } => Some((results.clone(), *cached)),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "one app answered: {updates:?}");
    let (results, cached) = found.into_iter().next().unwrap();
    (
        results.iter().map(|r| r.title.clone()).collect(),
        results.iter().map(|r| r.id.0.clone()).collect(),
        cached,
    )
}

fn done_cancelled(updates: &[SearchUpdate]) -> bool {
    updates.iter().any(|u| {
        matches!(
            u,
            SearchUpdate::Done {
                cancelled: true,
                ..
            }
        )
    })
}

async fn searches(provider: &AuthServer) -> u64 {
    provider.stats().await["api"]["searches"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_streams_salesforce_results_opens_them_by_opaque_id_and_forgets_them() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start_salesforce(3600);
    let store = TestStore::start().await;
    store
        .enable_demo("demo-salesforce", &provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Arc::new(Browser::default());
    let states: Arc<Mutex<Vec<MenuState>>> = Arc::default();
    let menu = Menu::new(dir.path(), browser.clone(), {
        let states = states.clone();
        Arc::new(move |s: &MenuState| states.lock().unwrap().push(s.clone()))
    });
    menu.load().await;
    menu.enroll(Some(&link), None, None).await.unwrap();
    let window = Arc::new(Window::default());
    let sink: latchkey_menu::SearchSink = {
        let window = window.clone();
        Arc::new(move |u: &SearchUpdate| window.0.lock().unwrap().push(u.clone()))
    };

    // Nothing connected can search yet: said plainly, nothing sent.
    let err = menu.search("acme", false, sink.clone()).await.unwrap_err();
    assert_eq!(err.code(), "menu.search_nothing_connected");
    assert!(menu.state().search_apps.is_empty());

    menu.connect("demo-salesforce").await.unwrap();
    let apps = serde_json::to_value(menu.state().search_apps).unwrap();
    assert_eq!(
        apps,
        json!([{ "id": "demo-salesforce", "name": "Demo Salesforce", "icon": "salesforce", "label": "records" }])
    );

    // One query: the window is told which apps are asked, then the app's results, best
    // first, then that the run is over.
    let run = menu.search("acme", false, sink.clone()).await.unwrap();
    let updates = window.done(run).await;
    assert!(
        matches!(&updates[0], SearchUpdate::Started { apps, .. } if apps.len() == 1 && apps[0].id == "demo-salesforce"),
        "{updates:?}"
    );
    let (titles, ids, cached) = results(&updates);
    assert!(!cached);
    assert!(titles.len() >= 2, "{titles:?}");
    assert!(titles.iter().all(|t| t.starts_with("Acme ")), "{titles:?}");
    assert!(
        matches!(
            updates.last(),
            Some(SearchUpdate::Done {
                cancelled: false,
                ..
            })
        ),
        "{updates:?}"
    );
    assert_eq!(
        menu.search_running(),
        None,
        "a finished run is not in flight"
    );

    // The window never holds a record id, a link, the org's address or a token.
    let said = window.json();
    for leak in [
        "001000",
        "lightning",
        "/view",
        "http",
        "127.0.0.1",
        "Bearer",
    ] {
        assert!(!said.contains(leak), "{leak} reached the window: {said}");
    }

    // Opening a result hands its opaque id back; Rust opens the record's web link on the
    // org's own host through the system browser.
    menu.open_search_result(&ids[0]).unwrap();
    let opened = browser.opened.lock().unwrap().last().unwrap().clone();
    assert!(
        opened.starts_with(&format!("{}/lightning/r/Account/001", provider.issuer))
            && opened.ends_with("/view"),
        "{opened}"
    );
    let err = menu.open_search_result("not-an-id").unwrap_err();
    assert_eq!(err.code(), "menu.search_result_gone");
    assert!(err.to_string().contains("Search again"), "{err}");

    // The same query within five minutes comes from the cache; Refresh asks again.
    let before = searches(&provider).await;
    let run = menu.search("ACME ", false, sink.clone()).await.unwrap();
    let (again, _, cached) = results(&window.done(run).await);
    assert!(cached && again == titles, "{again:?}");
    assert_eq!(
        searches(&provider).await,
        before,
        "no request for a cached answer"
    );
    let run = menu.search("acme", true, sink.clone()).await.unwrap();
    let (_, _, cached) = results(&window.done(run).await);
    assert!(!cached);
    assert_eq!(searches(&provider).await, before + 1);

    // Too short, and a filter no connected app matches: refused before anything is sent.
    let err = menu
        .search("in:salesforce a", false, sink.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "menu.search_too_short");
    let err = menu
        .search("in:github acme", false, sink.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "menu.search_no_app_matches");
    assert!(err.to_string().contains("in:github"), "{err}");
    let run = menu
        .search("in:demo lovelace", false, sink.clone())
        .await
        .unwrap();
    let (titles, _, _) = results(&window.done(run).await);
    assert_eq!(titles, ["Ada Lovelace"]);

    // The per-app deadline is a setting: an app slower than it gets a row that says so.
    menu.set_settings(Settings {
        search_deadline_ms: 1_000,
        ..menu.settings()
    })
    .unwrap();
    provider
        .fail(json!({ "path": SEARCH_PATH, "delay_ms": 2_500, "count": 1 }))
        .await;
    let asked = Instant::now();
    let run = menu.search("acme", true, sink.clone()).await.unwrap();
    let updates = window.done(run).await;
    let failed: Vec<(String, String)> = updates
        .iter()
        .filter_map(|u| match u {
            SearchUpdate::Failed { code, message, .. } => Some((code.clone(), message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [(
            "search.timed_out".to_owned(),
            "Demo Salesforce didn't answer in time".to_owned()
        )]
    );
    assert!(
        asked.elapsed() < Duration::from_millis(2_400),
        "{:?}",
        asked.elapsed()
    );
    let err = menu
        .set_settings(Settings {
            search_deadline_ms: 60_000,
            ..menu.settings()
        })
        .unwrap_err();
    assert_eq!(err.code(), "menu.search_deadline");
    menu.set_settings(Settings::default()).unwrap();
    tokio::time::sleep(Duration::from_millis(1_600)).await; // the slow request drains

    // A new keystroke ends the last query's requests: that run ends cancelled, with no
    // results, and the new one answers.
    provider
        .fail(json!({ "path": SEARCH_PATH, "delay_ms": 2_000, "count": 1 }))
        .await;
    let first = menu.search("acm", true, sink.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = menu.search("acme", true, sink.clone()).await.unwrap();
    assert!(second > first);
    let updates = window.done(first).await;
    assert!(done_cancelled(&updates), "{updates:?}");
    assert!(
        !updates.iter().any(|u| matches!(
            u,
            SearchUpdate::Results { .. } | SearchUpdate::Failed { .. }
        )),
        "{updates:?}"
    );
    results(&window.done(second).await);

    // Cancel (Escape, the box emptied) ends the run in flight at once.
    provider
        .fail(json!({ "path": SEARCH_PATH, "delay_ms": 2_000, "count": 1 }))
        .await;
    let run = menu.search("lovelace", true, sink.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(menu.search_running(), Some(run));
    let cancelled_at = Instant::now();
    menu.cancel_search();
    let updates = window.done(run).await;
    assert!(done_cancelled(&updates), "{updates:?}");
    assert!(cancelled_at.elapsed() < Duration::from_millis(500));
    assert_eq!(menu.search_running(), None);
    tokio::time::sleep(Duration::from_millis(2_000)).await;

    // A reload (the change feed's, on any change the admin makes) keeps the search: what
    // is on screen still opens, and the cache still answers.
    let run = menu.search("acme", false, sink.clone()).await.unwrap();
    let (_, ids, _) = results(&window.done(run).await);
    menu.refresh().await;
    menu.open_search_result(&ids[1]).unwrap();
    let run = menu.search("acme", false, sink.clone()).await.unwrap();
    let (_, _, cached) = results(&window.done(run).await);
    assert!(cached, "a reload of the same enrollment keeps the cache");

    // Revoke drops the app's results: an old id no longer opens, and there is nothing
    // left to search.
    menu.revoke("demo-salesforce").await.unwrap();
    let opened_before = browser.opened.lock().unwrap().len();
    let err = menu.open_search_result(&ids[0]).unwrap_err();
    assert_eq!(err.code(), "menu.search_result_gone");
    assert_eq!(browser.opened.lock().unwrap().len(), opened_before);
    assert!(menu.state().search_apps.is_empty());
    let err = menu.search("acme", false, sink.clone()).await.unwrap_err();
    assert_eq!(err.code(), "menu.search_nothing_connected");

    // The admin disconnects the app: the change feed reloads the menu, and what was
    // found before no longer opens.
    menu.connect("demo-salesforce").await.unwrap();
    let run = menu.search("acme", false, sink.clone()).await.unwrap();
    let (_, ids, cached) = results(&window.done(run).await);
    assert!(!cached, "a revoke also dropped the cache");
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(menu.clone().follow_changes(stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    store
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/users/{user_id}/connections/demo-salesforce"),
            None,
        )
        .await;
    let start = Instant::now();
    while !menu
        .state()
        .integrations
        .iter()
        .any(|v| v.status["state"] == "disconnected_by_admin")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            menu.state()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = menu.open_search_result(&ids[0]).unwrap_err();
    assert_eq!(err.code(), "menu.search_result_gone");
    stop.cancel();

    // Quitting drops everything; and nothing of a search ever reached the disk.
    menu.clear_search();
    for needle in [
        b"Acme 1".as_slice(),
        b"Lovelace",
        b"Manufacturing",
        b"lightning/r",
    ] {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<std::path::PathBuf>::new(),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    let last: Value = serde_json::to_value(&*states.lock().unwrap()).unwrap();
    assert!(!last.to_string().contains("lightning"));
}
