//! A provider without a revocation endpoint (Microsoft 365): the connection is
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
async fn revoking_microsoft_365_deletes_locally_and_says_where_to_remove_access() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::open(
            Arc::new(MemoryKeychain::new()),
            UserIdentity::new("https://latchkey.example", "ada").unwrap(),
            dir.path(),
        )
        .unwrap(),
    );
    let slot = SlotId::new("microsoft-365", "production").unwrap();
    let tokens = TokenSet {
        access_token: "eyJ0eXAiOiJKV1QiLCJub25jZSI6IjEyMyJ9.e30.sig".into(),
        refresh_token: Some("0.AXoA-refresh".into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["User.Read".into(), "offline_access".into()],
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
    let microsoft = Integration {
        id: "microsoft-365".into(),
        provider: "microsoft-365".into(),
        display_name: None,
        environment: Environment::Production,
        params: Params::new(),
        client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
        client_secret: None,
        scopes: vec![],
        redirect_host: Default::default(),
    };
    assert!(matches!(
        connector.state(&microsoft).unwrap(),
        ConnectionState::Connected { .. }
    ));

    let report = connector.revoke(&microsoft).await.unwrap();
    assert_eq!(report.steps[0].outcome, "skipped", "{report:?}");
    assert!(
        report.steps[0]
            .detail
            .contains("remove Latchkey's access at https://myapplications.microsoft.com/"),
        "{report:?}"
    );
    assert_eq!(report.steps[1].outcome, "done");
    assert_eq!(
        connector.state(&microsoft).unwrap(),
        ConnectionState::NotConnected
    );
}
