//! What a cached `latchkey token` costs, measured in one run (the process start
//! excluded): asking the menu app's token agent, against what it replaces and what
//! it cannot beat.
//!
//! - `agent_token`: `token_agent::ask` → the agent → `Connector::token_info` on a
//!   sealed, unexpired token → the answer back (both sides of the socket: the CLI's
//!   own work plus the app's);
//! - `in_process_token_info`: `Connector::token_info` alone (the agent's share);
//! - `baseline_bare_socket_round_trip`: a Unix-socket connect and an exchange of the
//!   same byte counts with a server that does nothing (the floor of any local IPC);
//! - `open_vault_then_token_info`: what the CLI does locally without the agent:
//!   unlock the vault (Argon2id) and read the token (the server round trip and the
//!   keychain's D-Bus calls come on top and are not measured).
//!
//! `scripts/bench-token.sh` runs it and writes docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The agent exists on Unix only (docs/platforms.md).
#[cfg(unix)]
mod bench {
    use std::hint::black_box;
    use std::sync::Arc;

    use criterion::{Criterion, criterion_group};
    use latchkey_catalog::{Environment, Params};
    use latchkey_connect::http::HttpClient;
    use latchkey_connect::{ConnectOptions, Connector, Integration, SystemBrowser};
    use latchkey_device::token_agent::{self, AgentError, TokenRequest};
    use latchkey_keychain::MemoryKeychain;
    use latchkey_vault::{SlotId, TokenSet, UserIdentity, Vault};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::sync::CancellationToken;

    fn identity() -> UserIdentity {
        UserIdentity::new("https://latchkey.example", "ada").unwrap()
    }

    fn demo() -> Integration {
        Integration {
            id: "demo-oauth".into(),
            provider: "demo-oauth".into(),
            display_name: None,
            environment: Environment::Production,
            params: Params::from([("issuer".to_owned(), "http://127.0.0.1:9".to_owned())]),
            client_id: "latchkey".into(),
            client_secret: None,
            scopes: vec![],
            redirect_host: Default::default(),
        }
    }

    fn token_agent(c: &mut Criterion) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keychain = Arc::new(MemoryKeychain::new());
        let vault = Arc::new(Vault::open(keychain.clone(), identity(), dir.path()).unwrap());
        let token = format!("00D5g000004bench!{}", "A".repeat(96));
        vault
            .store_tokens(
                &SlotId::new("demo-oauth", "production").unwrap(),
                1,
                &TokenSet {
                    access_token: token.clone().into(),
                    refresh_token: Some("refresh".into()),
                    id_token: None,
                    token_type: "Bearer".into(),
                    scopes: vec!["api".into()],
                    expires_at: Some(u64::MAX / 2),
                    issued_at: 1_700_000_000,
                    instance_url: None,
                    extras: Default::default(),
                },
            )
            .unwrap();
        let connector = Arc::new(
            Connector::new(
                vault,
                HttpClient::new().unwrap(),
                Arc::new(SystemBrowser),
                dir.path(),
            )
            .unwrap(),
        );
        let options = ConnectOptions::default();

        // The agent, answering as the menu does.
        let agent_dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let served = Arc::clone(&connector);
        runtime.spawn(token_agent::serve(
            agent_dir.path().to_owned(),
            stop.clone(),
            move |_request: TokenRequest| {
                let connector = Arc::clone(&served);
                async move {
                    connector
                        .token_info(&demo(), &ConnectOptions::default(), false)
                        .await
                        .map_err(|e| AgentError::Unavailable(e.to_string()))
                }
            },
        ));
        let request = TokenRequest {
            integration: "demo-oauth".into(),
            environment: None,
            refresh: false,
        };
        let answer_len = runtime.block_on(async {
            for _ in 0..500 {
                if token_agent::socket_path(agent_dir.path()).exists() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let info = token_agent::ask(agent_dir.path(), &request).await.unwrap();
            assert_eq!(info.access_token.expose(), token);
            // The JSON answer's size, for the baseline's exchange.
            serde_json::to_vec(&serde_json::json!({"token": {
                "access_token": token, "token_type": "Bearer", "expires_at": u64::MAX / 2,
                "scopes": ["api"], "instance_url": null, "api_base_url": null, "fields": {}, "identity": null
            }}))
            .unwrap()
            .len()
                + 1
        });
        let request_len = serde_json::to_vec(&request).unwrap().len() + 1;

        // The baseline: a server that reads a line and writes the same number of bytes.
        let bare_dir = tempfile::tempdir().unwrap();
        let bare_path = bare_dir.path().join("bare.sock");
        let listener =
            runtime.block_on(async { tokio::net::UnixListener::bind(&bare_path).unwrap() });
        runtime.spawn(async move {
            let reply = vec![b'x'; answer_len];
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut line = vec![0u8; request_len];
                    stream.read_exact(&mut line).await.unwrap();
                    stream.write_all(&reply).await.unwrap();
                    stream.shutdown().await.unwrap();
                });
            }
        });
        let request_bytes = vec![b'r'; request_len];

        let mut group = c.benchmark_group("token");
        group.bench_function("agent_token", |b| {
            b.to_async(&runtime).iter(|| async {
                let info = token_agent::ask(agent_dir.path(), &request).await.unwrap();
                black_box(info.expires_at)
            })
        });
        group.bench_function("in_process_token_info", |b| {
            b.to_async(&runtime).iter(|| async {
                let info = connector
                    .token_info(&demo(), &options, false)
                    .await
                    .unwrap();
                black_box(info.expires_at)
            })
        });
        group.bench_function("baseline_bare_socket_round_trip", |b| {
            b.to_async(&runtime).iter(|| async {
                let mut stream = tokio::net::UnixStream::connect(&bare_path).await.unwrap();
                stream.write_all(&request_bytes).await.unwrap();
                let mut answer = Vec::with_capacity(answer_len);
                stream.read_to_end(&mut answer).await.unwrap();
                black_box(answer.len())
            })
        });
        group.sample_size(10);
        group.bench_function("open_vault_then_token_info", |b| {
            b.to_async(&runtime).iter(|| async {
                let vault =
                    Arc::new(Vault::open(keychain.clone(), identity(), dir.path()).unwrap());
                let connector = Connector::new(
                    vault,
                    HttpClient::new().unwrap(),
                    Arc::new(SystemBrowser),
                    dir.path(),
                )
                .unwrap();
                let info = connector
                    .token_info(&demo(), &options, false)
                    .await
                    .unwrap();
                black_box(info.expires_at)
            })
        });
        group.finish();
        stop.cancel();
    }

    criterion_group!(benches, token_agent);
}

#[cfg(unix)]
criterion::criterion_main!(bench::benches);

#[cfg(not(unix))]
fn main() {
    eprintln!("the token agent exists on Unix only: nothing to measure here");
}
