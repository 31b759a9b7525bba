//! The fan-out's own cost, measured against a baseline in the same run: eight fake
//! providers answering after 50 to 800 ms, searched through the engine and, as the
//! baseline, awaited directly with no engine at all. Also a cached query, and the memory
//! a full cache takes. Prints one JSON line for scripts/bench-search.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_connect::{ApiRequest, ApiResponse};
use latchkey_search::{
    Adapter, Hit, ProviderCall, Query, SearchEngine, SearchError, SearchEvent, SearchSettings,
    Target,
};

const LATENCIES_MS: [u64; 8] = [50, 100, 200, 300, 400, 500, 650, 800];
const ROUNDS: usize = 15;

struct Fake {
    name: String,
    latency: Duration,
}

#[async_trait::async_trait]
impl ProviderCall for Fake {
    fn provider(&self) -> &str {
        &self.name
    }

    async fn call(&self, _request: ApiRequest) -> Result<ApiResponse, SearchError> {
        tokio::time::sleep(self.latency).await;
        Ok(ApiResponse {
            status: 200,
            headers: http::HeaderMap::new(),
            body: Vec::new(),
            url: url::Url::parse("https://api.example.com/search").unwrap(),
        })
    }
}

/// Ten realistic hits per answer.
struct TenHits;

#[async_trait::async_trait]
impl Adapter for TenHits {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text: &str,
        _limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        call.call(ApiRequest::get(format!("search?q={text}")))
            .await?;
        Ok(hits(call.provider(), text))
    }
}

fn hits(provider: &str, text: &str) -> Vec<Hit> {
    (0..10)
        .map(|n| Hit {
            native_id: format!("{provider}-{text}-{n:018}"),
            title: format!("{text} record number {n} of {provider}"),
            subtitle: Some(format!("Account · Manufacturing · {provider}")),
            kind: "Account".to_owned(),
            url: format!("https://app.example.com/lightning/r/Account/{provider}{n:015}/view"),
            updated_at: Some(1_746_093_600 - n * 86_400),
        })
        .collect()
}

fn targets() -> Vec<Target> {
    LATENCIES_MS
        .iter()
        .map(|ms| Target {
            integration: format!("p{ms}"),
            provider: format!("p{ms}"),
            name: format!("P{ms}"),
            adapter: Arc::new(TenHits),
            web_hosts: vec!["app.example.com".to_owned()],
            call: Arc::new(Fake {
                name: format!("P{ms}"),
                latency: Duration::from_millis(*ms),
            }),
            skip: None,
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut engine_first = Vec::new();
    let mut engine_total = Vec::new();
    let mut base_first = Vec::new();
    let mut base_total = Vec::new();
    for round in 0..ROUNDS {
        // The engine (a fresh one each round: no cache).
        let engine = SearchEngine::new(SearchSettings::default());
        let started = Instant::now();
        let mut run = engine.start(&Query::parse(&format!("acme{round}")), targets(), true);
        let mut first = None;
        while let Some(e) = run.next().await {
            match e {
                SearchEvent::Results { .. } if first.is_none() => first = Some(started.elapsed()),
                SearchEvent::Done => break,
                _ => {}
            }
        }
        engine_first.push(first.unwrap().as_secs_f64() * 1000.0);
        engine_total.push(started.elapsed().as_secs_f64() * 1000.0);

        // The baseline: the same adapters and fakes awaited directly, no engine.
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for t in targets() {
            set.spawn(async move { t.adapter.search(t.call.as_ref(), "acme", 10).await });
        }
        let mut first = None;
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
            first.get_or_insert(started.elapsed());
        }
        base_first.push(first.unwrap().as_secs_f64() * 1000.0);
        base_total.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // A cached query: every provider answered from the cache, no request.
    let engine = SearchEngine::new(SearchSettings::default());
    engine
        .start(&Query::parse("cached"), targets(), false)
        .collect()
        .await;
    let mut cached = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let events = engine
            .start(&Query::parse("cached"), targets(), false)
            .collect()
            .await;
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, SearchEvent::Results { cached: false, .. }))
        );
        cached.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // Memory: the cache filled to its bounds with realistic hits.
    let before = rss_kib();
    let full = SearchEngine::new(SearchSettings::default());
    let zero: Vec<Target> = targets()
        .into_iter()
        .map(|mut t| {
            t.call = Arc::new(Fake {
                name: t.name.clone(),
                latency: Duration::ZERO,
            });
            t
        })
        .collect();
    for n in 0..64 {
        let t: Vec<Target> = zero
            .iter()
            .map(|t| Target {
                integration: t.integration.clone(),
                provider: t.provider.clone(),
                name: t.name.clone(),
                adapter: Arc::clone(&t.adapter),
                web_hosts: t.web_hosts.clone(),
                call: Arc::clone(&t.call),
                skip: None,
            })
            .collect();
        full.start(&Query::parse(&format!("query {n}")), t, false)
            .collect()
            .await;
    }
    let after = rss_kib();
    drop(full);

    let slowest = *LATENCIES_MS.last().unwrap() as f64;
    let fastest = LATENCIES_MS[0] as f64;
    println!(
        "{}",
        serde_json::json!({
            "rounds": ROUNDS,
            "latencies_ms": LATENCIES_MS,
            "engine_first_ms": median(engine_first.clone()),
            "engine_total_ms": median(engine_total.clone()),
            "baseline_first_ms": median(base_first.clone()),
            "baseline_total_ms": median(base_total.clone()),
            "engine_first_after_fastest_ms": median(engine_first) - fastest,
            "engine_overhead_ms": median(engine_total) - slowest,
            "baseline_overhead_ms": median(base_total) - slowest,
            "cached_query_ms": median(cached.clone()),
            "cached_query_max_ms": cached.iter().cloned().fold(0.0, f64::max),
            "full_cache_rss_kib": after.saturating_sub(before),
            "rss_kib": after,
        })
    );
}
