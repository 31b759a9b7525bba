//! ID token validation against a local identity provider stand-in (discovery and JWKS
//! served over HTTP, tokens signed with the test keys in tests/keys): a good token
//! passes, and each way a token can be wrong is refused with its own code. Discovery
//! and the keys of the real oidc-provider are checked in real_provider.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey_sso::{Clock, IdTokenValidator, KeySet, SsoError, discover};
use serde_json::{Value, json};

const CLIENT: &str = "latchkey-console";
const NOW: i64 = 1_780_000_000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The stand-in's state: which keys it publishes, what its discovery document says,
/// and how often its JWKS was fetched.
struct Idp {
    keys: Mutex<Vec<Value>>,
    document: Mutex<Option<Value>>,
    jwks_fetches: AtomicUsize,
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/keys/rsa-{name}.jwk.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

fn private_key(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(
        &std::fs::read(format!(
            "{}/tests/keys/rsa-{name}.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

async fn start(keys: Vec<Value>) -> (String, Arc<Idp>) {
    let idp = Arc::new(Idp {
        keys: Mutex::new(keys),
        document: Mutex::new(None),
        jwks_fetches: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get({
                let issuer = issuer.clone();
                move |State(idp): State<Arc<Idp>>| async move {
                    let doc = idp.document.lock().unwrap().clone();
                    Json(doc.unwrap_or_else(|| {
                        json!({
                            "issuer": issuer,
                            "authorization_endpoint": format!("{issuer}/auth"),
                            "token_endpoint": format!("{issuer}/token"),
                            "jwks_uri": format!("{issuer}/jwks"),
                            "code_challenge_methods_supported": ["S256"],
                            "authorization_response_iss_parameter_supported": true,
                        })
                    }))
                }
            }),
        )
        .route(
            "/jwks",
            get(|State(idp): State<Arc<Idp>>| async move {
                idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                Json(json!({ "keys": *idp.keys.lock().unwrap() }))
            }),
        )
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (issuer, idp)
}

/// The claims of a good token for `issuer`, issued at NOW.
fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer, "aud": CLIENT, "sub": "u-ada", "iat": NOW, "exp": NOW + 300,
        "nonce": "n-123", "email": "ada@acme.example", "email_verified": true,
        "name": "Ada Lovelace", "groups": ["Sales", "Latchkey Admins"],
    })
}

fn sign(claims: &Value, key: &str, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &private_key(key)).unwrap()
}

async fn validator(issuer: &str) -> (IdTokenValidator, Arc<TestClock>) {
    let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
    let discovery = discover(&reqwest::Client::new(), issuer).await.unwrap();
    let keys = Arc::new(KeySet::new(
        reqwest::Client::new(),
        discovery.jwks_uri,
        clock.clone(),
    ));
    (
        IdTokenValidator::new(issuer, CLIENT, keys, clock.clone()),
        clock,
    )
}

fn with(mut claims: Value, change: Value) -> Value {
    for (k, v) in change.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[tokio::test]
async fn a_good_token_passes_and_each_wrong_one_is_refused_with_its_code() {
    let (issuer, _idp) = start(vec![jwk("a")]).await;
    let (v, clock) = validator(&issuer).await;
    let good = claims(&issuer);

    let who = v
        .validate(&sign(&good, "a", Some("key-a")), "n-123")
        .await
        .unwrap();
    assert_eq!(who.subject, "u-ada");
    assert_eq!(who.email.as_deref(), Some("ada@acme.example"));
    assert!(who.email_verified);
    assert_eq!(who.groups, ["Sales", "Latchkey Admins"]);
    // With one published key, a token without a key id is checked against it.
    assert!(v.validate(&sign(&good, "a", None), "n-123").await.is_ok());

    let refused = async |claims: Value, nonce: &str| -> String {
        v.validate(&sign(&claims, "a", Some("key-a")), nonce)
            .await
            .unwrap_err()
            .code()
            .to_owned()
    };
    assert_eq!(
        refused(
            with(good.clone(), json!({ "iss": "https://evil.example" })),
            "n-123"
        )
        .await,
        "sso.wrong_issuer"
    );
    assert_eq!(
        refused(
            with(good.clone(), json!({ "aud": "someone-else" })),
            "n-123"
        )
        .await,
        "sso.wrong_audience"
    );
    assert_eq!(
        refused(
            with(good.clone(), json!({ "aud": [CLIENT, "someone-else"] })),
            "n-123"
        )
        .await,
        "sso.wrong_audience",
        "several audiences need azp"
    );
    assert!(
        v.validate(
            &sign(
                &with(
                    good.clone(),
                    json!({ "aud": [CLIENT, "someone-else"], "azp": CLIENT })
                ),
                "a",
                Some("key-a")
            ),
            "n-123"
        )
        .await
        .is_ok()
    );
    assert_eq!(refused(good.clone(), "another-nonce").await, "sso.nonce");
    assert_eq!(
        refused(with(good.clone(), json!({ "nonce": null })), "n-123").await,
        "sso.nonce"
    );
    assert_eq!(
        refused(with(good.clone(), json!({ "iat": NOW + 3600 })), "n-123").await,
        "sso.issued_in_future"
    );
    assert_eq!(
        refused(with(good.clone(), json!({ "exp": null })), "n-123").await,
        "sso.malformed"
    );

    // Expiry, with a minute of grace for clock skew.
    clock.0.store(NOW + 300 + 59, Ordering::SeqCst);
    assert!(
        v.validate(&sign(&good, "a", Some("key-a")), "n-123")
            .await
            .is_ok()
    );
    clock.0.store(NOW + 300 + 61, Ordering::SeqCst);
    assert_eq!(refused(good.clone(), "n-123").await, "sso.expired");
    clock.0.store(NOW, Ordering::SeqCst);

    // Signed by another key under key-a's id, or changed after signing.
    let forged = sign(&good, "b", Some("key-a"));
    assert_eq!(
        v.validate(&forged, "n-123").await.unwrap_err(),
        SsoError::BadSignature
    );
    let token = sign(&good, "a", Some("key-a"));
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = sign(
        &with(good.clone(), json!({ "sub": "u-admin" })),
        "a",
        Some("key-a"),
    );
    parts[1] = evil.split('.').nth(1).unwrap();
    assert_eq!(
        v.validate(&parts.join("."), "n-123").await.unwrap_err(),
        SsoError::BadSignature
    );

    // Unsigned and HMAC tokens are refused before any key is looked at.
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"the client secret").unwrap(),
    )
    .unwrap();
    assert_eq!(
        v.validate(&hmac, "n-123").await.unwrap_err().code(),
        "sso.algorithm"
    );
    let none = format!(
        "{}.{}.",
        "eyJhbGciOiJub25lIn0",
        token.split('.').nth(1).unwrap()
    );
    assert!(matches!(
        v.validate(&none, "n-123").await.unwrap_err(),
        SsoError::Algorithm { .. } | SsoError::Malformed { .. }
    ));
    assert_eq!(
        v.validate("not a token", "n-123").await.unwrap_err().code(),
        "sso.malformed"
    );
}

/// A key id the provider does not publish is refused; once the provider publishes its
/// new key (rotation), the next token signed with it passes. Made-up key ids fetch the
/// keys again at most once a minute.
#[tokio::test]
async fn a_rotated_key_is_picked_up_and_unknown_key_ids_do_not_hammer_the_provider() {
    let (issuer, idp) = start(vec![jwk("a")]).await;
    let (v, clock) = validator(&issuer).await;
    let good = claims(&issuer);
    v.validate(&sign(&good, "a", Some("key-a")), "n-123")
        .await
        .unwrap();
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    // key-b is not published yet: refused; a minute has not passed, so no refetch.
    let with_b = sign(&good, "b", Some("key-b"));
    assert_eq!(
        v.validate(&with_b, "n-123").await.unwrap_err(),
        SsoError::UnknownKey {
            kid: "key-b".to_owned()
        }
    );
    for kid in ["made-up-1", "made-up-2", "made-up-3"] {
        let err = v
            .validate(&sign(&good, "a", Some(kid)), "n-123")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "sso.unknown_key");
    }
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1, "no hammering");

    // The provider rotates: it publishes key-b beside key-a. A minute on, key-b's token
    // makes the set be fetched again and passes; key-a still works.
    idp.keys.lock().unwrap().push(jwk("b"));
    clock.0.store(NOW + 61, Ordering::SeqCst);
    v.validate(&with_b, "n-123").await.unwrap();
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 2);
    v.validate(&sign(&good, "a", Some("key-a")), "n-123")
        .await
        .unwrap();
    assert_eq!(
        idp.jwks_fetches.load(Ordering::SeqCst),
        2,
        "known keys: no fetch"
    );
    // Two keys published: a token without a key id cannot say which; refused.
    assert_eq!(
        v.validate(&sign(&good, "a", None), "n-123")
            .await
            .unwrap_err()
            .code(),
        "sso.unknown_key"
    );
}

/// Discovery checks the issuer exactly, the endpoints' scheme and PKCE support.
#[tokio::test]
async fn discovery_refuses_a_lookalike_issuer_plain_http_endpoints_and_no_pkce() {
    let (issuer, idp) = start(vec![jwk("a")]).await;
    let http = reqwest::Client::new();
    let found = discover(&http, &issuer).await.unwrap();
    assert_eq!(found.issuer, issuer);
    assert!(found.authorization_response_iss_parameter_supported);

    // The configured issuer with a trailing slash is another issuer.
    let err = discover(&http, &format!("{issuer}/")).await.unwrap_err();
    assert_eq!(err.code(), "sso.issuer_mismatch", "{err}");

    let document = |change: Value| {
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
        });
        for (k, v) in change.as_object().unwrap() {
            doc[k] = v.clone();
        }
        doc
    };
    *idp.document.lock().unwrap() = Some(document(json!({ "issuer": "https://idp.example" })));
    assert_eq!(
        discover(&http, &issuer).await.unwrap_err().code(),
        "sso.issuer_mismatch"
    );
    *idp.document.lock().unwrap() = Some(document(
        json!({ "token_endpoint": "http://idp.example/token" }),
    ));
    let err = discover(&http, &issuer).await.unwrap_err();
    assert!(
        err.code() == "sso.discovery" && err.to_string().contains("token_endpoint"),
        "{err}"
    );
    *idp.document.lock().unwrap() = Some(document(
        json!({ "code_challenge_methods_supported": ["plain"] }),
    ));
    let err = discover(&http, &issuer).await.unwrap_err();
    assert!(err.to_string().contains("S256"), "{err}");
    assert_eq!(
        discover(&http, "http://idp.example")
            .await
            .unwrap_err()
            .code(),
        "sso.discovery",
        "plain http off this computer"
    );
}
