//! Malformed, hostile and error token responses (checklist item 12) become
//! typed errors that never echo the response body, and nothing is kept.
//! A tiny HTTP server on 127.0.0.1 plays a misbehaving token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_catalog::{Catalog, Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::oauth::ProviderClient;
use latchkey_secret::SecretString;
use oauth2::PkceCodeVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one canned response to the first request, then stops.
async fn token_endpoint(
    status: &'static str,
    extra_headers: &'static str,
    body: Vec<u8>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let _ = stream.read(&mut buf).await;
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
    });
    format!("http://127.0.0.1:{port}")
}

fn client(issuer: &str) -> ProviderClient {
    let resolved = Catalog::builtin()
        .unwrap()
        .resolve(
            "demo-oauth",
            &Environment::Production,
            &Params::from([("issuer".to_owned(), issuer.to_owned())]),
        )
        .unwrap();
    ProviderClient::new(
        "Demo OAuth",
        resolved.oauth2().unwrap(),
        "latchkey-test",
        None,
        HttpClient::new().unwrap(),
    )
    .unwrap()
}

async fn exchange(
    status: &'static str,
    headers: &'static str,
    body: &str,
) -> latchkey_connect::ConnectError {
    let issuer = token_endpoint(status, headers, body.as_bytes().to_vec()).await;
    client(&issuer)
        .exchange_code(
            &SecretString::from("the-code"),
            PkceCodeVerifier::new("v".repeat(43)),
            "http://127.0.0.1:1/callback/demo-oauth",
        )
        .await
        .expect_err("the response must be refused")
}

const LEAK: &str = "LEAKED-SECRET-TOKEN-VALUE";

#[tokio::test]
async fn hostile_bodies_become_typed_errors_without_echo() {
    let cases: &[(&str, &str)] = &[
        ("not json", "<html>LEAKED-SECRET-TOKEN-VALUE</html>"),
        (
            "no access_token",
            r#"{"token_type":"Bearer","refresh_token":"LEAKED-SECRET-TOKEN-VALUE"}"#,
        ),
        (
            "wrong type",
            r#"{"access_token":["LEAKED-SECRET-TOKEN-VALUE"],"token_type":"Bearer"}"#,
        ),
        (
            "mac token",
            r#"{"access_token":"LEAKED-SECRET-TOKEN-VALUE","token_type":"mac"}"#,
        ),
        (
            "empty token",
            r#"{"access_token":"","token_type":"Bearer"}"#,
        ),
        (
            "whitespace",
            r#"{"access_token":"LEAKED SECRET","token_type":"Bearer"}"#,
        ),
        (
            "negative expiry",
            r#"{"access_token":"LEAKED-SECRET-TOKEN-VALUE","token_type":"Bearer","expires_in":-5}"#,
        ),
        (
            "expires_in that would overflow (found by fuzzing)",
            r#"{"access_token":"LEAKED-SECRET-TOKEN-VALUE","token_type":"Bearer","expires_in":18446744073709551615}"#,
        ),
        (
            "truncated",
            r#"{"access_token":"LEAKED-SECRET-TOKEN-VALUE","token_ty"#,
        ),
    ];
    for (name, body) in cases {
        let err = exchange("200 OK", "", body).await;
        assert_eq!(
            err.code(),
            "connect.invalid_token_response",
            "{name}: {err}"
        );
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(LEAK) && !shown.contains("LEAKED SECRET"),
            "{name} echoed the body: {shown}"
        );
    }
}

#[tokio::test]
async fn provider_errors_are_named_and_a_bad_verifier_is_reported() {
    let err = exchange(
        "400 Bad Request",
        "",
        r#"{"error":"invalid_grant","error_description":"PKCE verification failed"}"#,
    )
    .await;
    assert_eq!(err.code(), "connect.token_rejected");
    assert!(
        err.to_string()
            .contains("invalid_grant: PKCE verification failed"),
        "{err}"
    );
}

#[tokio::test]
async fn redirects_from_the_token_endpoint_are_not_followed() {
    let err = exchange(
        "302 Found",
        "Location: http://169.254.169.254/latest/meta-data\r\n",
        "",
    )
    .await;
    assert_eq!(err.code(), "connect.invalid_token_response", "{err}");
}

#[tokio::test]
async fn oversized_responses_are_cut_off() {
    let body = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let issuer = token_endpoint("200 OK", "", body.into_bytes()).await;
    let err = client(&issuer)
        .exchange_code(
            &SecretString::from("c"),
            PkceCodeVerifier::new("v".repeat(43)),
            "http://127.0.0.1:1/callback/demo-oauth",
        )
        .await
        .unwrap_err();
    // A bad answer from the provider, not a network failure (which would be retried).
    assert_eq!(err.code(), "connect.invalid_token_response", "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
    assert!(!err.to_string().contains("check your network"), "{err}");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_network_error() {
    // A port bound but never listened on: connections are refused, and no other test's
    // stub server can be handed the port meanwhile (a port bound and dropped could be).
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    let err = client(&format!("http://127.0.0.1:{port}"))
        .exchange_code(
            &SecretString::from("c"),
            PkceCodeVerifier::new("v".repeat(43)),
            "http://127.0.0.1:1/callback/demo-oauth",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.network", "{err}");
}

/// Slack's documented `oauth.v2.access` answer for a PKCE app with user
/// scopes (HTTP 200, the user token nested in `authed_user`, a bot token at the
/// top level), served by a local endpoint standing in for slack.com.
#[tokio::test]
async fn slack_user_tokens_are_unpacked_and_its_200_errors_refused() {
    let slack = |token_url: &str| {
        let mut resolved = Catalog::builtin()
            .unwrap()
            .resolve("slack", &Environment::Production, &Params::new())
            .unwrap()
            .oauth2()
            .unwrap()
            .clone();
        resolved.token_url = url::Url::parse(token_url).unwrap();
        ProviderClient::new(
            "Slack",
            &resolved,
            "1234.5678",
            None,
            HttpClient::new().unwrap(),
        )
        .unwrap()
    };
    let body = br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxb-bot-token",
        "token_type":"bot","scope":"commands",
        "authed_user":{"id":"U1234","scope":"users:read,channels:read",
          "access_token":"xoxe.xoxp-1-user-token","token_type":"user",
          "refresh_token":"xoxe-1-refresh-token","expires_in":43200},
        "team":{"id":"T9TK3CUKW","name":"Acme"},"enterprise":null,"is_enterprise_install":false}"#;
    let url = token_endpoint("200 OK", "", body.to_vec()).await;
    let tokens = slack(&format!("{url}/api/oauth.v2.access"))
        .exchange_code(
            &SecretString::from("the-code"),
            PkceCodeVerifier::new("v".repeat(43)),
            "http://127.0.0.1:17171/callback/slack",
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "xoxe.xoxp-1-user-token");
    assert_eq!(
        tokens.refresh_token.as_ref().unwrap().expose(),
        "xoxe-1-refresh-token"
    );
    assert!(tokens.expires_at.is_some());

    let url = token_endpoint(
        "200 OK",
        "",
        br#"{"ok":false,"error":"invalid_code"}"#.to_vec(),
    )
    .await;
    let err = slack(&format!("{url}/api/oauth.v2.access"))
        .exchange_code(
            &SecretString::from("the-code"),
            PkceCodeVerifier::new("v".repeat(43)),
            "http://127.0.0.1:17171/callback/slack",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.token_rejected", "{err}");
}
