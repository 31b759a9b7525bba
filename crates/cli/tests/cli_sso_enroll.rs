//! `latchkey enroll --sso` end to end, every part real: the Latchkey server (in this
//! process, on SQLite) with company sign-in, oidc-provider as the company's identity
//! provider, headless Chromium as the system browser (`$BROWSER`), the OS keychain
//! (run inside scripts/with-keychain.sh), and the `latchkey` binary. No code is typed:
//! the browser signs in, the server sends a one-time code to the CLI's loopback
//! listener, and the CLI redeems it with its PKCE verifier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready};
use serde_json::{Value, json};
use sha2::Digest;

const CLIENT_ID: &str = "latchkey-sso";
const CLIENT_SECRET: &str = "a-client-secret-only-the-server-knows";

/// Runs the real `latchkey` with the peers' browser signing in as `login`.
fn latchkey_as(login: &str, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("BROWSER", browser_script())
        .env("LATCHKEY_TEST_LOGIN", login)
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enroll_with_the_company_account_and_no_code_typed() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let mut store = TestStore::start().await;
    let clients = json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "application_type": "web",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [format!("{}/v1/console/sso/callback", store.url())],
    }])
    .to_string();
    let idp = AuthServer::start_with(
        3600,
        &[
            ("OIDC_EXTRA_CLIENTS", clients.as_str()),
            ("OIDC_USERS", "{}"),
            ("OIDC_FULL_ID_TOKEN", "1"),
        ],
    );
    store
        .with_sso(&[
            ("issuer", idp.issuer.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("token_endpoint_auth", "client_secret_basic"),
            ("allowed_domains", "acme.example"),
        ])
        .await;
    let (_link, user_id) = store.invite("ada@acme.example").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();

    // Ada enrolls with her company account: the browser does the rest.
    let out = latchkey_as(
        "ada@acme.example",
        data,
        &[
            "enroll",
            "--sso",
            &store.url(),
            "--device-name",
            "ada-laptop",
            "--timeout",
            "60",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Enrolled this computer as ada@acme.example"),
        "{}",
        text(&out)
    );
    // The device token works.
    let out = latchkey_as("ada@acme.example", data, &["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let devices = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/devices?user_id={user_id}"),
            None,
        )
        .await;
    assert_eq!(devices["devices"][0]["name"], "ada-laptop", "{devices}");

    // Someone the provider knows but Latchkey does not (and no just-in-time users): refused,
    // saying why and what to do, and nothing enrolled.
    let stranger_home = tempfile::tempdir().unwrap();
    let out = latchkey_as(
        "stranger@acme.example",
        stranger_home.path(),
        &["enroll", "--sso", &store.url(), "--timeout", "60"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("has not added you to Latchkey yet")
            && text(&out).contains("sso.unknown_user"),
        "{}",
        text(&out)
    );
    assert!(!stranger_home.path().join("device.json").exists());

    // A one-time code works once, and only with the verifier behind its challenge: a
    // device of our own (a loopback listener here) receives one through the browser.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect_uri = format!("http://127.0.0.1:{port}/latchkey/sso");
    let mut start = url::Url::parse(&format!("{}/v1/enroll/sso/start", store.url())).unwrap();
    start
        .query_pairs_mut()
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", "device-state-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let result_dir = tempfile::tempdir().unwrap();
    let result = result_dir.path().join("result.json");
    let mut browser = Command::new(browser_script());
    browser
        .arg(start.as_str())
        .env("LATCHKEY_TEST_LOGIN", "ada@acme.example")
        .env("LATCHKEY_TEST_BROWSER_RESULT", &result)
        .env("LATCHKEY_TEST_AFTER_CALLBACK", "return location.search;");
    let status = tokio::task::spawn_blocking(move || browser.status().unwrap())
        .await
        .unwrap();
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap_or_default()).unwrap();
    assert!(status.success(), "{result}");
    let query = result["after"].as_str().unwrap().trim_start_matches('?');
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("state").as_deref(), Some("device-state-1"));
    let code = get("code").expect("a one-time code");
    let http = reqwest::Client::new();
    let redeem = |verifier: &str| {
        http.post(format!("{}/v1/enroll/sso/redeem", store.url()))
            .json(&json!({ "code": code, "code_verifier": verifier, "device_name": "tool" }))
            .send()
    };
    let wrong = redeem("not-the-verifier").await.unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "sso.code_invalid"
    );
    let first = redeem(verifier).await.unwrap();
    assert_eq!(first.status(), reqwest::StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["user"]["email"], "ada@acme.example");
    assert!(first["device_token"].as_str().unwrap().starts_with("lkd_"));
    let replay = redeem(verifier).await.unwrap();
    assert_eq!(replay.status(), reqwest::StatusCode::UNAUTHORIZED);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["code"], "sso.code_used", "{replay}");

    // With just-in-time users on, someone from an allowed domain is created on enrollment.
    store
        .with_sso(&[
            ("issuer", idp.issuer.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("token_endpoint_auth", "client_secret_basic"),
            ("allowed_domains", "acme.example"),
            ("jit_users", "true"),
        ])
        .await;
    let newbie_home = tempfile::tempdir().unwrap();
    let out = latchkey_as(
        "newbie@acme.example",
        newbie_home.path(),
        &["enroll", "--sso", &store.url(), "--timeout", "60"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let users = store
        .admin(reqwest::Method::GET, "/v1/admin/users", None)
        .await;
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "newbie@acme.example"),
        "{users}"
    );
}
