//! The fan-out: one task per integration, each under its own deadline, answers streamed
//! as they come; dropping the run (a new keystroke) aborts every task, which drops its
//! HTTP request mid-flight. Results pass the catalog's link check, are cached for five
//! minutes in memory, ranked, and given opaque ids.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_connect::{ApiRequest, ApiResponse};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::adapters::{Adapter, ProviderCall};
use crate::cache::{Clock, ResultCache, SystemClock};
use crate::error::SearchError;
use crate::hit::{Hit, ResultView};
use crate::opaque::{OpaqueId, OpaqueIds};
use crate::query::Query;
use crate::rank::score;

/// How searches run; every value has a sensible default.
#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// How long one provider may take before its row says it did not answer in time.
    pub deadline: Duration,
    /// Results asked of each provider.
    pub per_provider: usize,
    /// How long results are reused for the same query.
    pub cache_ttl: Duration,
    /// Cache bounds.
    pub cache_entries: usize,
    pub cache_bytes: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(3),
            per_provider: 10,
            cache_ttl: Duration::from_secs(300),
            cache_entries: 256,
            cache_bytes: 4 * 1024 * 1024,
        }
    }
}

/// One integration to search.
pub struct Target {
    /// The connection's id (`salesforce-uat`): results and chips are keyed by it.
    pub integration: String,
    /// Its catalog provider (`salesforce`): icon and wording come from it.
    pub provider: String,
    /// Its display name ("Salesforce").
    pub name: String,
    pub adapter: Arc<dyn Adapter>,
    /// The catalog's `[search] web_hosts`.
    pub web_hosts: Vec<String>,
    pub call: Arc<dyn ProviderCall>,
    /// Why it is not searched this time (a missing scope), reported instead.
    pub skip: Option<SearchError>,
}

/// What a run reports, in the order it learns it.
#[derive(Debug, Clone)]
pub enum SearchEvent {
    /// One provider's results, ranked against the query.
    Results {
        integration: String,
        name: String,
        results: Vec<ResultView>,
        /// Served from the five-minute cache (no request made).
        cached: bool,
    },
    /// One provider gave none; the others stand.
    Failed {
        integration: String,
        name: String,
        error: SearchError,
    },
    /// Every provider answered, failed or timed out.
    Done,
}

/// A search in flight. Dropping it cancels whatever has not answered yet.
pub struct SearchRun {
    events: mpsc::UnboundedReceiver<SearchEvent>,
    driver: JoinHandle<()>,
}

impl SearchRun {
    /// The next event; `None` after [`SearchEvent::Done`].
    pub async fn next(&mut self) -> Option<SearchEvent> {
        self.events.recv().await
    }

    /// Every event until the run is done.
    pub async fn collect(mut self) -> Vec<SearchEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            let done = matches!(e, SearchEvent::Done);
            out.push(e);
            if done {
                break;
            }
        }
        out
    }
}

impl Drop for SearchRun {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The search engine of one session: its cache and opaque ids live as long as it does.
pub struct SearchEngine {
    settings: SearchSettings,
    clock: Arc<dyn Clock>,
    cache: Mutex<ResultCache>,
    ids: Mutex<OpaqueIds>,
}

impl SearchEngine {
    pub fn new(settings: SearchSettings) -> Arc<Self> {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    /// An engine whose cache reads `clock` (tests move it forward).
    pub fn with_clock(settings: SearchSettings, clock: Arc<dyn Clock>) -> Arc<Self> {
        let cache = ResultCache::new(
            settings.cache_ttl,
            settings.cache_entries,
            settings.cache_bytes,
        );
        Arc::new(Self {
            settings,
            clock,
            cache: Mutex::new(cache),
            ids: Mutex::new(OpaqueIds::new(10_000)),
        })
    }

    pub fn settings(&self) -> &SearchSettings {
        &self.settings
    }

    /// Starts a search of `targets` (those the query's `in:` filters keep). `refresh`
    /// skips the cache.
    pub fn start(
        self: &Arc<Self>,
        query: &Query,
        targets: Vec<Target>,
        refresh: bool,
    ) -> SearchRun {
        let (tx, events) = mpsc::unbounded_channel();
        let engine = Arc::clone(self);
        let query = query.clone();
        let driver = tokio::spawn(async move {
            engine.drive(query, targets, refresh, tx).await;
        });
        SearchRun { events, driver }
    }

    async fn drive(
        self: Arc<Self>,
        query: Query,
        targets: Vec<Target>,
        refresh: bool,
        tx: mpsc::UnboundedSender<SearchEvent>,
    ) {
        let text = query.text.clone();
        let key = query.normalized();
        let mut tasks = JoinSet::new();
        for target in targets {
            if !query.includes(&target.integration, &target.name) || text.is_empty() {
                continue;
            }
            if let Some(error) = target.skip.clone() {
                let _ = tx.send(SearchEvent::Failed {
                    integration: target.integration,
                    name: target.name,
                    error,
                });
                continue;
            }
            if !refresh {
                let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(
                    &target.integration,
                    &key,
                    self.clock.now(),
                );
                if let Some(hits) = cached {
                    let results = self.views(&target, &text, &hits);
                    let _ = tx.send(SearchEvent::Results {
                        integration: target.integration,
                        name: target.name,
                        results,
                        cached: true,
                    });
                    continue;
                }
            }
            let engine = Arc::clone(&self);
            let tx = tx.clone();
            let text = text.clone();
            let key = key.clone();
            tasks.spawn(async move {
                let event = engine.ask(target, &text, &key).await;
                let _ = tx.send(event);
            });
        }
        while tasks.join_next().await.is_some() {}
        let _ = tx.send(SearchEvent::Done);
    }

    /// One provider, under the deadline.
    async fn ask(&self, target: Target, text: &str, key: &str) -> SearchEvent {
        let recording = RecordingCall::new(Arc::clone(&target.call));
        let answer = tokio::time::timeout(
            self.settings.deadline,
            target
                .adapter
                .search(&recording, text, self.settings.per_provider),
        )
        .await;
        match answer {
            Err(_) => SearchEvent::Failed {
                error: SearchError::TimedOut {
                    provider: target.name.clone(),
                },
                integration: target.integration,
                name: target.name,
            },
            Ok(Err(error)) => SearchEvent::Failed {
                integration: target.integration,
                name: target.name,
                error,
            },
            Ok(Ok(hits)) => {
                let hits: Vec<Hit> = hits
                    .into_iter()
                    .filter(|h| recording.allows(&h.url, &target.web_hosts))
                    .collect();
                self.cache.lock().unwrap_or_else(|p| p.into_inner()).put(
                    &target.integration,
                    key,
                    hits.clone(),
                    self.clock.now(),
                );
                let results = self.views(&target, text, &hits);
                SearchEvent::Results {
                    integration: target.integration,
                    name: target.name,
                    results,
                    cached: false,
                }
            }
        }
    }

    fn views(&self, target: &Target, text: &str, hits: &[Hit]) -> Vec<ResultView> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        hits.iter()
            .map(|h| ResultView {
                id: ids.id(&target.integration, &h.native_id, &h.url),
                integration: target.integration.clone(),
                integration_name: target.name.clone(),
                title: h.title.clone(),
                subtitle: h.subtitle.clone(),
                kind: h.kind.clone(),
                updated_at: h.updated_at,
                score: score(text, &h.title, h.updated_at, now),
                url: h.url.clone(),
            })
            .collect()
    }

    /// Where a result opens: (integration, web link), while this engine remembers it.
    pub fn open(&self, id: &OpaqueId) -> Option<(String, String)> {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .resolve(id)
    }

    /// Drops every cached result and id (lock, quit, sign-out).
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Drops one integration's cached results and ids (revoke, disconnect).
    pub fn forget(&self, integration: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(integration);
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(integration);
    }
}

/// A provider call that remembers the origin the provider's API answered from
/// (Salesforce's org host), so a link on the `{api}` web host can be checked. Search
/// wraps every provider in one; so do the widgets.
pub struct RecordingCall {
    inner: Arc<dyn ProviderCall>,
    api_origin: Mutex<Option<url::Origin>>,
}

impl RecordingCall {
    pub fn new(inner: Arc<dyn ProviderCall>) -> Self {
        Self {
            inner,
            api_origin: Mutex::new(None),
        }
    }

    /// Whether `link` may be opened: [`link_allowed`] with the origin the API last
    /// answered from.
    pub fn allows(&self, link: &str, web_hosts: &[String]) -> bool {
        let api_origin = self
            .api_origin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        link_allowed(link, web_hosts, api_origin.as_ref())
    }
}

#[async_trait::async_trait]
impl ProviderCall for RecordingCall {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
        let response = self.inner.call(request).await?;
        *self.api_origin.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.url.origin());
        Ok(response)
    }
}

/// Whether a result's link may be opened: https on one of the catalog's web hosts, or
/// on the very origin the API answered from (`{api}`). Widgets' links pass the same check.
pub fn link_allowed(link: &str, web_hosts: &[String], api_origin: Option<&url::Origin>) -> bool {
    let Ok(url) = url::Url::parse(link) else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    if web_hosts.iter().any(|h| h == "{api}") && api_origin.is_some_and(|o| *o == url.origin()) {
        return true;
    }
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    url.scheme() == "https"
        && web_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_prefix('.') {
                Some(suffix) => host.ends_with(&allowed) || host == suffix,
                None => host == allowed,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_go_only_where_the_catalog_says() {
        let hosts = vec![
            "{api}".to_owned(),
            ".slack.com".to_owned(),
            "github.com".to_owned(),
        ];
        let api = url::Url::parse("https://acme.my.salesforce.com/services")
            .unwrap()
            .origin();
        assert!(link_allowed(
            "https://acme.my.salesforce.com/lightning/r/Account/1/view",
            &hosts,
            Some(&api)
        ));
        assert!(!link_allowed(
            "https://evil.my.salesforce.com/x",
            &hosts,
            Some(&api)
        ));
        assert!(link_allowed(
            "https://acme.slack.com/archives/C1/p1",
            &hosts,
            None
        ));
        assert!(link_allowed("https://github.com/o/r/pull/1", &hosts, None));
        assert!(!link_allowed(
            "https://github.com.evil.example/x",
            &hosts,
            None
        ));
        assert!(
            !link_allowed("http://github.com/o/r", &hosts, None),
            "https only"
        );
        assert!(!link_allowed("https://user:pw@github.com/", &hosts, None));
        assert!(!link_allowed("javascript:alert(1)", &hosts, None));
        let local = url::Url::parse("http://127.0.0.1:4000/services")
            .unwrap()
            .origin();
        assert!(
            link_allowed(
                "http://127.0.0.1:4000/lightning/r/Account/1/view",
                &hosts,
                Some(&local)
            ),
            "a test org on this computer"
        );
    }
}
