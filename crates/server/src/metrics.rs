//! Prometheus metrics, hand-rolled: request counts and latency histograms per
//! route template (never the raw path, which holds ids), plus a few gauges.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    pub in_flight: AtomicI64,
    pub feed_subscribers: AtomicI64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((method.to_owned(), route.to_owned())).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP latchkey_http_requests_total HTTP requests by route template and status."
        );
        let _ = writeln!(out, "# TYPE latchkey_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "latchkey_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP latchkey_http_request_duration_seconds HTTP request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE latchkey_http_request_duration_seconds histogram"
        );
        if let Ok(l) = self.latency.lock() {
            for ((method, route), h) in l.iter() {
                let labels = format!("method=\"{method}\",route=\"{route}\"");
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "latchkey_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "latchkey_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "latchkey_http_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "latchkey_http_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(out, "# HELP latchkey_http_in_flight Requests being served.");
        let _ = writeln!(out, "# TYPE latchkey_http_in_flight gauge");
        let _ = writeln!(
            out,
            "latchkey_http_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP latchkey_feed_subscribers Open change-feed streams."
        );
        let _ = writeln!(out, "# TYPE latchkey_feed_subscribers gauge");
        let _ = writeln!(
            out,
            "latchkey_feed_subscribers {}",
            self.feed_subscribers.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP latchkey_info Build and backend information.");
        let _ = writeln!(out, "# TYPE latchkey_info gauge");
        let _ = writeln!(
            out,
            "latchkey_info{{version=\"{}\",backend=\"{backend}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}
