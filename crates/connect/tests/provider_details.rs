//! Provider details that only show in real use, each against a local endpoint
//! that records exactly what it received: Dropbox's POST-only who-am-I,
//! GitHub's grant revocation, Slack's expiring refresh tokens, and an
//! oversized refresh answer that must not be retried.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use latchkey_catalog::{Catalog, Environment, Params, ResolvedOAuth2};
use latchkey_connect::http::HttpClient;
use latchkey_connect::oauth::{ProviderClient, RevocationOutcome};
use latchkey_secret::SecretString;
use latchkey_vault::TokenSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    head: String,
    body: String,
}

/// Answers every request with `status` and `body`, recording them.
async fn endpoint(status: &'static str, body: Vec<u8>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if rest.len() >= length {
                        let line = head.lines().next().unwrap().to_owned();
                        let mut parts = line.split(' ');
                        log.lock().unwrap().push(Seen {
                            method: parts.next().unwrap().to_owned(),
                            path: parts.next().unwrap().to_owned(),
                            head: head.to_owned(),
                            body: rest.to_owned(),
                        });
                        break;
                    }
                }
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

fn resolved(id: &str) -> ResolvedOAuth2 {
    Catalog::builtin()
        .unwrap()
        .resolve(id, &Environment::Production, &Params::new())
        .unwrap()
        .oauth2()
        .unwrap()
        .clone()
}

fn tokens(access: &str, refresh: Option<&str>) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access),
        refresh_token: refresh.map(SecretString::from),
        id_token: None,
        token_type: "Bearer".to_owned(),
        scopes: vec![],
        expires_at: None,
        issued_at: 0,
        instance_url: None,
        extras: Default::default(),
    }
}

#[tokio::test]
async fn dropbox_who_am_i_is_a_post() {
    let (url, seen) = endpoint(
        "200 OK",
        br#"{"account_id":"dbid:AAH4f99","email":"ada@acme.example","name":{"display_name":"Ada"}}"#
            .to_vec(),
    )
    .await;
    let mut dropbox = resolved("dropbox");
    dropbox.whoami.url = url::Url::parse(&format!("{url}/2/users/get_current_account")).unwrap();
    let client = ProviderClient::new(
        "Dropbox",
        &dropbox,
        "app-key",
        None,
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let who = client.identity(&tokens("sl.access", None)).await;
    assert_eq!(who.as_deref(), Some("ada@acme.example"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/2/users/get_current_account");
}

#[tokio::test]
async fn github_revokes_the_grant_as_the_app() {
    let (url, seen) = endpoint("204 No Content", Vec::new()).await;
    let mut github = resolved("github");
    github.revocation.as_mut().unwrap().url =
        url::Url::parse(&format!("{url}/applications")).unwrap();
    let client = ProviderClient::new(
        "GitHub",
        &github,
        "Iv1.8a61f9b3a7aba766",
        Some(SecretString::from("app-secret")),
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let outcome = client
        .revoke(
            &SecretString::from("gho_16C7e42F292c6912E7710c838347Ae178B4a"),
            "access_token",
        )
        .await
        .unwrap();
    assert_eq!(outcome, RevocationOutcome::Revoked);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(seen[0].path, "/applications/Iv1.8a61f9b3a7aba766/grant");
    // HTTP Basic with the client id and secret; the token in the JSON body, not the URL.
    let basic = base64_basic("Iv1.8a61f9b3a7aba766", "app-secret");
    assert!(
        seen[0]
            .head
            .to_ascii_lowercase()
            .contains(&format!("authorization: {}", basic.to_ascii_lowercase())),
        "{}",
        seen[0].head
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body["access_token"],
        "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    );

    // 404: GitHub no longer knows the token; as RFC 7009 says, that is revoked.
    let (url, _) = endpoint("404 Not Found", br#"{"message":"Not Found"}"#.to_vec()).await;
    github.revocation.as_mut().unwrap().url =
        url::Url::parse(&format!("{url}/applications")).unwrap();
    let client = ProviderClient::new(
        "GitHub",
        &github,
        "Iv1.8a61f9b3a7aba766",
        Some(SecretString::from("app-secret")),
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let outcome = client
        .revoke(&SecretString::from("gho_dead"), "access_token")
        .await
        .unwrap();
    assert_eq!(outcome, RevocationOutcome::Revoked);
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn slacks_expired_refresh_token_reads_reconnect_with_the_reason() {
    let (url, _) = endpoint(
        "200 OK",
        br#"{"ok":false,"error":"invalid_refresh_token"}"#.to_vec(),
    )
    .await;
    let mut slack = resolved("slack");
    slack.token_url = url::Url::parse(&format!("{url}/api/oauth.v2.access")).unwrap();
    let client = ProviderClient::new(
        "Slack",
        &slack,
        "1234.5678",
        None,
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let err = client
        .refresh(&tokens("xoxe.xoxp-old", Some("xoxe-1-old")))
        .await
        .unwrap_err();
    assert!(err.needs_reconnect(), "{err}");
    assert_eq!(err.code(), "connect.needs_reconnect");
    let shown = err.to_string();
    assert!(shown.contains("refresh token has expired"), "{shown}");
    assert!(shown.contains("Reconnect"), "{shown}");
}

#[tokio::test]
async fn an_oversized_refresh_answer_is_a_bad_answer_not_a_network_failure() {
    let body = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let (url, seen) = endpoint("200 OK", body.into_bytes()).await;
    let mut demo = Catalog::builtin()
        .unwrap()
        .resolve(
            "demo-oauth",
            &Environment::Production,
            &Params::from([("issuer".to_owned(), url.clone())]),
        )
        .unwrap()
        .oauth2()
        .unwrap()
        .clone();
    demo.token_url = url::Url::parse(&format!("{url}/token")).unwrap();
    let client = ProviderClient::new(
        "Demo OAuth",
        &demo,
        "latchkey",
        None,
        HttpClient::new().unwrap(),
    )
    .unwrap();
    let err = client
        .refresh(&tokens("old", Some("refresh")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.invalid_token_response", "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn microsoft_asks_no_openid_scope_it_would_not_validate() {
    let ms = Catalog::builtin()
        .unwrap()
        .resolve("microsoft-365", &Environment::Production, &Params::new())
        .unwrap();
    let oauth = ms.oauth2().unwrap();
    assert!(!oauth.default_scopes.iter().any(|s| s == "openid"));
    assert!(oauth.default_scopes.iter().any(|s| s == "offline_access"));
}
