//! The menu's home-screen widgets: which ones the user shows (the admin's defaults,
//! then the user's own choice), what the window is told about them ([`WidgetCard`]:
//! titles and opaque ids, never a record id, a link or a token), and the background
//! refresh that keeps them current (every few minutes with jitter, backing off after
//! failures, honouring a provider's `Retry-After`).
//!
//! The snapshots themselves live sealed on disk (`latchkey_device::widgets`), so the
//! home screen shows the last rows instantly and offline; this module only keeps, in
//! memory, each widget's health and the map from opaque ids back to links.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use latchkey_device::{SessionError, WidgetView};
use latchkey_search::{OpaqueId, OpaqueIds, SearchError};
use latchkey_widgets::{WidgetKind, next_refresh, random_jitter};
use serde::Serialize;

use tokio_util::sync::CancellationToken;

use crate::{MenuError, Settings};

/// Rows a widget shows in the window.
pub const WIDGET_ROWS: usize = 5;
/// How long one widget's refresh may take before it counts as failed.
const REFRESH_LIMIT: Duration = Duration::from_secs(30);

/// Called with every widget card whenever one changes (the shell emits them as the
/// `widgets` event).
pub type WidgetSink = Arc<dyn Fn(&[WidgetCard]) + Send + Sync>;

/// One row of a widget as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetRow {
    /// Opaque: opening the row hands it back to Rust.
    pub id: OpaqueId,
    pub title: String,
    pub subtitle: Option<String>,
    /// Seconds since the epoch.
    pub updated_at: Option<i64>,
}

/// Why a widget's last refresh failed, in words (its last rows stay shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetProblem {
    pub code: String,
    pub message: String,
}

/// A widget as the window shows it (on the home screen when `shown`, and as a
/// checkbox in the settings either way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetCard {
    /// `integration/widget`: the settings key, stable across runs.
    pub key: String,
    pub integration: String,
    /// The integration's display name.
    pub name: String,
    /// The catalog's icon name.
    pub icon: String,
    /// "Recent Accounts".
    pub title: String,
    /// On the home screen (the user's choice, else the admin's default).
    pub shown: bool,
    /// What the admin offers by default.
    pub offered_by_default: bool,
    /// The newest rows, at most [`WIDGET_ROWS`].
    pub rows: Vec<WidgetRow>,
    /// How many rows the snapshot holds in all.
    pub total: usize,
    /// When the rows were fetched, seconds since the epoch; `None`: never yet.
    pub refreshed_at: Option<i64>,
    /// A refresh is under way.
    pub refreshing: bool,
    /// The last refresh failed (the rows are the ones before it).
    pub problem: Option<WidgetProblem>,
}

/// The settings key of a widget.
pub fn widget_key(integration: &str, kind: WidgetKind) -> String {
    format!("{integration}/{}", kind.id())
}

/// What the menu remembers of one widget between refreshes.
#[derive(Debug, Default, Clone)]
struct Health {
    failures: u32,
    problem: Option<WidgetProblem>,
    /// When to refresh next, decided by the last refresh in this run of the app.
    next: Option<Instant>,
    refreshing: bool,
}

/// The menu's widget state: health per widget, the opaque ids of the rows shown, the
/// window's sink, and the wake-up for the background loop.
pub(crate) struct MenuWidgets {
    ids: Mutex<OpaqueIds>,
    health: Mutex<HashMap<String, Health>>,
    sink: Mutex<Option<WidgetSink>>,
    last_sent: Mutex<Option<Vec<WidgetCard>>>,
    wake: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_secs() -> i64 {
    i64::try_from(latchkey_connect::oauth::unix_now()).unwrap_or(i64::MAX)
}

impl MenuWidgets {
    pub(crate) fn new() -> Self {
        Self {
            ids: Mutex::new(OpaqueIds::new(2_000)),
            health: Mutex::new(HashMap::new()),
            sink: Mutex::new(None),
            last_sent: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The cards for `views` (the session's available widgets), as `settings` shows
    /// them, minting an opaque id for each row shown.
    pub(crate) fn cards(&self, views: &[WidgetView], settings: &Settings) -> Vec<WidgetCard> {
        let health = lock(&self.health);
        let mut ids = lock(&self.ids);
        views
            .iter()
            .map(|w| {
                let key = widget_key(&w.integration, w.kind);
                let h = health.get(&key).cloned().unwrap_or_default();
                let shown = settings
                    .widgets
                    .get(&key)
                    .copied()
                    .unwrap_or(w.offered_by_default);
                let (rows, total, refreshed_at) = match &w.snapshot {
                    Some(s) => (
                        s.items
                            .iter()
                            .take(WIDGET_ROWS)
                            .map(|i| WidgetRow {
                                id: ids.id(&w.integration, &i.native_id, &i.url),
                                title: i.title.clone(),
                                subtitle: i.subtitle.clone(),
                                updated_at: i.updated_at,
                            })
                            .collect(),
                        s.items.len(),
                        Some(s.refreshed_at),
                    ),
                    None => (Vec::new(), 0, None),
                };
                WidgetCard {
                    key,
                    integration: w.integration.clone(),
                    name: w.name.clone(),
                    icon: w.icon.clone(),
                    title: w.title.clone(),
                    shown,
                    offered_by_default: w.offered_by_default,
                    rows,
                    total,
                    refreshed_at,
                    refreshing: h.refreshing,
                    problem: h.problem,
                }
            })
            .collect()
    }

    /// Whether the widget `key`, last fetched at `refreshed_at`, is due now. A widget
    /// refreshed in this run follows its schedule; otherwise its snapshot's age says.
    pub(crate) fn due(&self, key: &str, refreshed_at: Option<i64>, interval: Duration) -> bool {
        let health = lock(&self.health);
        let h = health.get(key);
        if h.is_some_and(|h| h.refreshing) {
            return false;
        }
        match h.and_then(|h| h.next) {
            Some(next) => Instant::now() >= next,
            None => refreshed_at.is_none_or(|at| {
                let age = now_secs().saturating_sub(at);
                u64::try_from(age).map_or(true, |age| age >= interval.as_secs())
            }),
        }
    }

    /// How long until the next widget of `cards` is due, if any is scheduled.
    pub(crate) fn next_wait(&self, cards: &[WidgetCard], interval: Duration) -> Duration {
        let health = lock(&self.health);
        let now = Instant::now();
        cards
            .iter()
            .filter(|c| c.shown)
            .map(|c| match health.get(&c.key).and_then(|h| h.next) {
                Some(next) => next.saturating_duration_since(now),
                None => {
                    let age = c.refreshed_at.map_or(u64::MAX, |at| {
                        u64::try_from(now_secs().saturating_sub(at)).unwrap_or(0)
                    });
                    interval.saturating_sub(Duration::from_secs(age.min(interval.as_secs())))
                }
            })
            .min()
            .unwrap_or(interval)
    }

    /// Marks `key` as refreshing (false: it was already).
    pub(crate) fn begin(&self, key: &str) -> bool {
        let mut health = lock(&self.health);
        let h = health.entry(key.to_owned()).or_default();
        if h.refreshing {
            return false;
        }
        h.refreshing = true;
        true
    }

    /// Records how a refresh of `key` ended and when the next one is due.
    pub(crate) fn finish(&self, key: &str, outcome: Result<(), &SessionError>, interval: Duration) {
        let mut health = lock(&self.health);
        let h = health.entry(key.to_owned()).or_default();
        h.refreshing = false;
        let provider_error: Option<&SearchError> = match outcome {
            Err(SessionError::WidgetRefresh(e)) => Some(e),
            _ => None,
        };
        match outcome {
            Ok(()) => {
                h.failures = 0;
                h.problem = None;
            }
            Err(e) => {
                h.failures = h.failures.saturating_add(1);
                h.problem = Some(WidgetProblem {
                    code: e.code(),
                    message: e.to_string(),
                });
            }
        }
        h.next = Some(
            Instant::now() + next_refresh(interval, h.failures, provider_error, random_jitter()),
        );
    }

    /// Where the row `id` opens: (integration, link), while it is remembered.
    pub(crate) fn resolve(&self, id: &OpaqueId) -> Option<(String, String)> {
        lock(&self.ids).resolve(id)
    }

    /// Forgets one integration's widgets (revoke, the admin's disconnect).
    pub(crate) fn forget(&self, integration: &str) {
        lock(&self.ids).forget(integration);
        lock(&self.health).retain(|key, _| !key.starts_with(&format!("{integration}/")));
    }

    /// Forgets everything (quit, another enrollment, a new vault key).
    pub(crate) fn clear(&self) {
        lock(&self.ids).clear();
        lock(&self.health).clear();
        *lock(&self.last_sent) = None;
    }

    pub(crate) fn set_sink(&self, sink: WidgetSink) {
        *lock(&self.sink) = Some(sink);
    }

    /// Sends `cards` to the window when they differ from the last ones sent.
    pub(crate) fn send(&self, cards: &[WidgetCard]) {
        {
            let mut last = lock(&self.last_sent);
            if last.as_deref() == Some(cards) {
                return;
            }
            *last = Some(cards.to_vec());
        }
        let sink = lock(&self.sink).clone();
        if let Some(sink) = sink {
            sink(cards);
        }
    }

    /// Wakes the background loop (a connection or a choice changed).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

impl crate::Menu {
    /// Every widget the user's connected apps offer: on the home screen when `shown`,
    /// and as a checkbox in the settings either way. Empty until the session is open.
    pub fn widgets(&self) -> Vec<WidgetCard> {
        let Ok(session) = self.session() else {
            return Vec::new();
        };
        self.widgets
            .cards(&session.available_widgets(), &self.settings())
    }

    /// Refreshes the shown widgets that are due (all shown ones with `force`: the
    /// Refresh button), several apps at once, telling the window as each one starts and
    /// ends. A widget that fails keeps its rows and says why; the next try backs off.
    pub async fn refresh_widgets(self: &Arc<Self>, force: bool) -> Vec<WidgetCard> {
        let Ok(session) = self.session() else {
            return Vec::new();
        };
        let settings = self.settings();
        let interval = settings.widget_interval();
        let views = session.available_widgets();
        let cards = self.widgets.cards(&views, &settings);
        let due: Vec<(String, WidgetKind, String, String)> = views
            .iter()
            .zip(&cards)
            .filter(|(_, c)| {
                c.shown && (force || self.widgets.due(&c.key, c.refreshed_at, interval))
            })
            .filter(|(_, c)| self.widgets.begin(&c.key))
            .map(|(v, c)| (v.integration.clone(), v.kind, c.key.clone(), v.name.clone()))
            .collect();
        if due.is_empty() {
            self.widgets.send(&cards);
            return cards;
        }
        self.send_widgets();
        let mut running = tokio::task::JoinSet::new();
        for (integration, kind, key, name) in due {
            let session = Arc::clone(&session);
            running.spawn(async move {
                let outcome =
                    tokio::time::timeout(REFRESH_LIMIT, session.refresh_widget(&integration, kind))
                        .await
                        .unwrap_or(Err(SessionError::WidgetRefresh(SearchError::TimedOut {
                            provider: name,
                        })))
                        .map(|_| ());
                (key, outcome)
            });
        }
        while let Some(joined) = running.join_next().await {
            let Ok((key, outcome)) = joined else {
                continue;
            };
            if let Err(e) = &outcome {
                tracing::warn!(widget = %key, code = %e.code(), "a widget could not refresh");
            }
            self.widgets
                .finish(&key, outcome.as_ref().map(|_| ()), interval);
            self.send_widgets();
        }
        self.widgets()
    }

    /// Shows or hides a widget on the home screen (saved in the settings); a widget
    /// shown for the first time is fetched at once.
    pub fn set_widget_shown(&self, key: &str, shown: bool) -> Result<Vec<WidgetCard>, MenuError> {
        let cards = self.widgets();
        if !cards.iter().any(|c| c.key == key) {
            return Err(MenuError::UnknownWidget {
                key: key.to_owned(),
            });
        }
        let mut settings = self.settings();
        settings.widgets.insert(key.to_owned(), shown);
        settings.save(self.dir())?;
        self.widgets.wake();
        let cards = self.widgets();
        self.widgets.send(&cards);
        Ok(cards)
    }

    /// Opens a widget's row in the system browser: its opaque id is mapped back to the
    /// record's link here (the webview never had it), which must still belong to a
    /// connected app and pass the checks every URL the menu opens passes.
    pub fn open_widget_row(&self, id: &str) -> Result<(), MenuError> {
        let (integration, link) = self
            .widgets
            .resolve(&OpaqueId(id.to_owned()))
            .ok_or(MenuError::WidgetRowGone)?;
        // The cards' own rule (connected), without opening every snapshot to learn it.
        let still_connected = self
            .session()
            .ok()
            .and_then(|s| s.views().ok())
            .is_some_and(|views| {
                views
                    .iter()
                    .any(|v| v.id == integration && v.status["state"].as_str() == Some("connected"))
            });
        if !still_connected {
            self.widgets.forget(&integration);
            return Err(MenuError::WidgetRowGone);
        }
        self.open_link(&link, "the row's link")
    }

    /// Keeps the shown widgets current until `stop`: refreshes what is due, then sleeps
    /// until the next one is due or something changes (a connection, a choice). Every
    /// change reaches `sink`.
    pub async fn run_widgets(self: Arc<Self>, sink: WidgetSink, stop: CancellationToken) {
        self.widgets.set_sink(sink);
        loop {
            let cards = tokio::select! {
                () = stop.cancelled() => return,
                cards = self.refresh_widgets(false) => cards,
            };
            let wait = self
                .widgets
                .next_wait(&cards, self.settings().widget_interval())
                .max(Duration::from_secs(1));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.widgets.woken() => {}
            }
        }
    }

    /// Sends the current cards to the window (when they changed).
    pub(crate) fn send_widgets(&self) {
        let cards = self.widgets();
        self.widgets.send(&cards);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(key: &str, refreshed_at: Option<i64>) -> WidgetCard {
        WidgetCard {
            key: key.to_owned(),
            integration: "demo-salesforce".to_owned(),
            name: "Demo Salesforce".to_owned(),
            icon: String::new(),
            title: "Recent Accounts".to_owned(),
            shown: true,
            offered_by_default: true,
            rows: Vec::new(),
            total: 0,
            refreshed_at,
            refreshing: false,
            problem: None,
        }
    }

    const FIVE: Duration = Duration::from_secs(300);

    /// Never fetched: due now; fetched a minute ago: due in about four; a refresh in
    /// flight is never started twice.
    #[test]
    fn a_widget_is_due_by_its_snapshots_age_until_this_run_refreshed_it() {
        let widgets = MenuWidgets::new();
        assert!(widgets.due("a", None, FIVE));
        assert!(!widgets.due("a", Some(now_secs() - 60), FIVE));
        assert!(widgets.due("a", Some(now_secs() - 301), FIVE));
        let wait = widgets.next_wait(&[card("a", Some(now_secs() - 60))], FIVE);
        assert!(
            (Duration::from_secs(238)..=Duration::from_secs(240)).contains(&wait),
            "{wait:?}"
        );
        assert!(widgets.begin("a"));
        assert!(!widgets.begin("a"), "already refreshing");
        assert!(!widgets.due("a", None, FIVE), "refreshing now");
    }

    /// After a success the next refresh is an interval away (±20% jitter); failures
    /// back off; a provider's Retry-After wins; success clears the problem.
    #[test]
    fn the_schedule_follows_success_failures_and_retry_after() {
        let widgets = MenuWidgets::new();
        let wait = |w: &MenuWidgets| w.next_wait(&[card("a", None)], FIVE);

        widgets.begin("a");
        widgets.finish("a", Ok(()), FIVE);
        let after_success = wait(&widgets);
        assert!(
            (Duration::from_secs(239)..=Duration::from_secs(360)).contains(&after_success),
            "{after_success:?}"
        );
        assert!(
            !widgets.due("a", None, FIVE),
            "its schedule, not the missing snapshot"
        );

        let limited = SessionError::WidgetRefresh(SearchError::RateLimited {
            provider: "Salesforce".to_owned(),
            retry_after: Some(900),
        });
        widgets.begin("a");
        widgets.finish("a", Err(&limited), FIVE);
        let after_limit = wait(&widgets);
        assert!(
            (Duration::from_secs(898)..=Duration::from_secs(900)).contains(&after_limit),
            "Retry-After: {after_limit:?}"
        );
        let cards = [card("a", None)];
        let health = lock(&widgets.health).get("a").cloned().unwrap();
        assert_eq!(health.failures, 1);
        assert_eq!(
            health.problem.map(|p| p.code),
            Some("search.rate_limited".to_owned())
        );

        let down = SessionError::WidgetRefresh(SearchError::Unreachable {
            provider: "Salesforce".to_owned(),
            reason: "no route".to_owned(),
        });
        widgets.begin("a");
        widgets.finish("a", Err(&down), FIVE);
        // Two failures in a row: 30 s doubled twice, ±20%.
        let backoff = widgets.next_wait(&cards, FIVE);
        assert!(
            (Duration::from_secs(95)..=Duration::from_secs(144)).contains(&backoff),
            "{backoff:?}"
        );

        widgets.begin("a");
        widgets.finish("a", Ok(()), FIVE);
        let health = lock(&widgets.health).get("a").cloned().unwrap();
        assert_eq!(health.failures, 0);
        assert!(health.problem.is_none() && !health.refreshing);
    }

    /// Only changed cards reach the window; forgetting an app drops its ids and health.
    #[test]
    fn the_window_hears_only_changes_and_forgetting_drops_ids() {
        let widgets = MenuWidgets::new();
        let heard = Arc::new(Mutex::new(0));
        widgets.set_sink({
            let heard = heard.clone();
            Arc::new(move |_| *heard.lock().unwrap() += 1)
        });
        let cards = [card("demo-salesforce/x", None)];
        widgets.send(&cards);
        widgets.send(&cards);
        assert_eq!(*heard.lock().unwrap(), 1);
        let id = lock(&widgets.ids).id("demo-salesforce", "001", "https://x.example/1");
        widgets.begin("demo-salesforce/x");
        widgets.forget("demo-salesforce");
        assert!(widgets.resolve(&id).is_none());
        assert!(lock(&widgets.health).is_empty());
    }
}
