//! Captures every log line (TRACE, all crates) of a full scenario and checks
//! that no token, code, secret or password appears in them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Backend, TestServer, b64};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buf
    })
    .clone()
}

/// Runs the scenario; returns every secret it handled.
async fn scenario(s: &TestServer) -> Vec<String> {
    let mut secrets = vec![ADMIN_PASSWORD.to_owned(), s.admin_token.clone()];
    secrets.push(
        s.setup_code
            .clone()
            .expect("a fresh database issues a setup code"),
    );
    let late = s
        .call(Method::POST, "/v1/admin/setup", None, Some(json!({ "code": secrets[2], "email": "x@example.com", "password": "SETUP-PASSWORD-000" })), &[])
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:?}", late.body);
    secrets.push("SETUP-PASSWORD-000".to_owned());
    let login = s
        .call(
            Method::POST,
            "/v1/admin/login",
            None,
            Some(json!({ "email": "admin@example.com", "password": ADMIN_PASSWORD })),
            &[],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let cookie = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = login.body["csrf_token"].as_str().unwrap().to_owned();
    secrets.push(cookie.split_once('=').unwrap().1.to_owned());
    secrets.push(csrf.clone());
    let failed = s
        .call(
            Method::POST,
            "/v1/admin/login",
            None,
            Some(json!({ "email": "admin@example.com", "password": "WRONG-PASSWORD-789" })),
            &[],
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    secrets.push("WRONG-PASSWORD-789".to_owned());

    let made = s
        .call(
            Method::POST,
            "/v1/admin/tokens",
            None,
            None,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    secrets.push(made.body["token"].as_str().unwrap().to_owned());

    let sf = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "client_id": "cid", "client_secret": "CLIENT-SECRET-ABC", "scopes": ["api"] })),
        )
        .await;
    assert_eq!(sf.status, StatusCode::OK);
    s.admin(
        Method::PUT,
        "/v1/admin/integrations/openai",
        Some(json!({ "enabled": true, "api_key": "sk-API-KEY-DEF" })),
    )
    .await;
    secrets.push("CLIENT-SECRET-ABC".to_owned());
    secrets.push("sk-API-KEY-DEF".to_owned());

    let (_user, code, link) = s.invite("ada@example.com").await;
    secrets.push(code.clone());
    secrets.push(link);
    let d = s.enroll_existing(&_user, &code).await;
    secrets.push(d.token.clone());
    let reused = s.enroll(&code, "again").await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

    let envelope = b64(b"SEALED-ENVELOPE-PAYLOAD");
    let put = s
        .device(
            &d,
            Method::PUT,
            "/v1/records/salesforce/production/vk1",
            Some(json!({ "envelope": envelope })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    secrets.push(envelope);
    s.device(&d, Method::GET, "/v1/integrations", None, &[])
        .await;
    s.device(&d, Method::GET, "/v1/records", None, &[]).await;
    let bad = s
        .call(
            Method::GET,
            "/v1/me",
            Some("lkd_NOT-A-REAL-TOKEN"),
            None,
            &[],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    s.admin(
        Method::POST,
        &format!("/v1/admin/devices/{}/revoke", d.id),
        None,
    )
    .await;
    s.device(&d, Method::GET, "/v1/me", None, &[]).await;

    let key = std::fs::read_to_string(s.dir.path().join("server.key")).unwrap();
    secrets.push(key);
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_full_scenario_hold_no_secret() {
    let buf = capture();
    let mut backends = vec![Backend::Sqlite];
    backends.extend(Backend::postgres());
    for backend in backends {
        buf.lock().unwrap().clear();
        let s = TestServer::start(&backend).await;
        tracing::info!("scenario starts on {backend:?}");
        let secrets = scenario(&s).await;
        s.stop().await;
        let logs = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("route=/v1/enroll status=201"),
            "request logs were captured:\n{logs}"
        );
        assert!(logs.lines().count() > 20);
        for secret in &secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "{backend:?}: a secret ({} chars) leaked into the logs",
                secret.len()
            );
        }
    }
}
