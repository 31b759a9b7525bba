//! The `latchkey` command end to end, every part real: the Latchkey server
//! (in this process, on SQLite), oidc-provider as the authorization server,
//! headless Chromium as the system browser (through `$BROWSER`), the OS
//! keychain (`make test` runs this inside a private Secret Service session),
//! and the `latchkey` binary itself, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Duration;

use latchkey_secret::SecretString;
use latchkey_server::{Config, RunningServer};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peers_ready() -> bool {
    let ok = repo().join("testing/peers/node_modules").exists()
        && Path::new("/usr/bin/chromium").exists();
    let required = std::env::var_os("CI").is_some()
        || std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() == Ok("required");
    assert!(
        ok || !required,
        "test peers missing; run scripts/install-test-peers.sh"
    );
    if !ok {
        eprintln!("SKIPPED: test peers missing; run scripts/install-test-peers.sh");
    }
    ok
}

struct AuthServer {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthServer {
    fn start(ttl: u64) -> AuthServer {
        let mut child = Command::new("node")
            .arg(repo().join("testing/peers/oidc-server.mjs"))
            .env("LATCHKEY_TEST_CONTROLS", "1")
            .env("ACCESS_TOKEN_TTL", ttl.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap();
        AuthServer {
            child,
            _stdin: stdin,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
        }
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/__test/stats", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn active(&self, token: &str) -> bool {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/token/introspection", self.issuer))
            .form(&[("token", token), ("client_id", "latchkey-rotating")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["active"].as_bool().unwrap()
    }
}

/// The Latchkey server, stoppable and restartable on the same address and database.
struct Store {
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
    addr: Option<SocketAddr>,
    admin_token: String,
}

impl Store {
    async fn start() -> Store {
        latchkey_server::server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store {
            server: None,
            dir,
            addr: None,
            admin_token: String::new(),
        };
        store.up().await;
        let state = store.server.as_ref().unwrap().state();
        latchkey_server::routes::admin::create_admin(
            state,
            "admin@acme.example",
            SecretString::from("a long admin password"),
        )
        .await
        .unwrap();
        store.admin_token =
            latchkey_server::routes::admin::admin_token_for_email(state, "admin@acme.example")
                .await
                .unwrap()
                .expose()
                .to_owned();
        store
    }

    async fn up(&mut self) {
        let mut config = Config::for_tests(self.dir.path(), None).unwrap();
        if let Some(addr) = self.addr {
            config.listen = addr;
        }
        config.feed_poll_millis = 100;
        let server = latchkey_server::start(config).await.expect("server starts");
        self.addr = Some(server.addr());
        self.server = Some(server);
    }

    async fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// Runs the real `latchkey` binary.
fn latchkey(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("BROWSER", repo().join("testing/peers/browser"))
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(p);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_connect_token_revoke_with_the_server_going_away() {
    if !peers_ready() {
        return;
    }
    let provider = AuthServer::start(40);
    let mut store = Store::start().await;
    store
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({
                "enabled": true,
                "environment": "production",
                "client_id": "latchkey-rotating",
                "params": { "issuer": provider.issuer },
            })),
        )
        .await;
    let invite = store
        .admin(
            reqwest::Method::POST,
            "/v1/admin/users",
            Some(json!({ "email": "ada@acme.example", "display_name": "Ada" })),
        )
        .await;
    let link = invite["enrollment"]["link"]
        .as_str()
        .expect("an enrollment link")
        .to_owned();
    let user_id = invite["user"]["id"].as_str().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    let data = home.path();

    // Enroll.
    let out = latchkey(data, &["enroll", &link, "--device-name", "ada-laptop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Enrolled this computer as ada@acme.example"),
        "{}",
        text(&out)
    );

    // List: enabled by the admin, not connected.
    let out = latchkey(data, &["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["integrations"][0]["id"], "demo-oauth");
    assert_eq!(list["integrations"][0]["status"]["state"], "not_connected");

    // Connect through the browser.
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("connected as ada@acme.example"),
        "{}",
        text(&out)
    );
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        connections.to_string().contains("demo-oauth"),
        "the admin sees the connection: {connections}"
    );

    // A fresh token for scripts.
    let out = latchkey(data, &["token", "demo-oauth"]);
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(provider.active(&token).await);

    // Two processes at once, when the token is due: exactly one refresh.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = provider.stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("--data-dir")
            .arg(data)
            .args(["token", "demo-oauth"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{} / {}",
        text(&a),
        text(&b)
    );
    assert_eq!(
        a.stdout, b.stdout,
        "both processes print the same fresh token"
    );
    let after = provider.stats().await["token"]["refresh_token"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        after - before,
        1,
        "exactly one refresh request reached the provider"
    );
    let fresh = String::from_utf8(a.stdout).unwrap().trim().to_owned();
    assert_ne!(fresh, token);

    // The server goes away during a revoke: the provider and this computer are done at once,
    // the server's copy is deleted when it is back.
    store.down().await;
    let out = latchkey(data, &["revoke", "demo-oauth", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["steps"][0]["outcome"], "done", "{report}");
    assert_eq!(report["steps"][1]["outcome"], "done", "{report}");
    assert_eq!(report["steps"][2]["outcome"], "queued", "{report}");
    assert!(!provider.active(&fresh).await, "revoked at the provider");
    store.up().await;
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 0, "{status}");
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        !connections.to_string().contains("\"connected\":true"),
        "deleted on the server too: {connections}"
    );

    // The server is down during a connect: it works, and syncs when the server is back.
    store.down().await;
    let out = latchkey(data, &["connect", "demo-oauth", "--timeout", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 1, "{status}");
    store.up().await;
    let out = latchkey(data, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending_writes"], 0, "{status}");
    let connections = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await;
    assert!(
        connections.to_string().contains("demo-oauth"),
        "{connections}"
    );

    // No token in plaintext anywhere: the device's files, the server's database and data dir.
    let out = latchkey(data, &["token", "demo-oauth"]);
    let last = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    for secret in [&token, &fresh, &last] {
        assert!(
            files_containing(data, secret.as_bytes()).is_empty(),
            "a token is on the device in plaintext"
        );
        assert!(
            files_containing(store.dir.path(), secret.as_bytes()).is_empty(),
            "a token is on the server in plaintext"
        );
    }
    store.down().await;
}
