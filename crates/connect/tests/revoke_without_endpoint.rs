//! A provider without a revocation endpoint (GitHub): the connection is
//! deleted everywhere and the user is told where to remove the app's access
//! (checklist item 21). No network is involved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use latchkey_catalog::{Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{ConnectionState, Connector, Integration, SystemBrowser};
use latchkey_keychain::MemoryKeychain;
use latchkey_vault::{SlotId, TokenSet, UserIdentity, Vault};

#[tokio::test]
async fn revoking_github_deletes_locally_and_says_where_to_remove_access() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::open(
            Arc::new(MemoryKeychain::new()),
            UserIdentity::new("https://latchkey.example", "ada").unwrap(),
            dir.path(),
        )
        .unwrap(),
    );
    let slot = SlotId::new("github", "production").unwrap();
    let tokens = TokenSet {
        access_token: "gho_16C7e42F292c6912E7710c838347Ae178B4a".into(),
        refresh_token: None,
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["repo".into()],
        expires_at: None,
        issued_at: 1_700_000_000,
        instance_url: None,
        extras: Default::default(),
    };
    vault.store_tokens(&slot, 1, &tokens).unwrap();
    let connector = Connector::new(
        vault,
        HttpClient::new().unwrap(),
        Arc::new(SystemBrowser),
        dir.path(),
    )
    .unwrap();
    let github = Integration {
        id: "github".into(),
        environment: Environment::Production,
        params: Params::new(),
        client_id: "Iv1.8a61f9b3a7aba766".into(),
        // GitHub OAuth apps need a secret; a native app cannot keep it confidential anyway.
        client_secret: Some("not-a-real-secret".into()),
        scopes: vec![],
        redirect_host: Default::default(),
    };
    assert!(matches!(
        connector.state(&github).unwrap(),
        ConnectionState::Connected { .. }
    ));

    let report = connector.revoke(&github).await.unwrap();
    assert_eq!(report.steps[0].outcome, "skipped", "{report:?}");
    assert!(
        report.steps[0]
            .detail
            .contains("remove Latchkey's access at https://github.com/settings"),
        "{report:?}"
    );
    assert_eq!(report.steps[1].outcome, "done");
    assert_eq!(
        connector.state(&github).unwrap(),
        ConnectionState::NotConnected
    );
}
