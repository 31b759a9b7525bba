//! The authenticated call's own overhead: `Connector::call` with a cached,
//! unexpired token (open the sealed token, resolve the catalog entry, check
//! the host, attach the token, send, read) against a bare reqwest GET of the
//! same URL with the same bearer header, both to one local keep-alive HTTP
//! server, in the same run. `scripts/bench-calls.sh` runs it and writes
//! docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_catalog::{Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{ApiRequest, ConnectOptions, Connector, Integration, SystemBrowser};
use latchkey_keychain::MemoryKeychain;
use latchkey_vault::{SlotId, TokenSet, UserIdentity, Vault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BODY: &str = r#"{"DailyApiRequests":{"Max":15000,"Remaining":14998}}"#;

/// A keep-alive HTTP/1.1 server answering every request with `BODY`.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
                        BODY.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let origin = runtime.block_on(server());
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::open(
            Arc::new(MemoryKeychain::new()),
            UserIdentity::new("https://latchkey.example", "ada").unwrap(),
            dir.path(),
        )
        .unwrap(),
    );
    let slot = SlotId::new("demo-oauth", "production").unwrap();
    let token = format!("00D5g000004bench!{}", "A".repeat(96));
    vault
        .store_tokens(
            &slot,
            1,
            &TokenSet {
                access_token: token.clone().into(),
                refresh_token: Some("refresh".into()),
                id_token: None,
                token_type: "Bearer".into(),
                scopes: vec![],
                expires_at: Some(u64::MAX / 2),
                issued_at: 1_700_000_000,
                instance_url: None,
                extras: Default::default(),
            },
        )
        .unwrap();
    let connector = Connector::new(
        vault,
        HttpClient::new().unwrap(),
        Arc::new(SystemBrowser),
        dir.path(),
    )
    .unwrap();
    let demo = Integration {
        id: "demo-oauth".into(),
        provider: "demo-oauth".into(),
        display_name: None,
        environment: Environment::Production,
        params: Params::from([("issuer".to_owned(), origin.clone())]),
        client_id: "latchkey".into(),
        client_secret: None,
        scopes: vec![],
        redirect_host: Default::default(),
    };
    let request = ApiRequest::get("/services/data/v62.0/limits");
    let options = ConnectOptions::default();
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{origin}/services/data/v62.0/limits");

    // Both answer before measuring (connections warm).
    runtime.block_on(async {
        let r = connector.call(&demo, &request, &options).await.unwrap();
        assert_eq!(r.status, 200);
        let r = bare.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });

    let mut group = c.benchmark_group("call");
    group.bench_function("connector_call_cached_token", |b| {
        b.to_async(&runtime).iter(|| async {
            let r = connector.call(&demo, &request, &options).await.unwrap();
            black_box(r.body.len())
        })
    });
    group.bench_function("baseline_bare_reqwest_get", |b| {
        b.to_async(&runtime).iter(|| async {
            let r = bare
                .get(&url)
                .bearer_auth(&token)
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap();
            black_box(r.bytes().await.unwrap().len())
        })
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
