//! The connect engine against a REAL authorization server (oidc-provider on
//! 127.0.0.1), a REAL browser (headless Chromium driven by playwright-core,
//! standing in for the system browser) and the REAL OS keychain. Each test
//! starts its own server, so state never leaks between tests.
//!
//! `make test` installs the peers (`scripts/install-test-peers.sh`) and runs
//! this inside a keychain session. Under CI a missing peer fails the tests;
//! elsewhere they are skipped with a notice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_catalog::{Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{
    BrowserLauncher, ConnectError, ConnectOptions, ConnectionState, Connector, Integration,
};
use latchkey_keychain::{Keychain, OsKeychain};
use latchkey_test_peers::{
    AuthServer, files_containing, open_in_peer_browser, peers_ready, required,
};
use latchkey_vault::{SlotId, UserIdentity, Vault};
use serde_json::json;
use url::Url;

static KEYCHAIN: Mutex<()> = Mutex::new(());

/// The peers' headless Chromium, launched like a system browser.
struct PeerBrowser {
    env: Vec<(&'static str, String)>,
    log: PathBuf,
}

impl BrowserLauncher for PeerBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        env.push((
            "LATCHKEY_TEST_BROWSER_LOG".to_owned(),
            self.log.display().to_string(),
        ));
        open_in_peer_browser(url.as_str(), &env).map_err(|e| ConnectError::BrowserUnavailable {
            reason: e.to_string(),
        })
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
        provider: "demo-oauth".into(),
        display_name: None,
        environment: Environment::Production,
        params: Params::from([("issuer".to_owned(), server.issuer.clone())]),
        client_id: client_id.into(),
        client_secret: None,
        scopes: Vec::new(),
        redirect_host: Default::default(),
    }
}

fn options() -> ConnectOptions {
    ConnectOptions {
        callback_timeout: Duration::from_secs(60),
        ..ConnectOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_refresh_with_rotation_and_revoke() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
            files_containing(device.dir.path(), secret.as_bytes()).is_empty(),
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
    let Some(_deadline) = peers_ready() else {
        return;
    };
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
        files_containing(device.dir.path(), refresh.as_bytes()).is_empty(),
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

    let Some(_deadline) = peers_ready() else {
        return;
    };
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
async fn network_errors_during_refresh_keep_the_tokens_and_never_replay_a_rotating_refresh() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let demo = integration(&server, "latchkey-static");
    device.connector.connect(&demo, &options()).await.unwrap();
    let refresh = device.stored_refresh_token().unwrap();

    // One dropped connection after the request went out. Demo OAuth's catalog entry says
    // rotation is possible, so the refresh token may already have been spent: it is not
    // sent again (a replay would revoke a rotating family). The tokens stay; the next
    // attempt succeeds.
    server
        .fail(json!({"path": "/token", "status": 0, "count": 1}))
        .await;
    let before = server.refreshes().await;
    let err = device
        .connector
        .refresh_after_unauthorized(&demo, 1, &options())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.network", "{err}");
    assert_eq!(server.refreshes().await - before, 1, "not retried");
    assert_eq!(device.stored_refresh_token().unwrap(), refresh);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_with_an_exact_callback_gets_its_fixed_port_and_path() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    if std::net::TcpListener::bind("127.0.0.1:17171").is_err() {
        assert!(
            !required(),
            "port 17171 is taken; the fixed-port flow cannot be tested"
        );
        eprintln!("SKIPPED: port 17171 is taken");
        return;
    }
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let fixed = Integration {
        id: "demo-oauth-fixed-port".into(),
        provider: "demo-oauth-fixed-port".into(),
        display_name: None,
        ..integration(&server, "latchkey-fixed-port")
    };
    // The authorization server accepts only http://127.0.0.1:17171/callback/demo-oauth-fixed-port
    // for this client: any other port or path would be refused before the callback.
    let state = device.connector.connect(&fixed, &options()).await.unwrap();
    assert!(
        matches!(state, ConnectionState::Connected { .. }),
        "{state:?}"
    );
    // The port is free again afterwards.
    assert!(std::net::TcpListener::bind("127.0.0.1:17171").is_ok());
}

/// A remote store that is unreachable until told otherwise, then answers like
/// a server that already holds another writer's record.
#[derive(Default)]
struct FlakyServer {
    online: std::sync::atomic::AtomicBool,
    record: Mutex<Option<latchkey_client::RemoteRecord>>,
    puts: std::sync::atomic::AtomicUsize,
}

impl latchkey_connect::RemoteStore for FlakyServer {
    fn get<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
    ) -> latchkey_connect::sync::BoxFuture<
        'a,
        Result<Option<latchkey_client::RemoteRecord>, latchkey_client::ClientError>,
    > {
        let record = self.record.lock().unwrap().clone();
        Box::pin(async move { Ok(record) })
    }
    fn put<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: &'a [u8],
        _: Option<u64>,
    ) -> latchkey_connect::sync::BoxFuture<'a, Result<u64, latchkey_client::ClientError>> {
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let online = self.online.load(std::sync::atomic::Ordering::SeqCst);
        let current = self.record.lock().unwrap().as_ref().map(|r| r.version);
        Box::pin(async move {
            if online {
                Err(latchkey_client::ClientError::Conflict { current })
            } else {
                Err(latchkey_client::ClientError::Network {
                    reason: "offline".into(),
                })
            }
        })
    }
    fn delete<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: u64,
    ) -> latchkey_connect::sync::BoxFuture<'a, Result<(), latchkey_client::ClientError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflict_on_replay_is_resolved_by_re_reading_not_overwriting() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let remote = Arc::new(FlakyServer::default());
    // The same device with a remote store attached (the vault is shared).
    let vault_dir = device.dir.path();
    let vault = {
        let _serial = KEYCHAIN.lock().unwrap_or_else(|e| e.into_inner());
        Vault::open(
            device.keychain.clone(),
            UserIdentity::new("https://latchkey.example", &device.user).unwrap(),
            vault_dir,
        )
        .unwrap()
    };
    let vault = Arc::new(vault);
    let browser = PeerBrowser {
        env: vec![],
        log: vault_dir.join("browser2.log"),
    };
    let connector = Connector::new(
        vault.clone(),
        HttpClient::new().unwrap(),
        Arc::new(browser),
        vault_dir,
    )
    .unwrap()
    .with_remote(remote.clone());
    let demo = integration(&server, "latchkey-rotating");

    // Offline: the sign-in works, the write is queued.
    connector.connect(&demo, &options()).await.unwrap();
    assert_eq!(connector.pending_writes(), 1);

    // Meanwhile another writer put its own record at the same version on the server.
    let slot = SlotId::new("demo-oauth", "production").unwrap();
    let (_, mine) = vault.load_tokens(&slot).unwrap().unwrap();
    let mut theirs = latchkey_vault::TokenSet {
        access_token: "their-access-token".into(),
        refresh_token: mine.refresh_token.as_ref().map(|t| t.duplicate()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: mine.scopes.clone(),
        expires_at: mine.expires_at,
        issued_at: mine.issued_at,
        instance_url: None,
        extras: Default::default(),
    };
    theirs
        .extras
        .insert("who".into(), "the other writer".into());
    let sealed = vault.seal_tokens(&slot, 1, &theirs).unwrap();
    *remote.record.lock().unwrap() = Some(latchkey_client::RemoteRecord {
        version: 1,
        envelope: sealed,
        device_id: "other".into(),
    });
    remote
        .online
        .store(true, std::sync::atomic::Ordering::SeqCst);

    // Replay: 412, re-read, the server's copy is adopted; nothing is overwritten.
    let puts_before = remote.puts.load(std::sync::atomic::Ordering::SeqCst);
    let report = connector.sync_pending().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(connector.pending_writes(), 0);
    assert_eq!(
        remote.puts.load(std::sync::atomic::Ordering::SeqCst) - puts_before,
        1,
        "one attempt, no overwrite"
    );
    let (_, now) = vault.load_tokens(&slot).unwrap().unwrap();
    assert_eq!(now.access_token.expose(), "their-access-token");
}

/// An app registered with `http://localhost/…` (like the Salesforce CLI's) works when the
/// admin says so: the redirect URI names localhost byte for byte (the provider refuses any
/// other), while the listener stays on 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_registered_on_localhost_is_used_exactly() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let server = AuthServer::start(3600);
    let device = Device::new(vec![]);
    let mut demo = integration(&server, "latchkey-static");
    demo.redirect_host = latchkey_catalog::RedirectHost::Localhost;
    let state = device.connector.connect(&demo, &options()).await.unwrap();
    assert!(
        matches!(state, ConnectionState::Connected { .. }),
        "{state:?}"
    );
    // The rotating client has only 127.0.0.1 callbacks registered: localhost is refused
    // there, so the name really is what the provider compared.
    let device = Device::new(vec![]);
    let mut other = integration(&server, "latchkey-rotating");
    other.redirect_host = latchkey_catalog::RedirectHost::Localhost;
    let quick = ConnectOptions {
        callback_timeout: Duration::from_secs(15),
        ..ConnectOptions::default()
    };
    let err = device.connector.connect(&other, &quick).await.unwrap_err();
    assert_eq!(err.code(), "connect.timed_out", "{err}");
}
