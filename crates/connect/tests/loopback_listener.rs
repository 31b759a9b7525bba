//! The loopback listener against the native-client checklist
//! (../shared/guides/oauth-checklist.md, items 1-8 and 10), over real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_connect::ConnectError;
use latchkey_connect::loopback::{Callback, CallbackListener, Expectation};
use latchkey_secret::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const STATE: &str = "k9Vb3P1sJ2uXqR0aT7mW4eYc8nLzHfDg";

/// Sends a raw HTTP request to the listener and returns (status, body).
async fn get(port: u16, method: &str, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(
            format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

async fn listener() -> CallbackListener {
    CallbackListener::bind("Demo", None, "/callback/demo")
        .await
        .unwrap()
}

fn spawn_wait(
    listener: CallbackListener,
    issuer: Option<&'static str>,
    require_iss: bool,
    timeout: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<Result<Callback, ConnectError>> {
    tokio::spawn(async move {
        let state = SecretString::from(STATE);
        listener
            .wait(
                Expectation {
                    provider: "Demo",
                    state: &state,
                    issuer,
                    require_iss,
                },
                timeout,
                cancel,
            )
            .await
    })
}

#[tokio::test]
async fn binds_127_0_0_1_with_an_ip_literal_redirect_uri() {
    let l = listener().await;
    let uri = l.redirect_uri();
    assert_eq!(uri, format!("http://127.0.0.1:{}/callback/demo", l.port()));
    assert!(!uri.contains("localhost"));
    // Not reachable on other interfaces: 0.0.0.0 was never bound. The port is
    // reachable on loopback only.
    assert!(TcpStream::connect(("127.0.0.1", l.port())).await.is_ok());
}

#[tokio::test]
async fn other_paths_and_methods_get_404_and_do_not_consume_the_state() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        None,
        false,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    assert_eq!(
        get(port, "GET", &format!("/favicon.ico?state={STATE}&code=x"))
            .await
            .0,
        404
    );
    assert_eq!(
        get(
            port,
            "GET",
            &format!("/callback/other?state={STATE}&code=x")
        )
        .await
        .0,
        404
    );
    assert_eq!(
        get(
            port,
            "POST",
            &format!("/callback/demo?state={STATE}&code=x")
        )
        .await
        .0,
        404
    );
    // Still waiting: the real callback is accepted afterwards.
    let client = tokio::spawn(async move {
        get(
            port,
            "GET",
            &format!("/callback/demo?code=the-code&state={STATE}"),
        )
        .await
    });
    let callback = wait.await.unwrap().unwrap();
    assert_eq!(callback.code.expose(), "the-code");
    callback
        .responder
        .finish(true, "Connected to Demo. You can close this tab.")
        .await;
    let (status, body) = client.await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("Connected to Demo"), "{body}");
}

#[tokio::test]
async fn wrong_missing_or_repeated_state_is_refused_and_the_flow_keeps_waiting() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        None,
        false,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    let (status, body) = get(port, "GET", "/callback/demo?code=x&state=wrong").await;
    assert_eq!(status, 400);
    assert!(body.contains("another attempt"), "{body}");
    let (status, body) = get(port, "GET", "/callback/demo?code=x").await;
    assert_eq!(status, 400);
    assert!(body.contains("no state"), "{body}");
    let (status, _) = get(
        port,
        "GET",
        &format!("/callback/demo?code=x&state={STATE}&state={STATE}"),
    )
    .await;
    assert_eq!(status, 400);
    let client = tokio::spawn(async move {
        get(
            port,
            "GET",
            &format!("/callback/demo?code=good&state={STATE}"),
        )
        .await
    });
    let callback = wait.await.unwrap().unwrap();
    assert_eq!(callback.code.expose(), "good");
    callback.responder.finish(true, "ok").await;
    client.await.unwrap();
}

#[tokio::test]
async fn one_callback_then_the_port_is_closed() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        None,
        false,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    let client = tokio::spawn(async move {
        get(port, "GET", &format!("/callback/demo?code=c&state={STATE}")).await
    });
    let callback = wait.await.unwrap().unwrap();
    callback.responder.finish(true, "ok").await;
    client.await.unwrap();
    // A replay of the same (used) state finds nobody listening.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn a_provider_error_ends_the_flow_with_the_reason_shown() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        None,
        false,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    let (status, body) = get(
        port,
        "GET",
        &format!("/callback/demo?error=access_denied&error_description=End-User+aborted+interaction&state={STATE}"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("access_denied"), "{body}");
    let err = wait.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "connect.denied");
    assert!(
        err.to_string().contains("End-User aborted interaction"),
        "{err}"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn a_foreign_or_missing_issuer_is_refused() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        Some("https://login.salesforce.com"),
        true,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    get(
        port,
        "GET",
        &format!("/callback/demo?code=c&state={STATE}&iss=https%3A%2F%2Fevil.example"),
    )
    .await;
    let err = wait.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "connect.issuer_mismatch");

    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        Some("https://login.salesforce.com"),
        true,
        Duration::from_secs(10),
        CancellationToken::new(),
    );
    get(port, "GET", &format!("/callback/demo?code=c&state={STATE}")).await;
    assert_eq!(
        wait.await.unwrap().unwrap_err().code(),
        "connect.issuer_missing"
    );
}

#[tokio::test]
async fn it_times_out_and_frees_the_port() {
    let l = listener().await;
    let port = l.port();
    let wait = spawn_wait(
        l,
        None,
        false,
        Duration::from_millis(300),
        CancellationToken::new(),
    );
    let err = wait.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "connect.timed_out");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    // The same fixed port can be bound again at once.
    CallbackListener::bind("Demo", Some(port), "/callback/demo")
        .await
        .unwrap();
}

#[tokio::test]
async fn it_can_be_cancelled_and_frees_the_port() {
    let l = listener().await;
    let port = l.port();
    let cancel = CancellationToken::new();
    let wait = spawn_wait(l, None, false, Duration::from_secs(30), cancel.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    cancel.cancel();
    assert_eq!(wait.await.unwrap().unwrap_err().code(), "connect.cancelled");
    CallbackListener::bind("Demo", Some(port), "/callback/demo")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_busy_fixed_port_is_a_clear_error() {
    let l = listener().await;
    let err = CallbackListener::bind("Salesforce", Some(l.port()), "/OauthRedirect")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect.listener_unavailable");
    assert!(
        err.to_string()
            .contains("Close the program using that port"),
        "{err}"
    );
}
