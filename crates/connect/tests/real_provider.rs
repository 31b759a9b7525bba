//! The connect engine against a REAL authorization server (oidc-provider on
//! 127.0.0.1), a REAL browser (headless Chromium driven by playwright-core,
//! standing in for the system browser) and the REAL OS keychain. Each test
//! starts its own server, so state never leaks between tests.
//!
//! `make test` installs the peers (`scripts/install-test-peers.sh`) and runs
//! this inside a keychain session. Under CI a missing peer fails the tests;
//! elsewhere they are skipped with a notice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_catalog::{Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{
    BrowserLauncher, ConnectError, ConnectOptions, ConnectionState, Connector, Integration,
};
use latchkey_keychain::{Keychain, OsKeychain};
use latchkey_vault::{SlotId, UserIdentity, Vault};
use serde_json::{Value, json};
use url::Url;

static KEYCHAIN: Mutex<()> = Mutex::new(());

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testing/peers")
}

fn required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() == Ok("required")
}

/// True when node, the npm packages, Chromium and a keychain are here.
fn peers_ready() -> bool {
    let missing: Vec<&str> = [
        (
            "node",
            Command::new("node").arg("--version").output().is_ok(),
        ),
        (
            "testing/peers/node_modules",
            peers_dir().join("node_modules").exists(),
        ),
        ("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !required(),
        "test peers missing: {missing:?}; run scripts/install-test-peers.sh"
    );
    eprintln!("SKIPPED: test peers missing: {missing:?}; run scripts/install-test-peers.sh");
    false
}

/// A running oidc-provider; stopped when dropped (its stdin closes).
struct AuthServer {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
    http: reqwest::Client,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthServer {
    fn start(access_token_ttl: u64) -> AuthServer {
        let mut child = Command::new("node")
            .arg(peers_dir().join("oidc-server.mjs"))
            .env("LATCHKEY_TEST_CONTROLS", "1")
            .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
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
        let ready: Value = serde_json::from_str(&line).expect("readiness line");
        AuthServer {
            child,
            _stdin: stdin,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__test/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn refreshes(&self) -> u64 {
        self.stats().await["token"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    }

    async fn fail(&self, rule: Value) {
        let status = self
            .http
            .post(format!("{}/__test/fail", self.issuer))
            .body(rule.to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    /// RFC 7662 introspection as the public client.
    async fn active(&self, client_id: &str, token: &str) -> bool {
        let body: Value = self
            .http
            .post(format!("{}/token/introspection", self.issuer))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["active"].as_bool().unwrap()
    }

    /// Revokes a token directly, as an admin or the user at the provider would.
    async fn revoke_directly(&self, client_id: &str, token: &str) {
        let status = self
            .http
            .post(format!("{}/token/revocation", self.issuer))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }
}

/// The peers' headless Chromium, launched like a system browser.
struct PeerBrowser {
    env: Vec<(&'static str, String)>,
    log: PathBuf,
}

impl BrowserLauncher for PeerBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        let mut child = Command::new(peers_dir().join("browser"))
            .arg(url.as_str())
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("LATCHKEY_TEST_BROWSER_LOG", &self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ConnectError::BrowserUnavailable {
                reason: e.to_string(),
            })?;
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }
}

/// One user's device: a data dir, a vault on the real keychain, a connector.
struct Device {
    dir: tempfile::TempDir,
    user: String,
    keychain: OsKeychain,
    connector: Connector<OsKeychain>,
}

impl Device {
    fn new(browser_env: Vec<(&'static str, String)>) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let keychain = OsKeychain::new(format!("latchkey-test-{}", std::process::id()));
        let user = format!(
            "u{}",
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(['.', '_'], "")
        );
        let vault = {
            let _serial = KEYCHAIN.lock().unwrap_or_else(|e| e.into_inner());
            Vault::open(
                keychain.clone(),
                UserIdentity::new("https://latchkey.example", &user).unwrap(),
                dir.path(),
            )
            .expect("the real keychain (run via scripts/with-keychain.sh)")
        };
        let browser = PeerBrowser {
            env: browser_env,
            log: dir.path().join("browser.log"),
        };
        let connector = Connector::new(
            Arc::new(vault),
            HttpClient::new().unwrap(),
            Arc::new(browser),
            dir.path(),
        )
        .unwrap();
        Device {
            dir,
            user,
            keychain,
            connector,
        }
    }

    fn stored_refresh_token(&self) -> Option<String> {
        let slot = SlotId::new("demo-oauth", "production").unwrap();
        let (_, tokens) = self.connector.vault().load_tokens(&slot).unwrap()?;
        tokens.refresh_token.map(|t| t.expose().to_owned())
    }

    fn stored_access_token(&self) -> Option<String> {
        let slot = SlotId::new("demo-oauth", "production").unwrap();
        let (_, tokens) = self.connector.vault().load_tokens(&slot).unwrap()?;
        Some(tokens.access_token.expose().to_owned())
    }
}

impl Drop for Device {
    /// Removes this device's salt from the real keychain.
    fn drop(&mut self) {
        let _serial = KEYCHAIN.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.keychain.delete(&format!(
            "vault-salt/v1/https://latchkey.example/{}",
            self.user
        ));
    }
}

fn integration(server: &AuthServer, client_id: &str) -> Integration {
    Integration {
        id: "demo-oauth".into(),
        environment: Environment::Production,
        params: Params::from([("issuer".to_owned(), server.issuer.clone())]),
        client_id: client_id.into(),
        client_secret: None,
        scopes: Vec::new(),
    }
}

fn options() -> ConnectOptions {
    ConnectOptions {
        callback_timeout: Duration::from_secs(60),
        ..ConnectOptions::default()
    }
}

fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
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
                .any(|w| w == needle.as_bytes())
            {
                found.push(p);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_refresh_with_rotation_and_revoke() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-rotating");

    let state = device.connector.connect(&demo, &options()).await.unwrap();
    let ConnectionState::Connected {
        identity, version, ..
    } = state
    else {
        panic!("expected Connected, got {state:?}");
    };
    assert_eq!(
        identity.as_deref(),
        Some("ada@acme.example"),
        "Connected as <identity>"
    );
    assert_eq!(version, 1);
    let first_refresh = device.stored_refresh_token().expect("a refresh token");
    let first_access = device.stored_access_token().unwrap();
    assert!(server.active("latchkey-rotating", &first_access).await);

    // Connecting again with a valid refresh token must not start a new authorization.
    let before = server.stats().await["authorization"].as_u64().unwrap();
    device.connector.connect(&demo, &options()).await.unwrap();
    assert_eq!(
        server.stats().await["authorization"].as_u64().unwrap(),
        before
    );

    // An API call answered 401: refresh. Rotation gives a new refresh token,
    // stored before the old one is dropped; the old one is now dead.
    let token = device
        .connector
        .refresh_after_unauthorized(&demo, 1, &options())
        .await
        .unwrap();
    assert_ne!(token.expose(), first_access);
    let second_refresh = device.stored_refresh_token().unwrap();
    assert_ne!(second_refresh, first_refresh, "rotated");
    assert_eq!(device.connector.current_version(&demo).unwrap(), 2);
    assert!(server.active("latchkey-rotating", token.expose()).await);

    // Nothing in plaintext on disk.
    for secret in [
        &first_access,
        &first_refresh,
        &second_refresh,
        &token.expose().to_owned(),
    ] {
        assert!(
            files_containing(device.dir.path(), secret).is_empty(),
            "a token is in plaintext on disk"
        );
    }

    // Revoke: the provider first, then this device.
    let report = device.connector.revoke(&demo).await.unwrap();
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.steps[0].step, "revoke at the provider");
    assert!(
        !server.active("latchkey-rotating", &second_refresh).await,
        "introspection reports it inactive"
    );
    assert!(
        !server.active("latchkey-rotating", token.expose()).await,
        "its access token died with it"
    );
    assert_eq!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::NotConnected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_rotation_the_refresh_token_is_kept() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-static");
    device.connector.connect(&demo, &options()).await.unwrap();
    let refresh = device.stored_refresh_token().unwrap();
    device
        .connector
        .refresh_after_unauthorized(&demo, 1, &options())
        .await
        .unwrap();
    assert_eq!(device.stored_refresh_token().unwrap(), refresh);
    assert!(server.active("latchkey-static", &refresh).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn denied_consent_stores_nothing_and_says_why() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![("LATCHKEY_TEST_CONSENT", "deny".into())]);
    let demo = integration(&server, "latchkey-rotating");
    let err = device
        .connector
        .connect(&demo, &options())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.denied", "{err}");
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert_eq!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::NotConnected
    );
    assert_eq!(
        server.stats().await["token_total"].as_u64().unwrap(),
        0,
        "no token request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_abandoned_sign_in_times_out_and_stores_nothing() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![("LATCHKEY_TEST_BROWSER_MODE", "open-only".into())]);
    let demo = integration(&server, "latchkey-rotating");
    let opts = ConnectOptions {
        callback_timeout: Duration::from_secs(3),
        ..ConnectOptions::default()
    };
    let err = device.connector.connect(&demo, &opts).await.unwrap_err();
    assert_eq!(err.code(), "connect.timed_out");
    assert_eq!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::NotConnected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_exactly_one_refresh() {
    if !peers_ready() {
        return;
    }
    // A short lifetime: the token is due for refresh two seconds after connecting.
    let server = AuthServer::start(3);
    let device = Arc::new(Device::new(vec![]));
    let demo = Arc::new(integration(&server, "latchkey-rotating"));
    device.connector.connect(&demo, &options()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Slow the provider down so the callers really pile up.
    server
        .fail(json!({"path": "/token", "delay_ms": 400, "count": 1}))
        .await;
    let opts = ConnectOptions {
        refresh_skew: Duration::from_secs(1),
        ..options()
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (device, demo, opts) = (device.clone(), demo.clone(), opts.clone());
        tasks.push(tokio::spawn(async move {
            device.connector.access_token(&demo, &opts).await
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap().expose().to_owned());
    }
    assert_eq!(
        server.refreshes().await,
        1,
        "exactly one refresh request reached the provider"
    );
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "everyone got the same fresh token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_grant_means_reconnect_without_a_retry_loop() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-rotating");
    device.connector.connect(&demo, &options()).await.unwrap();
    // The user removes the app's access at the provider.
    server
        .revoke_directly("latchkey-rotating", &device.stored_refresh_token().unwrap())
        .await;
    let err = device
        .connector
        .refresh_after_unauthorized(&demo, 1, &options())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.needs_reconnect", "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert_eq!(server.refreshes().await, 1, "no retry loop");
    assert!(matches!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::NeedsReconnect { .. }
    ));
    // Reconnect is allowed now, and clears the state.
    let state = device.connector.connect(&demo, &options()).await.unwrap();
    assert!(
        matches!(state, ConnectionState::Connected { .. }),
        "{state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_outage_during_revoke_wipes_locally_and_queues_the_rest() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-rotating");
    device.connector.connect(&demo, &options()).await.unwrap();
    let refresh = device.stored_refresh_token().unwrap();
    server
        .fail(json!({"path": "/token/revocation", "status": 503, "count": 1, "retry_after": 1}))
        .await;

    let report = device.connector.revoke(&demo).await.unwrap();
    assert_eq!(report.steps[0].outcome, "queued", "{report:?}");
    assert_eq!(report.steps[1].outcome, "done", "wiped locally at once");
    assert_eq!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::NotConnected
    );
    assert_eq!(device.connector.pending_revocations(), 1);
    assert!(
        server.active("latchkey-rotating", &refresh).await,
        "not yet revoked at the provider"
    );
    assert!(
        files_containing(device.dir.path(), &refresh).is_empty(),
        "the queue holds it sealed"
    );

    // Too early: Retry-After is honoured.
    let early = device
        .connector
        .retry_pending_revocations(&[integration(&server, "latchkey-rotating")])
        .await
        .unwrap();
    assert!(early.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reports = device
        .connector
        .retry_pending_revocations(&[integration(&server, "latchkey-rotating")])
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].1.complete(), "{reports:?}");
    assert_eq!(device.connector.pending_revocations(), 0);
    assert!(!server.active("latchkey-rotating", &refresh).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_code_verifier_is_refused_by_the_provider() {
    use latchkey_catalog::Catalog;
    use latchkey_connect::loopback::{CallbackListener, Expectation};
    use latchkey_connect::oauth::ProviderClient;
    use tokio_util::sync::CancellationToken;

    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let resolved = Catalog::builtin()
        .unwrap()
        .resolve(
            "demo-oauth",
            &Environment::Production,
            &Params::from([("issuer".to_owned(), server.issuer.clone())]),
        )
        .unwrap();
    let oauth = resolved.oauth2().unwrap();
    let client = ProviderClient::new(
        "Demo OAuth",
        oauth,
        "latchkey-rotating",
        None,
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let listener = CallbackListener::bind("Demo OAuth", None, &oauth.redirect.path)
        .await
        .unwrap();
    let request = client
        .authorization_request(&listener.redirect_uri(), &[])
        .unwrap();
    assert!(request.url.as_str().contains("code_challenge_method=S256"));
    let dir = tempfile::tempdir().unwrap();
    PeerBrowser {
        env: vec![],
        log: dir.path().join("browser.log"),
    }
    .open(&request.url)
    .unwrap();
    let callback = listener
        .wait(
            Expectation {
                provider: "Demo OAuth",
                state: &request.state,
                issuer: oauth.issuer.as_deref(),
                require_iss: true,
            },
            Duration::from_secs(60),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let wrong = oauth2::PkceCodeVerifier::new("x".repeat(64));
    let err = client
        .exchange_code(&callback.code, wrong, &request.redirect_uri)
        .await
        .unwrap_err();
    callback.responder.finish(false, &err.to_string()).await;
    assert_eq!(err.code(), "connect.token_rejected", "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn network_errors_during_refresh_are_retried_and_tokens_kept() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-static");
    device.connector.connect(&demo, &options()).await.unwrap();
    let refresh = device.stored_refresh_token().unwrap();

    // One dropped connection: the retry succeeds.
    server
        .fail(json!({"path": "/token", "status": 0, "count": 1}))
        .await;
    device
        .connector
        .refresh_after_unauthorized(&demo, 1, &options())
        .await
        .unwrap();
    assert_eq!(device.connector.current_version(&demo).unwrap(), 2);

    // The provider stays unreachable: a network error, and the tokens are kept.
    server
        .fail(json!({"path": "/token", "status": 0, "count": 10}))
        .await;
    let err = device
        .connector
        .refresh_after_unauthorized(&demo, 2, &options())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.network", "{err}");
    assert!(!err.needs_reconnect());
    assert!(matches!(
        device.connector.state(&demo).unwrap(),
        ConnectionState::Connected { .. }
    ));
    assert_eq!(
        device.stored_refresh_token().unwrap(),
        refresh,
        "tokens kept"
    );
}
