//! The engine's side of the kill switch, against the real oidc-provider and browser: a
//! refresh that meets the server's 410 `revoked_by_admin` (an admin emptied the slot) is
//! not retried and does not bring the record back: the new grant is revoked at the
//! provider, the local copy wiped, and the card says the admin disconnected it. The
//! Latchkey server is played by a double that records which kind of write it got.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_catalog::{Environment, Params};
use latchkey_client::{ClientError, RemoteRecord};
use latchkey_connect::http::HttpClient;
use latchkey_connect::sync::BoxFuture;
use latchkey_connect::{
    BrowserLauncher, ConnectError, ConnectOptions, ConnectionState, Connector, Integration,
    RemoteStore,
};
use latchkey_keychain::MemoryKeychain;
use latchkey_test_peers::{AuthServer, open_in_peer_browser, peers_ready};
use latchkey_vault::{SlotId, UserIdentity, Vault};
use url::Url;

struct PeerBrowser;
impl BrowserLauncher for PeerBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        open_in_peer_browser(url.as_str(), &[]).map_err(|e| ConnectError::BrowserUnavailable {
            reason: e.to_string(),
        })
    }
}

/// Accepts writes until the admin "disconnects"; then answers 410 like the server.
#[derive(Default)]
struct Server {
    disconnected: AtomicBool,
    writes: Mutex<Vec<&'static str>>,
}

impl Server {
    /// Numbers versions as the server does: the next after the expected one.
    fn write(&self, kind: &'static str, expected: Option<u64>) -> Result<u64, ClientError> {
        self.writes.lock().unwrap().push(kind);
        if self.disconnected.load(Ordering::SeqCst) && kind == "put" {
            return Err(ClientError::Rejected {
                status: 410,
                code: "revoked_by_admin".into(),
                message: "Your admin disconnected this connection.".into(),
            });
        }
        Ok(expected.map_or(1, |v| v + 1))
    }
}

impl RemoteStore for Server {
    fn get<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<RemoteRecord>, ClientError>> {
        Box::pin(async { Ok(None) })
    }
    fn put<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        let answer = self.write("put", expected);
        Box::pin(async move { answer })
    }
    fn put_new_grant<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        let answer = self.write("new_grant", expected);
        Box::pin(async move { answer })
    }
    fn delete<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_after_the_admin_disconnected_revokes_and_wipes_instead_of_reviving() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::open(
            Arc::new(MemoryKeychain::new()),
            UserIdentity::new("https://latchkey.example", "ada").unwrap(),
            dir.path(),
        )
        .unwrap(),
    );
    let server = Arc::new(Server::default());
    let connector = Connector::new(
        vault.clone(),
        HttpClient::new().unwrap(),
        Arc::new(PeerBrowser),
        dir.path(),
    )
    .unwrap()
    .with_remote(server.clone());
    let demo = Integration {
        id: "demo-oauth".into(),
        provider: "demo-oauth".into(),
        display_name: None,
        environment: Environment::Production,
        params: Params::from([("issuer".to_owned(), provider.issuer.clone())]),
        client_id: "latchkey-static".into(),
        client_secret: None,
        scopes: vec![],
        redirect_host: Default::default(),
    };
    let options = ConnectOptions {
        callback_timeout: Duration::from_secs(60),
        ..ConnectOptions::default()
    };
    connector.connect(&demo, &options).await.unwrap();
    assert_eq!(
        server.writes.lock().unwrap().first(),
        Some(&"new_grant"),
        "a sign-in's first write says it is a new grant"
    );

    server.disconnected.store(true, Ordering::SeqCst);
    let revocations = provider.stats().await["revocation"].as_u64().unwrap();
    let version = connector.current_version(&demo).unwrap();
    let err = connector
        .refresh_after_unauthorized(&demo, version, &options)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.disconnected_by_admin", "{err}");
    assert_eq!(
        provider.stats().await["revocation"].as_u64().unwrap() - revocations,
        1,
        "the grant the refresh produced was revoked at the provider"
    );
    let slot = SlotId::new("demo-oauth", "production").unwrap();
    assert!(
        vault.cache().get(&slot).unwrap().is_none(),
        "the local copy is wiped"
    );
    assert_eq!(
        connector.state(&demo).unwrap(),
        ConnectionState::DisconnectedByAdmin {
            reason: "Your admin disconnected Demo OAuth".into()
        }
    );
    // The order that follows reports what the refresh already did.
    let receipt = connector
        .apply_revocation_order(&demo, "disconnect")
        .await
        .unwrap();
    assert_eq!(receipt.provider, "revoked", "{receipt:?}");
    assert!(receipt.local_wiped);
    // Exactly one write was refused: nothing was retried.
    let writes = server.writes.lock().unwrap().clone();
    assert_eq!(
        writes.iter().filter(|w| **w == "put").count(),
        1,
        "{writes:?}"
    );
}
