//! The admin console end to end: a real server on SQLite with the provider
//! catalog, and the real console (the committed build embedded in the binary)
//! driven in Debian's headless Chromium by `console/e2e/console.mjs`
//! (playwright-core). Then the security checks over plain HTTP: strict CSP and
//! content types on the console, CSRF on session writes, 403 for device tokens
//! on every admin route.
//!
//! Needs `/usr/bin/chromium` (scripts/install-test-peers.sh) and
//! `crates/server/console/node_modules` (scripts/install-console-deps.sh):
//! without them it skips with a notice, and fails when `CI` is set.
//! Screenshots go to the test's temporary dir; with
//! `LATCHKEY_UPDATE_SCREENSHOTS=1` to `docs/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_server::Config;
use latchkey_server::routes::{Access, docs};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ADMIN_EMAIL: &str = "owner@example.com";
const ADMIN_PASSWORD: &str = "a long console password";

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Whether the browser peers are installed; if not, skip, or fail under CI.
fn browser_peers_present() -> bool {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let modules = console_dir()
        .join("node_modules/playwright-core/package.json")
        .exists();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if chromium && modules && node {
        return true;
    }
    let why = format!(
        "chromium at /usr/bin/chromium: {chromium}, console node_modules: {modules}, node: {node}"
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "the console browser test cannot run under CI ({why}): run scripts/install-test-peers.sh and scripts/install-console-deps.sh"
    );
    eprintln!(
        "NOTICE: skipping the console browser test ({why}). Run scripts/install-test-peers.sh and scripts/install-console-deps.sh"
    );
    false
}

fn screenshot_dir() -> PathBuf {
    if std::env::var_os("LATCHKEY_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
    }
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
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
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_runs_in_a_real_browser_over_the_admin_api() {
    if !browser_peers_present() {
        return;
    }
    latchkey_server::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let mut config = Config::for_tests(dir.path(), Some(url)).unwrap();
    // "Test connection" reaches for the real provider: fail fast offline.
    config.proxy_timeout_secs = 5;
    // As deployed: the session cookie is `Secure` (browsers accept it from loopback http).
    config.secure_cookies = true;
    // An app update key as `tauri signer generate` makes one, and a release signed with it.
    let update_key = latchkey_test_peers::update_key::UpdateKey::generate();
    config.updates.public_key =
        Some(latchkey_server::updates::UpdateKey::parse(&update_key.public_base64()).unwrap());
    let artifact = b"latchkey_0.2.0_amd64.AppImage.tar.gz (test bytes)".to_vec();
    let artifact_path = dir.path().join("latchkey_0.2.0_amd64.AppImage.tar.gz");
    std::fs::write(&artifact_path, &artifact).unwrap();
    let artifact_signature =
        update_key.sign(&artifact, "latchkey_0.2.0_amd64.AppImage.tar.gz", "0.2.0");
    let catalog = latchkey_server::catalog::ProviderCatalog::builtin().unwrap();
    let mut server = latchkey_server::start_with_catalog(config, Arc::new(catalog))
        .await
        .unwrap();
    let setup_code = server.take_setup_code().unwrap().expose().to_owned();
    let base = server.url();
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();

    // The browser story (setup, sign-in, integrations, users, releases, audit).
    let script = console_dir().join("e2e/console.mjs");
    let (b, c, s) = (base.clone(), setup_code.clone(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .env("BASE_URL", b)
            .env("SETUP_CODE", c)
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SCREENSHOT_DIR", s)
            .env("ARTIFACT_PATH", artifact_path)
            .env("ARTIFACT_SIGNATURE", artifact_signature)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser story failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let story: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(story["device_token"].as_str().unwrap().starts_with("lkd_"));
    for page in [
        "setup",
        "sign-in",
        "integrations",
        "integration-salesforce",
        "integrations-two-salesforce",
        "integration-openai",
        "users-invite",
        "users",
        "releases",
        "users-app-version",
        "account",
        "provisioning",
        "audit",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "{page}.png");
    }

    let http = Http {
        base: base.clone(),
        client: reqwest::Client::new(),
    };

    // The console pages: strict CSP and security headers, the shell for app routes.
    for path in [
        "/console",
        "/console/",
        "/console/users",
        "/console/integrations/salesforce",
    ] {
        let (status, h, body) = http.call(Method::GET, path, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        assert!(body.as_str().unwrap().contains("/console/assets/"));
    }
    let (_, _, shell) = http.call(Method::GET, "/console/", &[], None).await;
    let shell = shell.as_str().unwrap().to_owned();
    let js = shell
        .split('"')
        .find(|s| s.starts_with("/console/assets/") && s.ends_with(".js"))
        .unwrap();
    let (status, h, _) = http.call(Method::GET, js, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    let (status, _, _) = http
        .call(Method::GET, "/console/assets/nope-123.js", &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A console session: writes without the CSRF header fail, with it they work.
    let (status, h, login) = http
        .call(
            Method::POST,
            "/v1/admin/login",
            &[],
            // The browser changed the admin's password under Account.
            Some(json!({ "email": ADMIN_EMAIL, "password": story["admin_password"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = h["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = login["csrf_token"].as_str().unwrap().to_owned();
    let invite = json!({ "email": "grace@example.com", "display_name": "Grace" });
    for headers in [
        vec![("cookie", cookie.as_str())],
        vec![("cookie", cookie.as_str()), ("x-csrf-token", "lkc_wrong")],
    ] {
        let (status, _, body) = http
            .call(
                Method::POST,
                "/v1/admin/users",
                &headers,
                Some(invite.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "csrf_failed");
    }
    let (status, _, invited) = http
        .call(
            Method::POST,
            "/v1/admin/users",
            &[("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())],
            Some(invite),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    let (status, _, enrolled) = http
        .call(
            Method::POST,
            "/v1/enroll",
            &[],
            Some(json!({ "code": invited["enrollment"]["code"], "device_name": "Grace desktop" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let device = format!("Bearer {}", enrolled["device_token"].as_str().unwrap());

    // The device's view of Salesforce: sandbox, which the catalog resolves to test.salesforce.com.
    let (_, _, mine) = http
        .call(
            Method::GET,
            "/v1/integrations",
            &[("authorization", device.as_str())],
            None,
        )
        .await;
    let sf = mine["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "salesforce")
        .unwrap();
    assert_eq!(sf["environment"], "sandbox");
    let resolved = latchkey_catalog::Catalog::builtin()
        .unwrap()
        .resolve(
            "salesforce",
            &latchkey_catalog::Environment::parse(sf["environment"].as_str().unwrap()).unwrap(),
            &latchkey_catalog::Params::new(),
        )
        .unwrap();
    assert!(
        resolved
            .oauth2()
            .unwrap()
            .authorization_url
            .as_str()
            .starts_with("https://test.salesforce.com/"),
    );

    // A (valid, non-admin) device token gets 403 on every admin route.
    let mut checked = 0;
    for route in docs().iter().filter(|r| r.access == Access::Admin) {
        let path = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let (status, _, body) = http
            .call(
                method,
                &path,
                &[("authorization", device.as_str())],
                Some(json!({})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} {}: {body}",
            route.method,
            route.path
        );
        checked += 1;
    }
    assert!(checked >= 18, "{checked}");

    server.shutdown().await.unwrap();
}
