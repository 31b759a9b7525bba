//! Rollback defence: a server that offers an older record than this device
//! has already seen is refused. A real server never does this, so a stale
//! server is played by a small double of the remote store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use latchkey_catalog::{Environment, Params};
use latchkey_client::{ClientError, RemoteRecord};
use latchkey_connect::http::HttpClient;
use latchkey_connect::sync::BoxFuture;
use latchkey_connect::{ConnectionState, Connector, Integration, RemoteStore, SystemBrowser};
use latchkey_keychain::MemoryKeychain;
use latchkey_vault::{SlotId, TokenSet, UserIdentity, Vault};

/// Serves whatever record the test put in it.
#[derive(Default)]
struct StaleServer {
    record: Mutex<Option<RemoteRecord>>,
}

impl RemoteStore for StaleServer {
    fn get<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<RemoteRecord>, ClientError>> {
        let record = self.record.lock().unwrap().clone();
        Box::pin(async move { Ok(record) })
    }
    fn put<'a>(
        &'a self,
        _: &'a SlotId,
        _: &'a str,
        _: &'a [u8],
        _: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async {
            Err(ClientError::Network {
                reason: "offline".into(),
            })
        })
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

fn tokens(tag: &str) -> TokenSet {
    TokenSet {
        access_token: format!("access-{tag}").into(),
        refresh_token: Some(format!("refresh-{tag}").into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec![],
        expires_at: None,
        issued_at: 1_700_000_000,
        instance_url: None,
        extras: Default::default(),
    }
}

#[tokio::test]
async fn an_older_record_from_the_server_is_refused() {
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
    let v1 = vault.seal_tokens(&slot, 1, &tokens("v1")).unwrap();
    let v2 = vault.seal_tokens(&slot, 2, &tokens("v2")).unwrap();
    let server = Arc::new(StaleServer::default());
    let connector = Connector::new(
        vault.clone(),
        HttpClient::new().unwrap(),
        Arc::new(SystemBrowser),
        dir.path(),
    )
    .unwrap()
    .with_remote(server.clone());
    let demo = Integration {
        id: "demo-oauth".into(),
        provider: "demo-oauth".into(),
        display_name: None,
        environment: Environment::Production,
        params: Params::from([("issuer".to_owned(), "http://127.0.0.1:9".to_owned())]),
        client_id: "c".into(),
        client_secret: None,
        scopes: vec![],
        redirect_host: Default::default(),
    };

    // The device restores version 2 from the server (a wiped cache).
    *server.record.lock().unwrap() = Some(RemoteRecord {
        version: 2,
        envelope: v2,
        device_id: "d".into(),
    });
    let state = connector.restore_from_server(&demo).await.unwrap();
    assert!(
        matches!(state, ConnectionState::Connected { version: 2, .. }),
        "{state:?}"
    );

    // Later the server offers version 1: refused, and the local copy is untouched.
    vault.cache().remove(&slot).unwrap();
    *server.record.lock().unwrap() = Some(RemoteRecord {
        version: 1,
        envelope: v1.clone(),
        device_id: "d".into(),
    });
    let err = connector.restore_from_server(&demo).await.unwrap_err();
    assert_eq!(err.code(), "connect.rollback", "{err}");
    assert_eq!(
        connector.state(&demo).unwrap(),
        ConnectionState::NotConnected
    );

    // An old envelope relabelled as a newer version does not open either.
    *server.record.lock().unwrap() = Some(RemoteRecord {
        version: 3,
        envelope: v1,
        device_id: "d".into(),
    });
    let err = connector.restore_from_server(&demo).await.unwrap_err();
    assert_eq!(err.code(), "vault.tampered", "{err}");
}
