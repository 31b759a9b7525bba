//! Discovery and the signing keys of a real OpenID provider (the npm `oidc-provider`
//! the test peers run): the issuer matches exactly, the endpoints are read, and each key
//! it publishes for signing can be used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use latchkey_sso::{KeySet, SystemClock, discover};
use latchkey_test_peers::{AuthServer, peers_ready};

#[tokio::test]
async fn discovery_and_keys_of_oidc_provider() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start(3600);
    let http = reqwest::Client::new();
    let found = discover(&http, &provider.issuer).await.unwrap();
    assert_eq!(found.issuer, provider.issuer);
    assert!(found.token_endpoint.as_str().starts_with(&provider.issuer));
    let jwks: serde_json::Value = http
        .get(found.jwks_uri.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"].as_str() != Some("enc"))
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect();
    assert!(!kids.is_empty(), "{jwks}");
    let keys = KeySet::new(http, found.jwks_uri, Arc::new(SystemClock));
    for kid in &kids {
        keys.key_for(Some(kid))
            .await
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
    }
    assert_eq!(
        keys.key_for(Some("not-published"))
            .await
            .err()
            .map(|e| e.code()),
        Some("sso.unknown_key")
    );
}
