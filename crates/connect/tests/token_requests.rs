//! The token requests as a token endpoint receives them, for each way a client
//! authenticates (RFC 6749 §2.3.1), and the answers read by the one reader the
//! fuzzer also drives. A local endpoint records every request byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use latchkey_catalog::model::ClientAuth;
use latchkey_catalog::{Catalog, Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::oauth::ProviderClient;
use latchkey_secret::SecretString;
use latchkey_vault::TokenSet;
use oauth2::PkceCodeVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    /// Header lines, names lowercased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Answers every request with `status` and `body`, recording each request.
async fn endpoint(status: &'static str, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
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
                let Some((head, rest)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let mut lines = head.lines();
                let request_line = lines.next().unwrap().to_owned();
                let headers: Vec<(String, String)> = lines
                    .map(|l| {
                        let (name, value) = l.split_once(':').unwrap();
                        (name.to_ascii_lowercase(), value.trim().to_owned())
                    })
                    .collect();
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
                if rest.len() >= length {
                    log.lock().unwrap().push(Seen {
                        request_line,
                        headers,
                        body: rest.to_owned(),
                    });
                    break;
                }
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

fn client(issuer: &str, auth: ClientAuth, secret: Option<&str>) -> ProviderClient {
    let mut resolved = Catalog::builtin()
        .unwrap()
        .resolve(
            "demo-oauth",
            &Environment::Production,
            &Params::from([("issuer".to_owned(), issuer.to_owned())]),
        )
        .unwrap()
        .oauth2()
        .unwrap()
        .clone();
    resolved.token_url = url::Url::parse(&format!("{issuer}/token")).unwrap();
    resolved.client_auth = auth;
    resolved.client_secret_required = false;
    ProviderClient::new(
        "Demo OAuth",
        &resolved,
        "latchkey",
        secret.map(SecretString::from),
        HttpClient::new().unwrap(),
    )
    .unwrap()
}

fn tokens(refresh: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::from("old-access"),
        refresh_token: Some(SecretString::from(refresh)),
        id_token: None,
        token_type: "Bearer".to_owned(),
        scopes: vec![],
        expires_at: None,
        issued_at: 0,
        instance_url: None,
        extras: Default::default(),
    }
}

const TOKENS: &str = r#"{"access_token":"new-access","token_type":"Bearer","expires_in":3600}"#;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:17171/callback/demo-oauth";
const REDIRECT_FORM: &str = "http%3A%2F%2F127.0.0.1%3A17171%2Fcallback%2Fdemo-oauth";
const SECRET: &str = "s3cr&t:é";
const SECRET_FORM: &str = "s3cr%26t%3A%C3%A9";
/// base64("latchkey:" + SECRET_FORM): RFC 6749 §2.3.1 form-encodes both before Basic.
const BASIC: &str = "Basic bGF0Y2hrZXk6czNjciUyNnQlM0ElQzMlQTk=";

async fn exchange(auth: ClientAuth, secret: Option<&str>) -> Seen {
    let (url, seen) = endpoint("200 OK", TOKENS).await;
    let tokens = client(&url, auth, secret)
        .exchange_code(
            &SecretString::from("the code/1"),
            PkceCodeVerifier::new(VERIFIER.to_owned()),
            REDIRECT,
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "new-access");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    seen[0].clone()
}

async fn refresh(auth: ClientAuth, secret: Option<&str>) -> Seen {
    let (url, seen) = endpoint("200 OK", TOKENS).await;
    let fresh = client(&url, auth, secret)
        .refresh(&tokens("rt+1/x"))
        .await
        .unwrap();
    assert_eq!(fresh.access_token.expose(), "new-access");
    assert_eq!(fresh.refresh_token.unwrap().expose(), "rt+1/x", "kept");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    seen[0].clone()
}

fn assert_form_post(seen: &Seen) {
    assert_eq!(seen.request_line, "POST /token HTTP/1.1");
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn a_public_client_sends_its_id_in_the_form() {
    let seen = exchange(ClientAuth::None, None).await;
    assert_form_post(&seen);
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.body,
        format!(
            "grant_type=authorization_code&code=the+code%2F1&code_verifier={VERIFIER}\
             &client_id=latchkey&redirect_uri={REDIRECT_FORM}"
        )
    );

    let seen = refresh(ClientAuth::None, None).await;
    assert_form_post(&seen);
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.body,
        "grant_type=refresh_token&refresh_token=rt%2B1%2Fx&client_id=latchkey"
    );
}

#[tokio::test]
async fn client_secret_post_sends_id_and_secret_in_the_form() {
    let seen = exchange(ClientAuth::ClientSecretPost, Some(SECRET)).await;
    assert_form_post(&seen);
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.body,
        format!(
            "grant_type=authorization_code&code=the+code%2F1&code_verifier={VERIFIER}\
             &client_id=latchkey&client_secret={SECRET_FORM}&redirect_uri={REDIRECT_FORM}"
        )
    );

    let seen = refresh(ClientAuth::ClientSecretPost, Some(SECRET)).await;
    assert_eq!(
        seen.body,
        format!(
            "grant_type=refresh_token&refresh_token=rt%2B1%2Fx&client_id=latchkey\
             &client_secret={SECRET_FORM}"
        )
    );
}

#[tokio::test]
async fn client_secret_basic_sends_the_form_encoded_pair_in_the_header_only() {
    let seen = exchange(ClientAuth::ClientSecretBasic, Some(SECRET)).await;
    assert_form_post(&seen);
    assert_eq!(seen.header("authorization"), Some(BASIC));
    assert_eq!(
        seen.body,
        format!(
            "grant_type=authorization_code&code=the+code%2F1&code_verifier={VERIFIER}\
             &redirect_uri={REDIRECT_FORM}"
        )
    );
    assert!(!seen.body.contains("client_id"));

    let seen = refresh(ClientAuth::ClientSecretBasic, Some(SECRET)).await;
    assert_eq!(seen.header("authorization"), Some(BASIC));
    assert_eq!(
        seen.body,
        "grant_type=refresh_token&refresh_token=rt%2B1%2Fx"
    );
}

#[tokio::test]
async fn client_secret_basic_without_a_secret_falls_back_to_the_id_in_the_form() {
    let seen = exchange(ClientAuth::ClientSecretBasic, None).await;
    assert_eq!(seen.header("authorization"), None);
    assert!(seen.body.contains("&client_id=latchkey&"), "{}", seen.body);
}

/// The same answers read by the exchange (over HTTP) and by the fuzzer's entry
/// (`parse_token_response`, bytes in) end the same way: one reader, not two.
#[tokio::test]
async fn the_exchange_and_the_fuzzed_reader_agree() {
    let cases: &[(&'static str, u16, &'static str)] = &[
        ("200 OK", 200, TOKENS),
        ("200 OK", 200, "<html>not json</html>"),
        ("200 OK", 200, r#"{"token_type":"Bearer"}"#),
        ("200 OK", 200, r#"{"access_token":"a","token_type":"mac"}"#),
        (
            "200 OK",
            200,
            r#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#,
        ),
        (
            "200 OK",
            200,
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        ),
        (
            "400 Bad Request",
            400,
            r#"{"error":"invalid_grant","error_description":"PKCE verification failed"}"#,
        ),
        ("400 Bad Request", 400, r#"{"error":7}"#),
        ("401 Unauthorized", 401, "<html>no</html>"),
        (
            "503 Service Unavailable",
            503,
            r#"{"error":"temporarily_unavailable"}"#,
        ),
        ("201 Created", 201, TOKENS),
    ];
    for (status_line, status, body) in cases {
        let (url, _) = endpoint(status_line, body).await;
        let provider = client(&url, ClientAuth::None, None);
        let over_http = provider
            .exchange_code(
                &SecretString::from("c"),
                PkceCodeVerifier::new(VERIFIER.to_owned()),
                REDIRECT,
            )
            .await;
        let from_bytes = provider.parse_token_response(*status, body.as_bytes());
        match (over_http, from_bytes) {
            (Ok(a), Ok(b)) => assert_eq!(a.access_token, b.access_token, "{body}"),
            (Err(a), Err(b)) => {
                assert_eq!(
                    (a.code(), a.to_string()),
                    (b.code(), b.to_string()),
                    "{body}"
                );
            }
            (a, b) => panic!("{body}: {:?} / {:?}", a.err(), b.err()),
        }
    }
}

/// GitHub answers a used or wrong code with HTTP 200 and an RFC 6749 error body:
/// the user sees GitHub's reason, not "unusable answer".
#[tokio::test]
async fn an_error_sent_with_200_is_the_providers_refusal() {
    let (url, _) = endpoint(
        "200 OK",
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/"}"#,
    )
    .await;
    let err = client(&url, ClientAuth::ClientSecretPost, Some(SECRET))
        .exchange_code(
            &SecretString::from("c"),
            PkceCodeVerifier::new(VERIFIER.to_owned()),
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.token_rejected", "{err}");
    assert!(
        err.to_string()
            .contains("bad_verification_code: The code passed is incorrect or expired."),
        "{err}"
    );

    let (url, seen) = endpoint("200 OK", r#"{"error":"invalid_grant"}"#).await;
    let err = client(&url, ClientAuth::None, None)
        .refresh(&tokens("dead"))
        .await
        .unwrap_err();
    assert!(err.needs_reconnect(), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1, "no retry");
}
