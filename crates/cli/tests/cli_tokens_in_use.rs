//! Tokens in use, end to end with the real `latchkey` binary: `api`, `exec`,
//! `token --json/--refresh` and `git-credential` against oidc-provider in its
//! Salesforce shape (no `expires_in`, an `instance_url`, a REST API that answers
//! an expired session with 401 `INVALID_SESSION_ID`), the real Latchkey server
//! (SQLite), headless Chromium as the system browser, the OS keychain and the
//! real `git`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use latchkey_test_peers::{AuthServer, TestStore, peers_ready};
use serde_json::{Value, json};

mod common;
use common::{latchkey, text};

/// A store with `integration` enabled against `issuer`, and an enrolled device
/// connected to it through the browser.
async fn connected(
    store: &TestStore,
    integration: &str,
    issuer: &str,
    client_id: &str,
    data: &Path,
) {
    store.enable_demo(integration, issuer, client_id).await;
    let (link, _) = store.invite("ada@acme.example").await;
    let out = latchkey(data, &["enroll", &link, "--device-name", "ada-laptop"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["connect", integration, "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
}

async fn api_stats(provider: &AuthServer) -> (u64, u64) {
    let stats = provider.stats().await;
    (
        stats["api"]["requests"].as_u64().unwrap(),
        stats["api"]["rejected"].as_u64().unwrap(),
    )
}

/// Runs `n` copies of `latchkey args…` at once.
fn concurrently(data: &Path, n: usize, args: &[&str]) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_latchkey"))
                .arg("--data-dir")
                .arg(data)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_salesforce_session_without_expires_in_is_refreshed_once_when_it_expires() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    // Sessions of 10 seconds (long enough that the live-session steps stay inside one
    // under a loaded CI machine), and no expires_in to say so.
    let provider = AuthServer::start_salesforce(10);
    let mut store = TestStore::start().await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    connected(
        &store,
        "demo-salesforce",
        &provider.issuer,
        "latchkey-static",
        data,
    )
    .await;

    // token --json: no expiry, the org's instance_url and the API base.
    let out = latchkey(data, &["token", "demo-salesforce", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["expires_at"], Value::Null, "{info}");
    assert_eq!(info["instance_url"], provider.issuer.as_str());
    assert_eq!(
        info["api_base_url"],
        format!("{}/services/data/v62.0", provider.issuer)
    );
    assert_eq!(info["token_type"], "Bearer");
    assert!(info["fields"]["id"].as_str().unwrap().contains("/id/00D"));
    let first = info["access_token"].as_str().unwrap().to_owned();

    // status --json names the org host.
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["integrations"][0]["status"]["instance_host"], "127.0.0.1",
        "{status}"
    );

    // A call with a live session: no refresh.
    let before = provider.refreshes().await;
    let out = latchkey(
        data,
        &[
            "api",
            "demo-salesforce",
            "/query?q=SELECT+Id,Name+FROM+Account",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["records"][0]["Name"], "Acme 1");
    assert_eq!(provider.refreshes().await, before);

    // The session times out. Eight processes call at once: each is refused with the same
    // token, exactly one refresh reaches the provider, and every call answers.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (_, rejected_before) = api_stats(&provider).await;
    let outputs = concurrently(data, 8, &["api", "demo-salesforce", "/limits"]);
    for out in &outputs {
        assert!(out.status.success(), "{}", text(out));
        let limits: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(limits["DailyApiRequests"]["Max"].is_number(), "{limits}");
    }
    assert_eq!(
        provider.refreshes().await - before,
        1,
        "one refresh for eight callers"
    );
    let (_, rejected_after) = api_stats(&provider).await;
    assert!(
        rejected_after > rejected_before,
        "the provider really refused the old session"
    );
    assert!(
        !provider.active("latchkey-static", &first).await,
        "the first session is dead"
    );

    // --paginate follows nextRecordsUrl to the end (5 accounts, 2 a page).
    let out = latchkey(
        data,
        &[
            "api",
            "demo-salesforce",
            "/query?q=SELECT+Id+FROM+Account",
            "--paginate",
            "--slurp",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let pages: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = pages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["records"].as_array().unwrap())
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme 1", "Acme 2", "Acme 3", "Acme 4", "Acme 5"]);
    assert_eq!(pages.as_array().unwrap().len(), 3);

    // A next-page link to a host the catalog does not name is refused, token unsent.
    provider
        .salesforce_foreign_next(Some("http://127.0.0.2:9"))
        .await;
    let out = latchkey(
        data,
        &[
            "api",
            "demo-salesforce",
            "/query?q=SELECT+Id+FROM+Account",
            "--paginate",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("connect.host_not_allowed"),
        "{}",
        text(&out)
    );
    provider.salesforce_foreign_next(None).await;

    // The provider's own error, in its words, with the body on stdout.
    let out = latchkey(data, &["api", "demo-salesforce", "/query?q=DELETE"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("answered 400") && stderr.contains("unexpected token"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("MALFORMED_QUERY"));

    // A body posts (POST by default with -d).
    let out = latchkey(
        data,
        &[
            "api",
            "demo-salesforce",
            "/sobjects/Account",
            "-d",
            r#"{"Name":"Initech"}"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"success\":true"));
    // Credentials are Latchkey's to set.
    let out = latchkey(
        data,
        &[
            "api",
            "demo-salesforce",
            "/limits",
            "-H",
            "Authorization: Bearer mine",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // exec: the token and instance URL in the environment, not on the command line.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let out = latchkey(
        data,
        &[
            "exec",
            "demo-salesforce",
            "--",
            "sh",
            "-c",
            r#"tr '\0' ' ' < /proc/$$/cmdline; echo; echo "$DEMO_SALESFORCE_ACCESS_TOKEN"; echo "$DEMO_SALESFORCE_INSTANCE_URL""#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let (argv, token, instance) = (lines[0], lines[1], lines[2]);
    assert!(!token.is_empty() && !argv.contains(token), "argv: {argv}");
    assert_eq!(instance, provider.issuer);
    assert!(provider.active("latchkey-static", token).await);
    // exec passes the command's exit status on.
    let out = latchkey(
        data,
        &["exec", "demo-salesforce", "--", "sh", "-c", "exit 7"],
    );
    assert_eq!(out.status.code(), Some(7));

    // token --refresh: a new token now.
    let out = latchkey(data, &["token", "demo-salesforce", "--refresh"]);
    assert!(out.status.success(), "{}", text(&out));
    let refreshed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_ne!(refreshed, token);
    assert!(provider.active("latchkey-static", &refreshed).await);
    store.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotating_refresh_token_is_never_replayed() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    // Five-second sessions: a round of callers (a few seconds on a loaded machine) stays
    // inside one session, so each round meets exactly one expiry.
    let provider = AuthServer::start_salesforce(5);
    let mut store = TestStore::start().await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    connected(
        &store,
        "demo-salesforce",
        &provider.issuer,
        "latchkey-rotating",
        data,
    )
    .await;

    // Rounds of concurrent callers after each expiry: one refresh each; a replayed rotated
    // refresh token would revoke the whole family and the next round would fail.
    for round in 0..3 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        let before = provider.refreshes().await;
        for out in concurrently(data, 5, &["api", "demo-salesforce", "/limits"]) {
            assert!(out.status.success(), "round {round}: {}", text(&out));
        }
        assert_eq!(provider.refreshes().await - before, 1, "round {round}");
    }

    // The token endpoint takes the refresh and the answer is lost (the connection drops):
    // the refresh may have rotated the token, so it is not sent again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    provider
        .fail(json!({ "path": "/token", "method": "POST", "status": 0, "count": 1 }))
        .await;
    let before = provider.refreshes().await;
    let out = latchkey(data, &["api", "demo-salesforce", "/limits"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert_eq!(
        provider.refreshes().await - before,
        1,
        "the ambiguous refresh was not retried"
    );
    // The family is intact: the next call refreshes and works.
    let out = latchkey(data, &["api", "demo-salesforce", "/limits"]);
    assert!(out.status.success(), "{}", text(&out));
    store.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn git_credential_fill_through_the_real_git() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let mut store = TestStore::start().await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    connected(
        &store,
        "demo-oauth",
        &provider.issuer,
        "latchkey-rotating",
        data,
    )
    .await;

    let helper = format!(
        "!'{}' --data-dir '{}' git-credential",
        env!("CARGO_BIN_EXE_latchkey"),
        data.display()
    );
    let git = |args: &[&str], input: &str| {
        let mut child = Command::new("git")
            .args(["-c", "credential.helper=", "-c"])
            .arg(format!("credential.helper={helper}"))
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("HOME", data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };

    // fill: Git asks, Latchkey answers with the connected account's fresh token.
    let out = git(
        &["credential", "fill"],
        "protocol=https\nhost=git.demo-oauth.test\npath=acme/app.git\n\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let answer = String::from_utf8(out.stdout).unwrap();
    assert!(answer.contains("username=oauth2\n"), "{answer}");
    let password = answer
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .unwrap()
        .to_owned();
    assert!(provider.active("latchkey-rotating", &password).await);

    // approve (store) keeps nothing; reject (erase) says it is a no-op.
    let out = git(
        &["credential", "approve"],
        "protocol=https\nhost=git.demo-oauth.test\nusername=x\npassword=handed-to-latchkey\n\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(latchkey_test_peers::files_containing(data, b"handed-to-latchkey").is_empty());
    let out = git(
        &["credential", "reject"],
        "protocol=https\nhost=git.demo-oauth.test\nusername=x\npassword=y\n\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to erase"));

    // A host no connected integration declares gets no answer, so Git has none to use.
    let out = git(
        &["credential", "fill"],
        "protocol=https\nhost=gitlab.com\n\n",
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password="));
    // Plain http is never answered.
    let out = git(
        &["credential", "fill"],
        "protocol=http\nhost=git.demo-oauth.test\n\n",
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password="));
    store.down().await;
}

/// The issue's "done when", run by hand (`make soak-salesforce`, ten minutes):
/// a Salesforce-shaped provider with 60-second sessions and no `expires_in`,
/// used through `latchkey api` (bursts of concurrent callers) and `latchkey
/// exec` without anyone doing anything; exactly one refresh per expiry.
/// `LATCHKEY_SOAK_SECONDS` shortens or lengthens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "ten minutes; run with make soak-salesforce"]
async fn soak_a_salesforce_session_for_ten_minutes() {
    // No deadline: a soak runs as long as it is told to.
    assert!(peers_ready().is_some());
    let seconds: u64 = std::env::var("LATCHKEY_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let session = 60;
    let provider = AuthServer::start_salesforce(session);
    let mut store = TestStore::start().await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    connected(
        &store,
        "demo-salesforce",
        &provider.issuer,
        "latchkey-rotating",
        data,
    )
    .await;
    let start = std::time::Instant::now();
    let refreshes_at_start = provider.refreshes().await;
    let (mut calls, mut execs) = (0u64, 0u64);
    // When each refresh was first seen (the loop looks every ~5 s).
    let mut seen_refreshes: Vec<std::time::Instant> = Vec::new();
    let mut last_count = refreshes_at_start;
    while start.elapsed() < Duration::from_secs(seconds) {
        for out in concurrently(data, 4, &["api", "demo-salesforce", "/limits"]) {
            assert!(
                out.status.success(),
                "after {:?}: {}",
                start.elapsed(),
                text(&out)
            );
            calls += 1;
        }
        let out = latchkey(
            data,
            &[
                "exec",
                "demo-salesforce",
                "--",
                "sh",
                "-c",
                r#"test -n "$DEMO_SALESFORCE_ACCESS_TOKEN""#,
            ],
        );
        assert!(
            out.status.success(),
            "exec after {:?}: {}",
            start.elapsed(),
            text(&out)
        );
        execs += 1;
        let count = provider.refreshes().await;
        assert!(
            count <= last_count + 1,
            "two refreshes between two looks, {:?} in",
            start.elapsed()
        );
        if count > last_count {
            seen_refreshes.push(std::time::Instant::now());
            last_count = count;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let elapsed = start.elapsed().as_secs();
    let refreshes = provider.refreshes().await - refreshes_at_start;
    let (requests, rejected) = api_stats(&provider).await;
    let gaps: Vec<u64> = seen_refreshes
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs())
        .collect();
    println!(
        "SOAK: {elapsed} s, session {session} s, {calls} api calls, {execs} execs, {requests} API requests at the provider ({rejected} refused), {refreshes} refreshes, seconds between them: {gaps:?}"
    );
    // One refresh per expiry: never two within one session's life (the loop looks every
    // ~5 s, so a gap is the session give or take one look), and each expiry is found by a
    // call within one look (so about one refresh per session plus a look).
    assert!(
        gaps.iter().all(|g| *g + 10 >= session),
        "refreshes closer than a session apart: {gaps:?}"
    );
    assert!(
        refreshes + 1 >= elapsed / (session + 10),
        "{refreshes} refreshes in {elapsed} s: expiries were missed"
    );
    store.down().await;
}

/// An API-key integration answers `latchkey api` through the Latchkey server's proxy: the
/// server adds the key, which never reaches this computer, and its path allow-list holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_key_integrations_are_called_through_the_servers_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut store = TestStore::start().await;
    store.allow_http_proxy().await;
    // A local stand-in for OpenAI's API: records the key header it receives.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", upstream.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = upstream.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"object":"list","data":[{"id":"gpt-4o","object":"model"}]}"#;
            let _ = stream
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/openai",
            Some(json!({
                "enabled": true, "api_key": "sk-PROXY-ONLY-KEY",
                "api_base_url": origin, "api_paths": ["/v1/models"],
            })),
        )
        .await;
    let (link, _) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let out = latchkey(data, &["enroll", &link]);
    assert!(out.status.success(), "{}", text(&out));

    let out = latchkey(data, &["api", "openai", "/v1/models"]);
    assert!(out.status.success(), "{}", text(&out));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["data"][0]["id"], "gpt-4o");
    let request = seen.lock().unwrap().last().unwrap().clone();
    assert!(request.starts_with("GET /v1/models "), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-proxy-only-key")
    );

    // The allow-list: another path is refused by the server, not sent upstream.
    let before = seen.lock().unwrap().len();
    let out = latchkey(data, &["api", "openai", "/v1/files"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("path_not_allowed"), "{}", text(&out));
    assert_eq!(seen.lock().unwrap().len(), before);
    // A full URL cannot be used: the host is the server's choice.
    let out = latchkey(data, &["api", "openai", "https://api.openai.com/v1/models"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The key is nowhere on this computer.
    assert!(latchkey_test_peers::files_containing(data, b"sk-PROXY-ONLY-KEY").is_empty());
    store.down().await;
}
