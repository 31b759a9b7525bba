//! The menu's federated search: one [`SearchEngine`] per session (its five-minute
//! cache and its opaque result ids), one run at a time, events streamed to the
//! window as each app answers.
//!
//! What the webview gets ([`SearchUpdate`]) has titles, subtitles, kinds, times and
//! opaque ids: never a provider's record id, a link or a token. Opening a result
//! hands its id back to Rust, which maps it to the record's web link.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use latchkey_device::IntegrationView;
use latchkey_search::{
    OpaqueId, Query, ResultView, SearchEngine, SearchEvent, SearchSettings, Target, rank,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::Settings;

/// Called with each [`SearchUpdate`] (the shell emits it as the `search-results` event).
pub type SearchSink = Arc<dyn Fn(&SearchUpdate) + Send + Sync>;

/// A connected app the search box can ask, for its `in:` chip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchApp {
    /// The integration id, also the chip's `in:` filter.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The catalog's icon name, for its tile.
    pub icon: String,
    /// What it finds, from the catalog ("records", "messages").
    pub label: String,
}

/// What a search run tells the window, in order. Every update carries its `run`, so
/// the window ignores a run that a newer keystroke replaced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchUpdate {
    /// The run began and asks these apps; each row says "Searching…" until it answers.
    Started { run: u64, apps: Vec<SearchApp> },
    /// One app's results, best first.
    Results {
        run: u64,
        integration: String,
        name: String,
        results: Vec<ResultView>,
        /// From the five-minute cache: no request was made.
        cached: bool,
    },
    /// One app gave none; `message` says why and what to do ("Jira didn't answer in
    /// time", "Slack: reconnect to search"). The other apps' rows stand.
    Failed {
        run: u64,
        integration: String,
        name: String,
        code: String,
        message: String,
    },
    /// The run is over: every app answered, or it was cancelled (a new keystroke,
    /// Escape, a revoke, a reload).
    Done { run: u64, cancelled: bool },
}

/// What an app's search finds, from the catalog ("records"), or "results".
fn label(search: &latchkey_catalog::Search) -> String {
    search.label.clone().unwrap_or_else(|| "results".to_owned())
}

/// The apps in `views` that search can ask now: connected (or connected by the admin)
/// and with a `[search]` section whose adapter this build has. The same rule as
/// `latchkey_device::search_targets`, from views the menu already read.
pub(crate) fn search_apps(views: &[IntegrationView]) -> Vec<SearchApp> {
    let Ok(catalog) = latchkey_catalog::Catalog::builtin() else {
        return Vec::new();
    };
    views
        .iter()
        .filter(|v| {
            matches!(
                v.status["state"].as_str(),
                Some("connected" | "connected_by_admin")
            )
        })
        .filter_map(|v| {
            let search = catalog.get(&v.provider).ok()?.search.as_ref()?;
            latchkey_search::adapter(&search.adapter)?;
            Some(SearchApp {
                id: v.id.clone(),
                name: v.name.clone(),
                icon: v.icon.clone(),
                label: label(search),
            })
        })
        .collect()
}

/// The run in flight, ended by cancelling its token.
struct Running {
    id: u64,
    stop: CancellationToken,
}

/// The menu's search state: the engine of the current session, the run in flight, and
/// which apps could search at the last look (to forget one that stops).
pub(crate) struct MenuSearch {
    engine: Mutex<Arc<SearchEngine>>,
    running: Arc<Mutex<Option<Running>>>,
    next_run: AtomicU64,
    searchable: Mutex<BTreeSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn engine_for(settings: &Settings) -> Arc<SearchEngine> {
    SearchEngine::new(SearchSettings {
        deadline: settings.search_deadline(),
        ..SearchSettings::default()
    })
}

impl MenuSearch {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            engine: Mutex::new(engine_for(settings)),
            running: Arc::new(Mutex::new(None)),
            next_run: AtomicU64::new(1),
            searchable: Mutex::new(BTreeSet::new()),
        }
    }

    /// A fresh engine for a reloaded session (or a new deadline): the run in flight
    /// ends and the old engine's cached results and ids are dropped.
    pub(crate) fn reset(&self, settings: &Settings) {
        self.cancel();
        let old = std::mem::replace(&mut *lock(&self.engine), engine_for(settings));
        old.clear();
    }

    /// Ends the run in flight, if any: its requests are dropped mid-flight.
    pub(crate) fn cancel(&self) {
        if let Some(running) = lock(&self.running).take() {
            running.stop.cancel();
        }
    }

    /// Drops every cached result and id (quit).
    pub(crate) fn clear(&self) {
        self.cancel();
        lock(&self.engine).clear();
    }

    /// Drops one app's cached results and ids (revoke, the admin's disconnect). The run
    /// in flight ends first, so none of its answers comes back after.
    pub(crate) fn forget(&self, integration: &str) {
        self.cancel();
        lock(&self.engine).forget(integration);
    }

    /// Notes which apps can search now and forgets the results of any that no longer
    /// can (disconnected by the admin, revoked from the CLI, its grant found dead). The
    /// run in flight goes on for the others; an answer of a forgotten app that still
    /// arrives cannot be opened (opening checks the app is connected).
    pub(crate) fn keep_only(&self, apps: &[SearchApp]) {
        let now: BTreeSet<String> = apps.iter().map(|a| a.id.clone()).collect();
        let gone: Vec<String> = {
            let mut searchable = lock(&self.searchable);
            let gone = searchable.difference(&now).cloned().collect();
            *searchable = now;
            gone
        };
        let engine = lock(&self.engine);
        for id in gone {
            engine.forget(&id);
        }
    }

    /// The integration and web link of a result this engine returned.
    pub(crate) fn resolve(&self, id: &OpaqueId) -> Option<(String, String)> {
        lock(&self.engine).open(id)
    }

    /// Starts a run over `targets` (already narrowed by the query's `in:` filters),
    /// ending the previous one, and streams its updates to `sink`. Must be called
    /// inside the Tokio runtime.
    pub(crate) fn start(
        &self,
        query: &Query,
        targets: Vec<Target>,
        refresh: bool,
        sink: SearchSink,
    ) -> u64 {
        self.cancel();
        let id = self.next_run.fetch_add(1, Ordering::Relaxed);
        let catalog = latchkey_catalog::Catalog::builtin().ok();
        let apps = targets
            .iter()
            .map(|t| {
                let provider = catalog.and_then(|c| c.get(&t.provider).ok());
                SearchApp {
                    id: t.integration.clone(),
                    name: t.name.clone(),
                    icon: provider.map_or_else(String::new, |p| p.icon.clone()),
                    label: provider
                        .and_then(|p| p.search.as_ref())
                        .map_or_else(|| "results".to_owned(), label),
                }
            })
            .collect();
        let stop = CancellationToken::new();
        *lock(&self.running) = Some(Running {
            id,
            stop: stop.clone(),
        });
        sink(&SearchUpdate::Started { run: id, apps });
        let engine = Arc::clone(&lock(&self.engine));
        let mut run = engine.start(query, targets, refresh);
        let running = Arc::clone(&self.running);
        tokio::spawn(async move {
            let cancelled = loop {
                let event = tokio::select! {
                    biased;
                    () = stop.cancelled() => break true,
                    event = run.next() => event,
                };
                match event {
                    Some(SearchEvent::Results {
                        integration,
                        name,
                        mut results,
                        cached,
                    }) => {
                        rank(&mut results);
                        sink(&SearchUpdate::Results {
                            run: id,
                            integration,
                            name,
                            results,
                            cached,
                        });
                    }
                    Some(SearchEvent::Failed {
                        integration,
                        name,
                        error,
                    }) => sink(&SearchUpdate::Failed {
                        run: id,
                        integration,
                        name,
                        code: error.code().to_owned(),
                        message: error.to_string(),
                    }),
                    Some(SearchEvent::Done) | None => break false,
                }
            };
            // Dropping the run aborts whatever still asks.
            drop(run);
            {
                let mut running = lock(&running);
                if running.as_ref().is_some_and(|r| r.id == id) {
                    *running = None;
                }
            }
            sink(&SearchUpdate::Done { run: id, cancelled });
        });
        id
    }

    /// The id of the run in flight, if one is.
    pub(crate) fn running(&self) -> Option<u64> {
        lock(&self.running).as_ref().map(|r| r.id)
    }
}
