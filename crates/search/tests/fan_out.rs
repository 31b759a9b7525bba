//! The fan-out, with fake providers on tokio's paused clock: a slow or failing provider
//! never holds the others back, a hung one is cancelled at its deadline (its request
//! really ends), a new run cancels the old, the five-minute cache answers repeats
//! without a request, and the webview's view of a result holds no link or native id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_connect::{ApiRequest, ApiResponse};
use latchkey_search::{
    Adapter, Clock, Hit, ProviderCall, Query, SearchEngine, SearchError, SearchEvent,
    SearchSettings, Target,
};

/// How a fake provider answers.
#[derive(Clone)]
enum Behaviour {
    /// After a delay, with these titles (links on example.com).
    Answer(Duration, Vec<&'static str>),
    /// After a delay, with HTTP status `u16`.
    Status(Duration, u16),
    /// Never.
    Hang,
}

struct FakeCall {
    name: String,
    behaviour: Behaviour,
    calls: AtomicUsize,
    /// Set when a request in flight is dropped before it answered.
    cancelled: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait::async_trait]
impl ProviderCall for FakeCall {
    fn provider(&self) -> &str {
        &self.name
    }

    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut guard = DropFlag(Arc::clone(&self.cancelled), false);
        let (status, body) = match &self.behaviour {
            Behaviour::Hang => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Behaviour::Answer(delay, titles) => {
                tokio::time::sleep(*delay).await;
                (200, serde_json::json!(titles).to_string())
            }
            Behaviour::Status(delay, status) => {
                tokio::time::sleep(*delay).await;
                (*status, r#"{"message":"Internal error"}"#.to_owned())
            }
        };
        guard.1 = true;
        Ok(ApiResponse {
            status,
            headers: http::HeaderMap::new(),
            body: body.into_bytes(),
            url: url::Url::parse(&format!("https://api.example.com/{}", request.target)).unwrap(),
        })
    }
}

/// Reads a JSON list of titles; the last one, if "foreign", links off the catalog's hosts.
struct FakeAdapter;

#[async_trait::async_trait]
impl Adapter for FakeAdapter {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text: &str,
        _limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!("search?q={text}")))
            .await?;
        if response.status != 200 {
            return Err(SearchError::Provider {
                provider: call.provider().to_owned(),
                status: response.status,
                message: "Internal error".to_owned(),
            });
        }
        let titles: Vec<String> = serde_json::from_slice(&response.body).unwrap();
        Ok(titles
            .into_iter()
            .enumerate()
            .map(|(n, title)| Hit {
                native_id: format!("{}-{n}", call.provider()),
                url: if title == "foreign" {
                    "https://evil.example/x".to_owned()
                } else {
                    format!("https://app.example.com/{}/{n}", call.provider())
                },
                title,
                subtitle: None,
                kind: "record".to_owned(),
                updated_at: None,
            })
            .collect())
    }
}

struct Provider {
    call: Arc<FakeCall>,
}

impl Provider {
    fn new(name: &str, behaviour: Behaviour) -> Self {
        Self {
            call: Arc::new(FakeCall {
                name: name.to_owned(),
                behaviour,
                calls: AtomicUsize::new(0),
                cancelled: Arc::new(AtomicBool::new(false)),
            }),
        }
    }

    fn target(&self) -> Target {
        Target {
            integration: self.call.name.to_lowercase(),
            provider: self.call.name.to_lowercase(),
            name: self.call.name.clone(),
            adapter: Arc::new(FakeAdapter),
            web_hosts: vec!["app.example.com".to_owned()],
            call: Arc::clone(&self.call) as Arc<dyn ProviderCall>,
            skip: None,
        }
    }

    fn calls(&self) -> usize {
        self.call.calls.load(Ordering::SeqCst)
    }

    fn cancelled(&self) -> bool {
        self.call.cancelled.load(Ordering::SeqCst)
    }
}

fn settings() -> SearchSettings {
    SearchSettings {
        deadline: Duration::from_secs(3),
        ..SearchSettings::default()
    }
}

fn names(events: &[SearchEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            SearchEvent::Results { name, cached, .. } => {
                format!("{name}:results{}", if *cached { ":cached" } else { "" })
            }
            SearchEvent::Failed { name, error, .. } => format!("{name}:{}", error.code()),
            SearchEvent::Done => "done".to_owned(),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn slow_hung_and_failing_providers_never_hold_the_others_back() {
    let fast = Provider::new(
        "Fast",
        Behaviour::Answer(Duration::from_millis(50), vec!["Acme", "foreign"]),
    );
    let slow = Provider::new(
        "Slow",
        Behaviour::Answer(Duration::from_millis(800), vec!["Acme Corp"]),
    );
    let broken = Provider::new("Broken", Behaviour::Status(Duration::from_millis(10), 500));
    let hung = Provider::new("Hung", Behaviour::Hang);
    let mut scoped =
        Provider::new("Scoped", Behaviour::Answer(Duration::ZERO, vec!["never"])).target();
    scoped.skip = Some(SearchError::MissingScope {
        provider: "Scoped".into(),
        scopes: "search:read".into(),
    });
    let engine = SearchEngine::new(settings());
    let started = tokio::time::Instant::now();
    let run = engine.start(
        &Query::parse("acme"),
        vec![
            fast.target(),
            slow.target(),
            broken.target(),
            hung.target(),
            scoped,
        ],
        false,
    );
    let events = run.collect().await;
    assert_eq!(
        names(&events),
        [
            "Scoped:search.missing_scope",
            "Broken:search.provider_error",
            "Fast:results",
            "Slow:results",
            "Hung:search.timed_out",
            "done"
        ],
        "each as it answers; the hung one at its deadline"
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(3),
        "the run ends at the deadline"
    );
    assert!(
        hung.cancelled(),
        "the hung request was dropped, not left running"
    );
    assert_eq!(hung.calls(), 1);
    let SearchEvent::Results { results, .. } = &events[2] else {
        panic!()
    };
    assert_eq!(
        results.len(),
        1,
        "a link off the catalog's hosts is dropped"
    );
    // The webview's view: an opaque id, never the link or the provider's id.
    let shown = serde_json::to_string(&results[0]).unwrap();
    assert!(
        !shown.contains("app.example.com") && !shown.contains("Fast-0"),
        "{shown}"
    );
    let (integration, link) = engine.open(&results[0].id).unwrap();
    assert_eq!(
        (integration.as_str(), link.as_str()),
        ("fast", "https://app.example.com/Fast/0")
    );
    engine.forget("fast");
    assert!(engine.open(&results[0].id).is_none(), "revoked: its ids go");
}

#[tokio::test(start_paused = true)]
async fn a_new_keystroke_cancels_the_requests_of_the_last_one() {
    let hung = Provider::new("Hung", Behaviour::Hang);
    let engine = SearchEngine::new(settings());
    let mut run = engine.start(&Query::parse("ac"), vec![hung.target()], false);
    // Let the request start, then type on.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hung.calls(), 1);
    assert!(!hung.cancelled());
    drop(run.next());
    drop(run);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(hung.cancelled(), "dropping the run ends its requests");
}

#[tokio::test(start_paused = true)]
async fn filters_pick_providers_and_an_empty_query_asks_no_one() {
    let a = Provider::new(
        "Salesforce",
        Behaviour::Answer(Duration::ZERO, vec!["Acme"]),
    );
    let b = Provider::new(
        "Slack",
        Behaviour::Answer(Duration::ZERO, vec!["acme launch"]),
    );
    let engine = SearchEngine::new(settings());
    let events = engine
        .start(
            &Query::parse("in:sales acme"),
            vec![a.target(), b.target()],
            false,
        )
        .collect()
        .await;
    assert_eq!(names(&events), ["Salesforce:results", "done"]);
    assert_eq!((a.calls(), b.calls()), (1, 0));
    let events = engine
        .start(
            &Query::parse("in:slack"),
            vec![a.target(), b.target()],
            false,
        )
        .collect()
        .await;
    assert_eq!(names(&events), ["done"]);
    assert_eq!(b.calls(), 0);
}

/// A clock the test moves.
struct TestClock(Mutex<Instant>);

impl Clock for TestClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn the_cache_answers_repeats_for_five_minutes_and_refresh_bypasses_it() {
    let p = Provider::new(
        "Drive",
        Behaviour::Answer(Duration::from_millis(20), vec!["Q3 plan"]),
    );
    let clock = Arc::new(TestClock(Mutex::new(Instant::now())));
    let engine = SearchEngine::with_clock(settings(), Arc::clone(&clock) as Arc<dyn Clock>);
    let first = engine
        .start(&Query::parse("q3"), vec![p.target()], false)
        .collect()
        .await;
    assert_eq!(names(&first), ["Drive:results", "done"]);
    // Case and spacing do not make another query.
    let again = engine
        .start(&Query::parse("  Q3 "), vec![p.target()], false)
        .collect()
        .await;
    assert_eq!(names(&again), ["Drive:results:cached", "done"]);
    assert_eq!(p.calls(), 1, "no request for a repeat");
    let (SearchEvent::Results { results: a, .. }, SearchEvent::Results { results: b, .. }) =
        (&first[0], &again[0])
    else {
        panic!()
    };
    assert_eq!(a[0].id, b[0].id, "the same result keeps its id");
    *clock.0.lock().unwrap() += Duration::from_secs(299);
    engine
        .start(&Query::parse("q3"), vec![p.target()], false)
        .collect()
        .await;
    assert_eq!(p.calls(), 1, "still inside five minutes");
    engine
        .start(&Query::parse("q3"), vec![p.target()], true)
        .collect()
        .await;
    assert_eq!(p.calls(), 2, "Refresh asks again");
    *clock.0.lock().unwrap() += Duration::from_secs(301);
    engine
        .start(&Query::parse("q3"), vec![p.target()], false)
        .collect()
        .await;
    assert_eq!(p.calls(), 3, "after five minutes it asks again");
    engine.clear();
    assert!(engine.open(&a[0].id).is_none(), "and its ids");
    let after = engine
        .start(&Query::parse("q3"), vec![p.target()], false)
        .collect()
        .await;
    assert_eq!(
        names(&after),
        ["Drive:results", "done"],
        "lock and quit drop the cache"
    );
    assert_eq!(p.calls(), 4);
}
