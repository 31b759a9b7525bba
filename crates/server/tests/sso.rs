//! Company sign-in to the console, end to end: a real Latchkey server (SQLite, and
//! PostgreSQL through scripts/with-postgres.sh), oidc-provider as the company's identity
//! provider (a confidential client registered with this server's callback, users with
//! `email_verified` and `groups`), and headless Chromium signing in as a person would.
//! Then what must be refused: a person who is no admin, an unverified email, a foreign
//! or replayed callback, and (with `password_sign_in = owner_only`) a password sign-in
//! by anyone but the break-glass owner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_test_peers::store::ADMIN_EMAIL;
use latchkey_test_peers::{AuthServer, Backend, TestStore, browser_script, peers_ready};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLIENT_ID: &str = "latchkey-console-sso";
const CLIENT_SECRET: &str = "a-client-secret-only-the-server-knows";
const ADMIN_GROUP: &str = "latchkey-admins";

/// A store with company sign-in against a fresh identity provider that knows its callback.
async fn sso_store(backend: Backend, extra: &[(&str, &str)]) -> (TestStore, AuthServer) {
    let mut store = TestStore::start_on(backend).await;
    let clients = json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "application_type": "web",
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [format!("{}/v1/console/sso/callback", store.url())],
    }])
    .to_string();
    let users = json!({
        "boss@acme.example": { "name": "Boss", "groups": [ADMIN_GROUP, "staff"] },
        "sneaky@acme.example": { "email_verified": false, "groups": [ADMIN_GROUP] },
        "eve@elsewhere.example": { "groups": [ADMIN_GROUP] },
    })
    .to_string();
    let idp = AuthServer::start_with(
        3600,
        &[
            ("OIDC_EXTRA_CLIENTS", clients.as_str()),
            ("OIDC_USERS", users.as_str()),
            ("OIDC_FULL_ID_TOKEN", "1"),
        ],
    );
    let mut settings = vec![
        ("issuer", idp.issuer.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("allowed_domains", "acme.example"),
        ("admin_group", ADMIN_GROUP),
        ("label", "Acme SSO"),
    ];
    settings.extend_from_slice(extra);
    store.with_sso(&settings).await;
    (store, idp)
}

/// Opens `url` in headless Chromium, signs in at the provider as `login`, and stops
/// once a page under `stop_at` (exact origin and path) loaded; runs `after` there.
async fn browse(url: &str, login: &str, stop_at: &str, after: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result.json");
    let mut command = std::process::Command::new(browser_script());
    command
        .arg(url)
        .env("LATCHKEY_TEST_LOGIN", login)
        .env("LATCHKEY_TEST_CALLBACK", stop_at)
        .env("LATCHKEY_TEST_BROWSER_RESULT", &result)
        .env("LATCHKEY_TEST_BROWSER_TIMEOUT", "60")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Some(js) = after {
        command.env("LATCHKEY_TEST_AFTER_CALLBACK", js);
    }
    let status = tokio::task::spawn_blocking(move || command.status().unwrap())
        .await
        .unwrap();
    let text = std::fs::read_to_string(&result).unwrap_or_default();
    assert!(status.success(), "the browser failed: {text}");
    serde_json::from_str(&text).unwrap()
}

/// In the console after a company sign-in: wait for the page to take its CSRF token
/// from the hand-over cookie, then make an admin API write the way the console does.
const CONSOLE_CHECK: &str = r#"
for (let i = 0; i < 100 && !sessionStorage.getItem('latchkey.csrf'); i++) await new Promise((r) => setTimeout(r, 100));
const csrf = sessionStorage.getItem('latchkey.csrf') || '';
const post = (headers) => fetch('/v1/admin/tokens', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'made after SSO' }) });
const withCsrf = await post({ 'x-csrf-token': csrf });
const withoutCsrf = await post({});
return {
  status: withCsrf.status,
  without_csrf: withoutCsrf.status,
  email: sessionStorage.getItem('latchkey.email'),
  csrf_in_url: csrf !== '' && location.href.includes(csrf),
  handover_left: document.cookie.includes('latchkey_sso_handover'),
  path: location.pathname,
};
"#;

async fn console_sign_in_story(backend: Backend) {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (store, _idp) = sso_store(backend, &[]).await;
    let http = reqwest::Client::new();
    let info: Value = http
        .get(format!("{}/v1/console/sso", store.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({ "enabled": true, "label": "Acme SSO", "password_sign_in": "all" })
    );
    let start = format!("{}/v1/console/sso/start", store.url());
    let console = format!("{}/console/", store.url());
    let callback = format!("{}/v1/console/sso/callback", store.url());

    // Someone in the admin group, unknown to Latchkey: made an admin, signed in.
    let boss = browse(&start, "boss@acme.example", &console, Some(CONSOLE_CHECK)).await;
    let after = &boss["after"];
    assert_eq!(after["status"], 201, "{boss}");
    assert_eq!(after["without_csrf"], 403, "{boss}");
    assert_eq!(after["email"], "boss@acme.example");
    assert_eq!(after["csrf_in_url"], false);
    assert_eq!(
        after["handover_left"], false,
        "the hand-over cookie is read once"
    );
    let admins = store
        .admin(reqwest::Method::GET, "/v1/admin/admins", None)
        .await;
    let boss_admin = admins["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "boss@acme.example")
        .unwrap_or_else(|| panic!("boss became an admin: {admins}"))
        .clone();
    assert_eq!(boss_admin["role"], "admin");
    let audit = store
        .admin(
            reqwest::Method::GET,
            "/v1/admin/audit?action=admin.login",
            None,
        )
        .await;
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == boss_admin["id"] && e["detail"]["method"] == "sso"),
        "{audit}"
    );

    // An admin who already exists by email signs in without the group.
    let owner = browse(&start, ADMIN_EMAIL, &console, Some(CONSOLE_CHECK)).await;
    assert_eq!(owner["after"]["status"], 201, "{owner}");
    assert_eq!(owner["after"]["email"], ADMIN_EMAIL);

    // Someone the provider knows who is no admin, nor in the group: refused, plainly.
    let ada = browse(&start, "ada@acme.example", &callback, None).await;
    assert_eq!(ada["callback_status"], 403, "{ada}");
    let text = ada["text"].as_str().unwrap();
    assert!(
        text.contains("not a Latchkey admin") && text.contains("sso.not_an_admin"),
        "{text}"
    );
    // An email the provider does not vouch for, and a domain not allowed.
    let sneaky = browse(&start, "sneaky@acme.example", &callback, None).await;
    assert!(
        sneaky["text"]
            .as_str()
            .unwrap()
            .contains("sso.email_unverified"),
        "{sneaky}"
    );
    let eve = browse(&start, "eve@elsewhere.example", &callback, None).await;
    assert!(
        eve["text"]
            .as_str()
            .unwrap()
            .contains("sso.domain_not_allowed"),
        "{eve}"
    );
    let admins = store
        .admin(reqwest::Method::GET, "/v1/admin/admins", None)
        .await;
    assert_eq!(admins["admins"].as_array().unwrap().len(), 2, "{admins}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_company_sign_in_on_sqlite() {
    console_sign_in_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_company_sign_in_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    console_sign_in_story(backend).await;
}

/// The value of cookie `name` among a response's Set-Cookie headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_wrong_or_replayed_callback_is_refused() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let (store, idp) = sso_store(Backend::Sqlite, &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callback = format!("{}/v1/console/sso/callback", store.url());

    // A callback in a browser that started no sign-in.
    let lone = http
        .get(format!("{callback}?state=made-up&code=made-up"))
        .send()
        .await
        .unwrap();
    assert_eq!(lone.status(), StatusCode::BAD_REQUEST);
    assert!(
        lone.text()
            .await
            .unwrap()
            .contains("sso.no_pending_sign_in")
    );

    // This "browser" starts a sign-in: a sealed cookie, and the provider's address.
    let start = http
        .get(format!("{}/v1/console/sso/start", store.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let pending = set_cookie(&start, "latchkey_sso").expect("the sign-in cookie");
    let set = start
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=600"),
        "{set}"
    );
    let location = start.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(&idp.issuer), "{location}");
    let authorize = url::Url::parse(&location).unwrap();
    let param = |k: &str| {
        authorize
            .query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(
        param("scope").as_deref(),
        Some("openid email profile groups")
    );
    assert!(param("nonce").is_some() && param("state").is_some());
    assert!(!location.contains(CLIENT_SECRET));

    // The person signs in at the provider in another browser, which lands on the callback
    // without this sign-in's cookie: refused there, and the code is what we replay below.
    let other = browse(
        &location,
        ADMIN_EMAIL,
        &callback,
        Some("return location.search;"),
    )
    .await;
    assert!(
        other["text"]
            .as_str()
            .unwrap()
            .contains("sso.no_pending_sign_in"),
        "{other}"
    );
    let query = other["after"].as_str().unwrap().to_owned();
    assert!(query.contains("iss="), "RFC 9207: {query}");
    let state = param("state").unwrap();
    let with_cookie = |url: String| {
        http.get(url)
            .header(reqwest::header::COOKIE, format!("latchkey_sso={pending}"))
            .send()
    };

    // The right cookie with another state: refused, and nothing used up.
    let wrong = with_cookie(format!(
        "{callback}{}",
        query.replace(&state, "another-state")
    ))
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("sso.state_mismatch"));

    // The real answer with its cookie: signed in, redirected to the console.
    let signed_in = with_cookie(format!("{callback}{query}")).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert_eq!(signed_in.headers()[reqwest::header::LOCATION], "/console/");
    let session = set_cookie(&signed_in, "latchkey_session").expect("a console session");
    let handover = set_cookie(&signed_in, "latchkey_sso_handover").expect("the CSRF hand-over");
    assert_eq!(
        set_cookie(&signed_in, "latchkey_sso").as_deref(),
        Some(""),
        "the sign-in cookie is cleared"
    );
    let csrf = handover.split('|').next().unwrap().to_owned();
    let made = http
        .post(format!("{}/v1/admin/tokens", store.url()))
        .header(
            reqwest::header::COOKIE,
            format!("latchkey_session={session}"),
        )
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "after SSO" }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    // The same answer again (a replay): refused.
    let replay = with_cookie(format!("{callback}{query}")).await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("sso.state_used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_only_keeps_password_sign_in_for_the_break_glass_owner() {
    // No provider is contacted: discovery happens at the first company sign-in.
    let mut store = TestStore::start_on(Backend::Sqlite).await;
    store
        .admin(
            reqwest::Method::POST,
            "/v1/admin/admins",
            Some(json!({ "email": "second@acme.example", "password": "another long password" })),
        )
        .await;
    store
        .with_sso(&[
            ("issuer", "https://login.acme.example"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("password_sign_in", "owner_only"),
        ])
        .await;
    let http = reqwest::Client::new();
    let info: Value = http
        .get(format!("{}/v1/console/sso", store.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["password_sign_in"], "owner_only");
    let login = |email: &'static str, password: &'static str| {
        http.post(format!("{}/v1/admin/login", store.url()))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let refused = login("second@acme.example", "another long password")
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "password_sign_in_disabled");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Sign in with your company account"),
        "{body}"
    );
    // A wrong password is still just a wrong password (the role is not revealed).
    let wrong = login("second@acme.example", "not the password")
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let owner = login(ADMIN_EMAIL, "a long admin password").await.unwrap();
    assert_eq!(owner.status(), StatusCode::OK);
    let body: Value = owner.json().await.unwrap();
    assert!(body["csrf_token"].is_string());
}
