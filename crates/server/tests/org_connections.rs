//! Org connections end to end, on SQLite and PostgreSQL (through scripts/with-postgres.sh):
//! a real Latchkey server, oidc-provider answering as Salesforce does (no expires_in,
//! instance_url, 401 INVALID_SESSION_ID, the UserPermissionAccess query) with a client
//! registered for the server's own callback. An admin authorizes in a console session;
//! what must be refused (API tokens, another session, another connection's state, a
//! foreign issuer, a replay); devices call through the proxy (allow-listed, audited) and
//! never see a token; one refresh for many concurrent callers; Test connection names the
//! missing permission; Revoke and disabling revoke at the provider; invalid_grant shows
//! "needs re-authorization"; `rotate-key` reseals the tokens (calls go on, no new
//! authorization); a lost server key shows "needs re-authorization"; and no token
//! appears in any API answer, in the database or in the server's log (DEBUG).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_server::org_tokens::{TokenField, open_token};
use latchkey_test_peers::store::ADMIN_EMAIL;
use latchkey_test_peers::{AuthServer, Backend, TestStore, files_containing, peers_ready};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const CLIENT_ID: &str = "latchkey-org";
const CONNECTION: &str = "demo-salesforce";
const ADMIN_PASSWORD: &str = "a long admin password";

/// Everything this test binary logs (both backends' stories, the server's and its
/// dependencies' events down to DEBUG), for the leak scan at the end.
#[derive(Clone)]
struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn server_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = LogCapture(log.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        log
    })
    .clone()
}

/// Every answer the story saw, for the leak scan at the end.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct Http {
    base: String,
    client: reqwest::Client,
    seen: Seen,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Http {
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        self.seen
            .0
            .lock()
            .unwrap()
            .push(format!("{headers:?} {text}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// A console session: its cookie header value and CSRF token.
async fn sign_in(http: &Http) -> (String, String) {
    let a = http
        .call(
            Method::POST,
            "/v1/admin/login",
            &[],
            Some(json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, a.body["csrf_token"].as_str().unwrap().to_owned())
}

/// Presses Authorize in `session`: the provider's URL and the pending cookie.
async fn start(http: &Http, session: &(String, String), connection: &str) -> (String, String) {
    let a = http
        .call(
            Method::POST,
            &format!("/v1/admin/integrations/{connection}/authorize"),
            &[("cookie", &session.0), ("x-csrf-token", &session.1)],
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let pending = a.headers["set-cookie"].to_str().unwrap();
    assert!(
        pending.contains("HttpOnly") && pending.contains("SameSite=Lax"),
        "{pending}"
    );
    let pending = pending.split(';').next().unwrap().to_owned();
    (
        a.body["authorization_url"].as_str().unwrap().to_owned(),
        pending,
    )
}

/// The provider's redirect to the server's callback, followed with `cookies`.
async fn callback(http: &Http, url: &str, cookies: &[&str]) -> Answer {
    let jar = cookies.join("; ");
    http.call(Method::GET, url, &[("cookie", &jar)], None).await
}

fn page_code(a: &Answer) -> String {
    let html = a.body.as_str().unwrap_or_default();
    html.split("<code id=\"code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

/// The tokens the server holds for the connection, opened with its key (test only).
async fn held_tokens(store: &TestStore) -> Option<(String, Option<String>)> {
    let state = store.state();
    let t = state
        .db
        .get_org_token(&state.org.id, CONNECTION)
        .await
        .unwrap()?;
    let open = |field, sealed: &[u8]| {
        open_token(
            &state.key,
            &t.org_id,
            &t.integration_id,
            &t.environment,
            field,
            sealed,
        )
        .unwrap()
        .expose()
        .to_owned()
    };
    Some((
        open(TokenField::Access, &t.access_sealed),
        t.refresh_sealed
            .as_deref()
            .map(|r| open(TokenField::Refresh, r)),
    ))
}

async fn put_connection(store: &TestStore, idp: &AuthServer, enabled: bool, customize: bool) {
    store
        .admin(
            Method::PUT,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            Some(json!({
                "enabled": enabled,
                "client_id": CLIENT_ID,
                "params": { "issuer": idp.issuer },
                "api_paths": ["/query", "/limits"],
                "org_wide": true,
                "require_customize_application": customize,
            })),
        )
        .await;
}

async fn authorize(http: &Http, idp: &AuthServer, session: &(String, String)) {
    let (url, pending) = start(http, session, CONNECTION).await;
    let cb = idp.authorize_headless(&url, "ada@acme.example").await;
    let a = callback(http, &cb, &[&session.0, &pending]).await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        format!("/console/integrations/{CONNECTION}?authorized=1")
    );
}

async fn story(backend: Backend) {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let log = server_log();
    let mut store = TestStore::start_on(backend).await;
    // Access tokens live 3 s: long enough for a call, short enough to see them expire.
    let idp = AuthServer::start_salesforce_for_org(3, CLIENT_ID, &store.url());
    let seen = Seen::default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let http = Http {
        base: store.url(),
        client,
        seen: seen.clone(),
    };
    put_connection(&store, &idp, true, false).await;
    // A second org connection, only to start a flow for it.
    store
        .admin(
            Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({ "enabled": true, "client_id": CLIENT_ID, "params": { "issuer": idp.issuer }, "org_wide": true })),
        )
        .await;

    // Authorize needs a console session (a browser), not an API token.
    let (status, body) = store
        .admin_reply(
            Method::POST,
            &format!("/v1/admin/integrations/{CONNECTION}/authorize"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "org.authorize_needs_session");

    let session = sign_in(&http).await;
    let other_session = sign_in(&http).await;
    let (url1, pending1) = start(&http, &session, CONNECTION).await;
    assert!(
        url1.contains("code_challenge_method=S256") && url1.contains("state="),
        "{url1}"
    );
    assert!(url1.contains(&format!(
            "redirect_uri={}",
            url::form_urlencoded::byte_serialize(
                format!("{}/v1/oauth/callback", store.url()).as_bytes()
            )
            .collect::<String>()
        )));
    let cb1 = idp.authorize_headless(&url1, "ada@acme.example").await;
    assert!(
        cb1.starts_with(&format!("{}/v1/oauth/callback?", store.url())),
        "{cb1}"
    );

    // Refused: no pending cookie; another admin session; the state of another connection's flow.
    let a = callback(&http, &cb1, &[&session.0]).await;
    assert_eq!(
        (a.status, page_code(&a).as_str()),
        (StatusCode::BAD_REQUEST, "org.no_pending_authorization")
    );
    let a = callback(&http, &cb1, &[&other_session.0, &pending1]).await;
    assert_eq!(
        (a.status, page_code(&a).as_str()),
        (StatusCode::FORBIDDEN, "org.session_mismatch")
    );
    let (_, pending_other) = start(&http, &session, "demo-oauth").await;
    let a = callback(&http, &cb1, &[&session.0, &pending_other]).await;
    assert_eq!(
        (a.status, page_code(&a).as_str()),
        (StatusCode::BAD_REQUEST, "org.state_mismatch")
    );
    // A foreign issuer (mix-up): refused, nothing stored.
    let mut foreign = url::Url::parse(&cb1).unwrap();
    let pairs: Vec<(String, String)> = foreign
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    foreign.query_pairs_mut().clear().extend_pairs(pairs);
    let a = callback(&http, foreign.as_str(), &[&session.0, &pending1]).await;
    assert_eq!(
        (a.status, page_code(&a).as_str()),
        (StatusCode::FORBIDDEN, "org.wrong_issuer")
    );
    assert!(held_tokens(&store).await.is_none());

    // The real thing, then a replay of it.
    let (url, pending) = start(&http, &session, CONNECTION).await;
    let cb = idp.authorize_headless(&url, "ada@acme.example").await;
    let code = url::Url::parse(&cb)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let a = callback(&http, &cb, &[&session.0, &pending]).await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    let a = callback(&http, &cb, &[&session.0, &pending]).await;
    assert_eq!(page_code(&a), "org.state_used");
    let (access1, refresh1) = held_tokens(&store).await.unwrap();
    let refresh1 = refresh1.expect("a refresh token");
    assert!(idp.active(CLIENT_ID, &refresh1).await);

    // Health in the console: who, when; never the tokens.
    let admin_token = format!("Bearer {}", store_admin_token(&store));
    let view = http
        .call(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            &[("authorization", &admin_token)],
            None,
        )
        .await
        .body;
    assert_eq!(view["org_wide"], true);
    assert_eq!(view["org_connection"]["authorized_by"], ADMIN_EMAIL);
    assert_eq!(view["org_connection"]["needs_reauthorization"], false);
    // The callback the console shows to register is the redirect_uri Authorize sent.
    let catalog = http
        .call(
            Method::GET,
            "/v1/admin/catalog",
            &[("authorization", &admin_token)],
            None,
        )
        .await
        .body;
    let shown = catalog["org_callback_url"].as_str().unwrap();
    assert!(
        url1.contains(&format!(
            "redirect_uri={}&",
            url::form_urlencoded::byte_serialize(shown.as_bytes()).collect::<String>()
        )) || url1.ends_with(&format!(
            "redirect_uri={}",
            url::form_urlencoded::byte_serialize(shown.as_bytes()).collect::<String>()
        )),
        "{shown} in {url1}"
    );

    // A device: told it is connected by the admin, given neither client nor token.
    let invite = store
        .admin(
            Method::POST,
            "/v1/admin/users",
            Some(json!({ "email": "grace@acme.example", "display_name": "Grace" })),
        )
        .await;
    let enrolled = http
        .call(
            Method::POST,
            "/v1/enroll",
            &[],
            Some(json!({ "code": invite["enrollment"]["code"], "device_name": "Grace laptop" })),
        )
        .await;
    let device = format!("Bearer {}", enrolled.body["device_token"].as_str().unwrap());
    let mine = http
        .call(
            Method::GET,
            "/v1/integrations",
            &[("authorization", &device)],
            None,
        )
        .await
        .body;
    let sf = mine["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == CONNECTION)
        .unwrap()
        .clone();
    assert_eq!(sf["org_wide"], true);
    assert_eq!(sf["connected"], true);
    assert_eq!(sf["client_secret"], Value::Null);
    assert_eq!(sf["client_id"], Value::Null);

    // Through the proxy, to instance_url: allow-listed and audited.
    let query = format!("/v1/proxy/{CONNECTION}/query?q=SELECT+Id,Name+FROM+Account");
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["records"][0]["Name"], "Acme 1");
    let a = http
        .call(
            Method::GET,
            &format!("/v1/proxy/{CONNECTION}/sobjects/Account"),
            &[("authorization", &device)],
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("path_not_allowed"))
    );
    let audit = http
        .call(
            Method::GET,
            "/v1/admin/audit?action=proxy.request",
            &[("authorization", &admin_token)],
            None,
        )
        .await
        .body;
    let text = audit.to_string();
    assert!(
        text.contains("\"org_wide\":true") && text.contains("/query"),
        "{text}"
    );
    assert!(
        !text.contains("/sobjects/Account"),
        "refused calls never went out: {text}"
    );

    // Expired: many concurrent calls, one refresh.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let before = idp.refreshes().await;
    let device_header = [("authorization", device.as_str())];
    let calls = (0..6).map(|_| http.call(Method::GET, &query, &device_header, None));
    for a in futures_util::future::join_all(calls).await {
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    assert_eq!(
        idp.refreshes().await - before,
        1,
        "one refresh for six callers"
    );
    let (access2, refresh2) = held_tokens(&store).await.unwrap();
    assert_ne!(access1, access2);
    assert_eq!(
        refresh2.as_deref(),
        Some(refresh1.as_str()),
        "no rotation: the refresh token is kept"
    );

    // The server key rotates (`rotate-key`, servers stopped): the org tokens move to the
    // new key with the client secrets, and calls go on without a new authorization.
    let state = store.state();
    let before_rotation = state
        .db
        .get_org_token(&state.org.id, CONNECTION)
        .await
        .unwrap()
        .unwrap();
    let old_key =
        latchkey_server::crypto::ServerKey::from_hex(&latchkey_secret::SecretString::new(
            std::fs::read_to_string(store.dir().join("server.key"))
                .unwrap()
                .trim()
                .to_owned(),
        ))
        .unwrap();
    let resealed = store.rotate_key().await;
    assert_eq!(
        resealed, 2,
        "the access and refresh tokens (no client secret)"
    );
    let state = store.state();
    let after_rotation = state
        .db
        .get_org_token(&state.org.id, CONNECTION)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after_rotation.authorized_at, before_rotation.authorized_at);
    assert_ne!(after_rotation.access_sealed, before_rotation.access_sealed);
    for (field, sealed) in [
        (TokenField::Access, &after_rotation.access_sealed),
        (
            TokenField::Refresh,
            after_rotation.refresh_sealed.as_ref().unwrap(),
        ),
    ] {
        assert!(
            open_token(
                &old_key,
                &after_rotation.org_id,
                CONNECTION,
                &after_rotation.environment,
                field,
                sealed
            )
            .is_err(),
            "the old key opens nothing"
        );
    }
    assert_eq!(
        held_tokens(&store).await.unwrap(),
        (access2.clone(), Some(refresh1.clone())),
        "the same tokens, under the new key"
    );
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Once the access token expires, the refresh token (resealed too) still refreshes.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let before = idp.refreshes().await;
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(idp.refreshes().await - before, 1);
    let (access_rotated, _) = held_tokens(&store).await.unwrap();
    let view = store
        .admin(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(
        view["org_connection"]["needs_reauthorization"], false,
        "{view}"
    );
    assert_eq!(view["org_connection"]["authorized_by"], ADMIN_EMAIL);

    // Test connection: a real call naming what the user lacks.
    let test = |customize: bool| {
        let http = &http;
        let admin_token = admin_token.clone();
        let store = &store;
        let idp = &idp;
        async move {
            put_connection(store, idp, true, customize).await;
            http.call(
                Method::POST,
                &format!("/v1/admin/integrations/{CONNECTION}/test"),
                &[("authorization", &admin_token)],
                None,
            )
            .await
            .body
        }
    };
    let t = test(true).await;
    assert_eq!(t["ok"], true, "{t}");
    idp.salesforce_permissions(true, false).await;
    let t = test(true).await;
    assert_eq!(t["ok"], false);
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("\"Customize Application\""),
        "{t}"
    );
    assert_eq!(test(false).await["ok"], true, "not asked for: not needed");
    idp.salesforce_permissions(false, false).await;
    let t = test(false).await;
    assert_eq!(t["ok"], false);
    assert!(
        t["message"].as_str().unwrap().contains("\"API Enabled\""),
        "{t}"
    );
    idp.salesforce_permissions(true, true).await;

    // Revoke: gone from the server, dead at the provider.
    let a = http
        .call(
            Method::POST,
            &format!("/v1/admin/integrations/{CONNECTION}/revoke"),
            &[("authorization", &admin_token)],
            None,
        )
        .await;
    assert_eq!(a.body["revoked_at_provider"], true, "{}", a.body);
    assert!(!idp.active(CLIENT_ID, &refresh1).await);
    assert!(held_tokens(&store).await.is_none());
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.body["code"], "org.not_authorized");

    // Disabling revokes too.
    authorize(&http, &idp, &session).await;
    let (_, refresh3) = held_tokens(&store).await.unwrap();
    let refresh3 = refresh3.unwrap();
    assert!(idp.active(CLIENT_ID, &refresh3).await);
    put_connection(&store, &idp, false, false).await;
    assert!(!idp.active(CLIENT_ID, &refresh3).await);
    assert!(held_tokens(&store).await.is_none());

    // The refresh token revoked elsewhere: "needs re-authorization", no retry loop.
    put_connection(&store, &idp, true, false).await;
    authorize(&http, &idp, &session).await;
    let (access4, refresh4) = held_tokens(&store).await.unwrap();
    let refresh4 = refresh4.unwrap();
    idp.revoke_directly(CLIENT_ID, &refresh4).await;
    let before = idp.refreshes().await;
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.body["code"], "org.needs_reauthorization", "{}", a.body);
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.body["code"], "org.needs_reauthorization");
    assert_eq!(
        idp.refreshes().await - before,
        1,
        "marked once, not retried"
    );
    let view = http
        .call(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            &[("authorization", &admin_token)],
            None,
        )
        .await
        .body;
    assert_eq!(view["org_connection"]["needs_reauthorization"], true);
    assert_eq!(view["org_connection"]["reason"], "invalid_grant");

    // The server key lost (started with another, no rotation): the tokens no longer
    // open, and the console says so before a user's call finds out.
    authorize(&http, &idp, &session).await;
    let (access5, refresh5) = held_tokens(&store).await.unwrap();
    let refresh5 = refresh5.unwrap();
    let view = store
        .admin(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(
        view["org_connection"]["needs_reauthorization"], false,
        "{view}"
    );
    store.lose_key().await;
    let view = store
        .admin(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(
        view["org_connection"]["needs_reauthorization"], true,
        "{view}"
    );
    assert_eq!(view["org_connection"]["reason"], "server_key_changed");
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.body["code"], "org.needs_reauthorization", "{}", a.body);
    let session = sign_in(&http).await;
    authorize(&http, &idp, &session).await;
    let view = store
        .admin(
            Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(
        view["org_connection"]["needs_reauthorization"], false,
        "{view}"
    );
    let a = http
        .call(Method::GET, &query, &[("authorization", &device)], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "authorized again: {}", a.body);

    // Leak scan: no token in any answer the admin API or the device API gave, nor in the
    // database in plaintext, nor in the log (authorize, refresh, proxy calls, test
    // connection, revoke, rotation, at DEBUG).
    let answers = seen.0.lock().unwrap().join("\n");
    let logs = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        logs.contains("route=/v1/oauth/callback") && logs.contains("route=/v1/proxy/"),
        "the server's request log was captured:\n{logs}"
    );
    for token in [
        &access1,
        &access2,
        &access4,
        &access5,
        &access_rotated,
        &refresh1,
        &refresh3,
        &refresh4,
        &refresh5,
        &code,
    ] {
        assert!(
            !answers.contains(token.as_str()),
            "a token in an API answer"
        );
        assert!(
            !logs.contains(token.as_str()),
            "a token ({} chars) in the log",
            token.len()
        );
        assert!(
            files_containing(store.dir(), token.as_bytes()).is_empty(),
            "a token in the server's files"
        );
    }
    if let Some(url) = database_url(&store) {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let rows: Vec<(String,)> = sqlx::query_as("SELECT row_to_json(t)::text FROM org_tokens t")
            .fetch_all(&pool)
            .await
            .unwrap();
        let dump = format!("{rows:?}");
        for token in [&access4, &refresh4] {
            assert!(
                !dump.contains(token.as_str()),
                "a token in PostgreSQL in plaintext"
            );
        }
        pool.close().await;
    }
}

fn store_admin_token(store: &TestStore) -> String {
    store.admin_token().to_owned()
}

fn database_url(store: &TestStore) -> Option<String> {
    store.database_url().filter(|u| u.starts_with("postgres"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn org_connection_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn org_connection_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    story(backend).await;
}
