//! Crash safety: kill -9 the real binary during a write load, restart it, and
//! check every acknowledged write is there and the database opens cleanly.
//! Also: SIGTERM stops the binary cleanly, and `rotate-key` moves the secrets to a
//! key kept outside the data dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Backend, b64, unb64};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");

fn cli(dir: &std::path::Path, url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .env("LATCHKEY_DATA_DIR", dir)
        .env("LATCHKEY_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Creates the first admin with the command line and returns an admin API token for it.
fn first_admin_token(dir: &std::path::Path, url: &str) -> String {
    let email = "admin@example.com";
    cli(
        dir,
        url,
        &["admin", "create", "--email", email, "--password-stdin"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    cli(dir, url, &["admin", "token", "--email", email], None)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// The child is handed to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn serve(dir: &std::path::Path, url: &str) -> (Child, String) {
    serve_with(dir, url, &[]).await
}

// The child is handed to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
async fn serve_with(dir: &std::path::Path, url: &str, args: &[&str]) -> (Child, String) {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("LATCHKEY_DATA_DIR", dir)
        .env("LATCHKEY_DATABASE_URL", url)
        .env("LATCHKEY_LOG", "warn")
        .stdout(Stdio::null())
        // Kept (appended across restarts) so a failed run can say what the server saw.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("server.log"))
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == StatusCode::OK
        {
            return (child, base);
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("server did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the servers started in `dir` wrote to stderr (warnings and errors).
fn server_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_else(|e| format!("(unreadable: {e})"))
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

async fn crash_story(backend: Backend) {
    latchkey_server::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(dir.path()).await.unwrap();
    let admin = first_admin_token(dir.path(), &url);
    assert!(admin.starts_with("lka_"));

    let (mut child, base) = serve(dir.path(), &url).await;
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{base}/v1/admin/integrations/salesforce"))
        .bearer_auth(&admin)
        .json(&json!({ "enabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let invited = post(
        &http,
        format!("{base}/v1/admin/users"),
        &admin,
        json!({ "email": "ada@example.com", "display_name": "Ada" }),
    )
    .await;
    let code = invited["enrollment"]["code"].as_str().unwrap();
    let enrolled: Value = http
        .post(format!("{base}/v1/enroll"))
        .json(&json!({ "code": code, "device_name": "laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = Arc::new(enrolled["device_token"].as_str().unwrap().to_owned());

    // Writers: each owns a slot and writes it sequentially, remembering what was acknowledged.
    // Until the kill, a refused or failed request is retried (a loaded machine can drop one);
    // the first such failure is kept to say why if a writer never got a write through.
    let killing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..6 {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        let killing = killing.clone();
        writers.push(tokio::spawn(async move {
            let url = format!("{base}/v1/records/salesforce/production/vk{w}");
            let mut acked: Option<(i64, Vec<u8>)> = None;
            let mut first_failure: Option<String> = None;
            for n in 0.. {
                if killing.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let envelope = format!("writer {w} write {n}").into_bytes();
                let mut req = http
                    .put(&url)
                    .bearer_auth(token.as_str())
                    .json(&json!({ "envelope": b64(&envelope) }));
                req = match &acked {
                    None => req.header("If-None-Match", "*"),
                    Some((v, _)) => req.header("If-Match", v.to_string()),
                };
                let failure = match req.send().await {
                    Err(e) => format!("request failed: {e}"),
                    Ok(resp) if !resp.status().is_success() => {
                        let status = resp.status();
                        let body = resp.text().await.unwrap_or_default();
                        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                            // A refusal is a real answer, not a hiccup: stop and say it.
                            first_failure.get_or_insert(format!("{status} {body}"));
                            break;
                        }
                        format!("{status} {body}")
                    }
                    Ok(resp) => match resp.json::<Value>().await {
                        Ok(body) => {
                            acked = Some((body["version"].as_i64().unwrap(), envelope));
                            continue;
                        }
                        Err(e) => format!("unreadable answer: {e}"),
                    },
                };
                first_failure.get_or_insert(failure);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (acked, first_failure)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    killing.store(true, std::sync::atomic::Ordering::SeqCst);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acked = Vec::new();
    let mut failures = Vec::new();
    for w in writers {
        let (last, failure) = w.await.unwrap();
        acked.push(last);
        failures.push(failure);
    }
    assert!(
        acked.iter().all(Option::is_some),
        "every writer got at least one write acknowledged; first failures: {failures:?}; the server's log:\n{}",
        server_log(dir.path())
    );
    let total: i64 = acked.iter().flatten().map(|(v, _)| *v).sum();
    eprintln!("{backend:?}: {total} writes acknowledged before kill -9");
    assert!(
        total >= 30,
        "the load was real: {total} acknowledged writes; the server's log:\n{}",
        server_log(dir.path())
    );

    let (mut child, base) = serve(dir.path(), &url).await;
    for (w, last) in acked.iter().enumerate() {
        let (version, envelope) = last.as_ref().unwrap();
        let got: Value = http
            .get(format!("{base}/v1/records/salesforce/production/vk{w}"))
            .bearer_auth(token.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored = got["version"].as_i64().unwrap();
        // The write in flight at the kill may or may not have committed; nothing acknowledged may be lost.
        assert!(
            stored == *version || stored == version + 1,
            "writer {w}: acked v{version}, stored v{stored}"
        );
        if stored == *version {
            assert_eq!(&unb64(got["envelope"].as_str().unwrap()), envelope);
        }
    }

    // SIGTERM: drains and exits 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "SIGTERM did not stop the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");

    if let Backend::Sqlite = backend {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_survives_kill_9_during_writes() {
    crash_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_survives_kill_9_during_writes() {
    if let Some(backend) = Backend::postgres() {
        crash_story(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_key_moves_the_secrets_to_a_key_outside_the_data_dir() {
    latchkey_server::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let admin = first_admin_token(dir.path(), &url);
    let http = reqwest::Client::new();

    let (mut child, base) = serve(dir.path(), &url).await;
    let ready: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["warnings"], json!(["server_key_in_data_dir"]));
    let r = http
        .put(format!("{base}/v1/admin/integrations/salesforce"))
        .bearer_auth(&admin)
        .json(&json!({ "enabled": true, "client_id": "3MVG9", "client_secret": "sf-secret-789" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let invited = post(
        &http,
        format!("{base}/v1/admin/users"),
        &admin,
        json!({ "email": "ada@example.com", "display_name": "Ada" }),
    )
    .await;
    let enrolled: Value = http
        .post(format!("{base}/v1/enroll"))
        .json(&json!({ "code": invited["enrollment"]["code"], "device_name": "laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device = enrolled["device_token"].as_str().unwrap().to_owned();
    child.kill().unwrap();
    child.wait().unwrap();

    let keys = tempfile::tempdir().unwrap();
    let new_key = keys.path().join("server.key");
    let new_key_arg = new_key.display().to_string();
    let said = cli(
        dir.path(),
        &url,
        &["rotate-key", "--new-key-file", &new_key_arg],
        None,
    );
    assert!(said.contains("Re-sealed 1 secrets"), "{said}");
    assert!(
        said.contains("--server-key-file"),
        "says what to do next: {said}"
    );

    let (mut child, base) =
        serve_with(dir.path(), &url, &["--server-key-file", &new_key_arg]).await;
    let ready: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["warnings"],
        json!([]),
        "the key is outside the data dir"
    );
    let mine: Value = http
        .get(format!("{base}/v1/integrations"))
        .bearer_auth(&device)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["integrations"][0]["client_secret"], "sf-secret-789");
    child.kill().unwrap();
    child.wait().unwrap();
}
