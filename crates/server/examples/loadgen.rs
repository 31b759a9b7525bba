//! Load generator for `scripts/bench-server.sh` (not a test): drives GET and
//! PUT of connection records at N concurrent connections against a running
//! server, next to a baseline of the same load against a static 200 (`/healthz`)
//! from the same server stack, and prints requests/s and p50/p99 latency.
//!
//! Usage: loadgen --url http://127.0.0.1:8700 --admin-token lka_… [--connections 64] [--seconds 10]
//!        [--only put]   (one scenario, e.g. under a profiler; prints no ratio)
//!
//! The generator shares the machine's cores with the server, so it does as
//! little as it can per request: each PUT body is encoded once, up front.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    admin_token: String,
    connections: usize,
    seconds: u64,
    label: String,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        admin_token: String::new(),
        connections: 64,
        seconds: 10,
        label: "?".into(),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().expect("flag value");
        match flag.as_str() {
            "--url" => a.url = v,
            "--admin-token" => a.admin_token = v,
            "--connections" => a.connections = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--label" => a.label = v,
            "--only" => a.only = Some(v),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.url.is_empty() && !a.admin_token.is_empty(),
        "--url and --admin-token are required"
    );
    a
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Static,
    Get,
    Put,
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

async fn run(
    a: &Args,
    http: &reqwest::Client,
    tokens: &[Arc<String>],
    scenario: Scenario,
) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().enumerate() {
        let (http, token, base) = (http.clone(), token.clone(), a.url.clone());
        tasks.push(tokio::spawn(async move {
            let slot = format!("{base}/v1/records/salesforce/production/vk{c}");
            let mut version: i64 = {
                let r: Value = http
                    .get(&slot)
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                r["version"].as_i64().unwrap()
            };
            let envelope = base64::engine::general_purpose::STANDARD.encode(vec![0x5au8; 2048]);
            // Encoded once: a 'static slice is a cheap body to send again.
            let body: &'static [u8] = Box::leak(
                serde_json::to_vec(&json!({ "envelope": envelope }))
                    .unwrap()
                    .into_boxed_slice(),
            );
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match scenario {
                    Scenario::Static => http
                        .get(format!("{base}/healthz"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == StatusCode::OK),
                    Scenario::Get => http
                        .get(&slot)
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == StatusCode::OK),
                    Scenario::Put => {
                        let r = http
                            .put(&slot)
                            .bearer_auth(token.as_str())
                            .header("If-Match", version.to_string())
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(body)
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == StatusCode::OK => {
                                version += 1;
                                true
                            }
                            _ => false,
                        }
                    }
                };
                lat.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        latencies_us.extend(lat);
        errors += e;
    }
    latencies_us.sort_unstable();
    Outcome {
        requests: latencies_us.len(),
        errors,
        elapsed: started.elapsed(),
        latencies_us,
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    latchkey_server::server::install_crypto_provider();
    let a = args();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.connections * 2)
        .build()
        .unwrap();
    let admin = |m: reqwest::Method, p: &str| {
        http.request(m, format!("{}{p}", a.url))
            .bearer_auth(&a.admin_token)
    };

    // Arrange: one enabled integration, then a device and its record per connection.
    let r = admin(reqwest::Method::PUT, "/v1/admin/integrations/salesforce")
        .json(&json!({ "enabled": true }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // One user with one enrolled device per connection, as many devices would
    // be (a user keeps at most five live records per integration and environment).
    let mut tokens = Vec::with_capacity(a.connections);
    for c in 0..a.connections {
        let invited: Value = admin(reqwest::Method::POST, "/v1/admin/users")
            .json(&json!({ "email": format!("bench-{}-{c}@example.com", std::process::id()), "display_name": "Bench" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = invited["enrollment"]["code"]
            .as_str()
            .expect("invite worked");
        let enrolled: Value = http
            .post(format!("{}/v1/enroll", a.url))
            .json(&json!({ "code": code, "device_name": format!("bench {c}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = Arc::new(enrolled["device_token"].as_str().unwrap().to_owned());
        let r = http
            .put(format!("{}/v1/records/salesforce/production/vk{c}", a.url))
            .bearer_auth(token.as_str())
            .header("If-None-Match", "*")
            .json(&json!({ "envelope": base64::engine::general_purpose::STANDARD.encode(vec![0x5au8; 2048]) }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        tokens.push(token);
    }

    let mut baseline_rps = 0.0;
    println!(
        "| backend | scenario | conns | requests | errors | req/s | vs static | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, scenario) in [
        ("static 200 (/healthz)", Scenario::Static),
        ("GET record", Scenario::Get),
        ("PUT record (CAS)", Scenario::Put),
    ] {
        if a.only
            .as_deref()
            .is_some_and(|only| !name.to_lowercase().starts_with(only))
        {
            continue;
        }
        let o = run(&a, &http, &tokens, scenario).await;
        let rps = o.requests as f64 / o.elapsed.as_secs_f64();
        if scenario == Scenario::Static {
            baseline_rps = rps;
        }
        println!(
            "| {} | {name} | {} | {} | {} | {rps:.0} | {} | {:.2} | {:.2} |",
            a.label,
            a.connections,
            o.requests,
            o.errors,
            if baseline_rps > 0.0 {
                format!("{:.0}%", 100.0 * rps / baseline_rps)
            } else {
                "n/a".to_owned()
            },
            pct(&o.latencies_us, 0.50),
            pct(&o.latencies_us, 0.99)
        );
    }
}
