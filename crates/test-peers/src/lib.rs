//! Rust handles to the real test peers in `testing/peers/`: the oidc-provider
//! authorization server, the headless-Chromium "system browser" and a Latchkey
//! server (`TestStore`, behind the feature `server`, so that the tests of
//! crates needing only the OAuth server and the browser, `latchkey-connect`
//! and `latchkey-sso`, do not link the whole server). Shared by the end-to-end
//! tests of those, `latchkey-cli`, `latchkey-menu`, `latchkey-server` and the
//! desktop app.
//!
//! Test support only: it panics on any unexpected condition, which is the
//! right outcome inside a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "server")]
pub mod store;
pub mod update_key;
pub mod web_dist;
#[cfg(feature = "server")]
pub use store::{Backend, TestStore};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `testing/peers/`.
pub fn peers_dir() -> PathBuf {
    repo_root().join("testing/peers")
}

/// The `$BROWSER` script that drives headless Chromium.
pub fn browser_script() -> PathBuf {
    peers_dir().join("browser")
}

/// Opens `url` in the peers' headless Chromium as a system browser would
/// (detached; reaped in the background). `env` sets the script's modes, e.g.
/// `LATCHKEY_TEST_CONSENT=deny` or `LATCHKEY_TEST_BROWSER_MODE=open-only`.
pub fn open_in_peer_browser(url: &str, env: &[(String, String)]) -> std::io::Result<()> {
    let mut child = Command::new(browser_script())
        .arg(url)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// True under CI or inside `scripts/with-keychain.sh`: missing peers fail.
pub fn required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() == Ok("required")
}

/// How long one test that drives the peers may run before [`Deadline`] ends it.
pub const PEER_TEST_DEADLINE: Duration = Duration::from_secs(300);

/// When node, the npm packages and Chromium are installed: a [`Deadline`] for the
/// calling test (keep it alive for the whole test). Otherwise `None` after failing
/// where peers are required, or printing a skip notice elsewhere.
#[must_use = "keep the deadline alive until the test ends: `let Some(_deadline) = peers_ready() else { return; };`"]
pub fn peers_ready() -> Option<Deadline> {
    let missing: Vec<&str> = [
        (
            "node",
            Command::new("node").arg("--version").output().is_ok(),
        ),
        (
            "testing/peers/node_modules",
            peers_dir().join("node_modules").exists(),
        ),
        ("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        return Some(Deadline::after(PEER_TEST_DEADLINE));
    }
    assert!(
        !required(),
        "test peers missing: {missing:?}; run scripts/install-test-peers.sh"
    );
    eprintln!("SKIPPED: test peers missing: {missing:?}; run scripts/install-test-peers.sh");
    None
}

/// Ends the whole test binary, naming the test, if it is still running when the time
/// is up. A peer that stops answering (a wedged browser, OAuth server or keychain call
/// with no timeout of its own) then fails the run in minutes, saying where, instead of
/// holding CI until its time runs out. Disarmed when dropped; the peers' own processes
/// go with the binary (the OAuth server exits when its stdin closes).
pub struct Deadline {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Deadline {
    /// A deadline `limit` from now for the current test (named by its thread).
    pub fn after(limit: Duration) -> Deadline {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = Arc::clone(&done);
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        std::thread::spawn(move || {
            let (finished, signal) = &*watched;
            let guard = finished.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = signal
                .wait_timeout_while(guard, limit, |finished| !*finished)
                .unwrap_or_else(|e| e.into_inner());
            if !*guard {
                eprintln!(
                    "\n{test} was still running after {limit:?}: a test peer (browser, OAuth \
                     server, keychain) stopped answering. Ending the test binary so CI does not \
                     hang; rerun this test alone to see where it waits."
                );
                std::process::exit(124);
            }
        });
        Deadline { done }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        let (finished, signal) = &*self.done;
        *finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.notify_all();
    }
}

/// A running oidc-provider on 127.0.0.1, with its test controls on. It stops
/// when dropped (its stdin closes).
pub struct AuthServer {
    child: Child,
    _stdin: ChildStdin,
    /// `http://127.0.0.1:PORT`
    pub issuer: String,
    http: reqwest::Client,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthServer {
    /// Starts a fresh server whose access tokens live `access_token_ttl` seconds.
    pub fn start(access_token_ttl: u64) -> AuthServer {
        Self::start_with(access_token_ttl, &[])
    }

    /// Starts a server that answers the way Salesforce does (`SALESFORCE_SHAPE=1`): no
    /// `expires_in`, an `instance_url`, and a REST API under `/services/data/v62.0` that
    /// answers an expired session with 401 `INVALID_SESSION_ID`.
    pub fn start_salesforce(access_token_ttl: u64) -> AuthServer {
        Self::start_with(access_token_ttl, &[("SALESFORCE_SHAPE", "1")])
    }

    /// A Salesforce-shaped server (see [`AuthServer::start_salesforce`]) that also knows
    /// the web client `client_id`, registered for the Latchkey server's own callback at
    /// `server_url` (`/v1/oauth/callback`), as an org connection's app is.
    pub fn start_salesforce_for_org(
        access_token_ttl: u64,
        client_id: &str,
        server_url: &str,
    ) -> AuthServer {
        let clients = serde_json::json!([{
            "client_id": client_id,
            "application_type": "web",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [format!("{server_url}/v1/oauth/callback")],
            "x_rotate_refresh_token": false,
        }])
        .to_string();
        Self::start_with(
            access_token_ttl,
            &[
                ("SALESFORCE_SHAPE", "1"),
                ("OIDC_EXTRA_CLIENTS", clients.as_str()),
            ],
        )
    }

    /// Starts a server with extra environment (see `oidc-server.mjs`).
    pub fn start_with(access_token_ttl: u64, env: &[(&str, &str)]) -> AuthServer {
        let mut child = Command::new("node")
            .arg(peers_dir().join("oidc-server.mjs"))
            .env("LATCHKEY_TEST_CONTROLS", "1")
            .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).expect("the readiness line");
        AuthServer {
            child,
            _stdin: stdin,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            // A peer that stops answering fails the test in a minute, saying so, instead
            // of holding CI until its time runs out (seen once: the node process wedged).
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// What reached the server (`GET /__test/stats`).
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__test/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// How many refresh-token grants reached the token endpoint.
    pub async fn refreshes(&self) -> u64 {
        self.stats().await["token"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Makes the Salesforce-shaped API's `nextRecordsUrl` absolute on `origin` (a host
    /// the catalog does not name), or relative again with `None`.
    pub async fn salesforce_foreign_next(&self, origin: Option<&str>) {
        self.salesforce_control(serde_json::json!({ "foreign_next": origin }))
            .await;
    }

    /// Changes the Salesforce-shaped org as a user elsewhere would: renames (and so
    /// touches) and deletes Accounts by name (`POST /__test/salesforce`).
    pub async fn salesforce_change(&self, rename: &[(&str, &str)], delete: &[&str]) {
        let rename: serde_json::Map<String, Value> = rename
            .iter()
            .map(|(from, to)| ((*from).to_owned(), Value::from(*to)))
            .collect();
        self.salesforce_control(serde_json::json!({ "rename": rename, "delete": delete }))
            .await;
    }

    /// Sets the Salesforce-shaped user's permissions as `UserPermissionAccess` reports them
    /// ("API Enabled", "Customize Application"); without API Enabled every REST call is 403.
    pub async fn salesforce_permissions(&self, api_enabled: bool, customize_application: bool) {
        self.salesforce_control(serde_json::json!({ "permissions": {
            "PermissionsApiEnabled": api_enabled,
            "PermissionsCustomizeApplication": customize_application,
        } }))
        .await;
    }

    /// Goes through the authorization at `authorization_url` as a browser would, without
    /// one: signs in on the development login page as `login`, consents, and returns the
    /// redirect to the client's callback (`…?code=…&state=…&iss=…`) without following it.
    pub async fn authorize_headless(&self, authorization_url: &str, login: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut cookies: Vec<(String, String)> = Vec::new();
        let mut next = (
            reqwest::Method::GET,
            authorization_url.to_owned(),
            None::<Vec<(String, String)>>,
        );
        for _ in 0..20 {
            let (method, url, form) = next.clone();
            let jar = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut request = http.request(method, &url).header("cookie", jar);
            if let Some(form) = &form {
                request = request.form(form);
            }
            let response = request.send().await.unwrap();
            for c in response.headers().get_all("set-cookie") {
                let pair = c.to_str().unwrap().split(';').next().unwrap();
                if let Some((k, v)) = pair.split_once('=') {
                    cookies.retain(|(name, _)| name != k);
                    cookies.push((k.to_owned(), v.to_owned()));
                }
            }
            if let Some(location) = response.headers().get("location") {
                let target = reqwest::Url::parse(&url)
                    .unwrap()
                    .join(location.to_str().unwrap())
                    .unwrap();
                if !target.as_str().starts_with(&self.issuer) {
                    return target.to_string();
                }
                next = (reqwest::Method::GET, target.to_string(), None);
                continue;
            }
            let page_url = reqwest::Url::parse(&url).unwrap();
            let html = response.text().await.unwrap();
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no form on the provider's page: {html}"));
            let action = page_url
                .join(&action.replace("&amp;", "&"))
                .unwrap()
                .to_string();
            let form = if html.contains("name=\"login\"") {
                vec![
                    ("prompt".to_owned(), "login".to_owned()),
                    ("login".to_owned(), login.to_owned()),
                    ("password".to_owned(), "secret".to_owned()),
                ]
            } else {
                vec![("prompt".to_owned(), "consent".to_owned())]
            };
            next = (reqwest::Method::POST, action, Some(form));
        }
        panic!("the authorization did not reach the callback");
    }

    /// `POST /__test/salesforce` with `body`.
    async fn salesforce_control(&self, body: Value) {
        let status = self
            .http
            .post(format!("{}/__test/salesforce", self.issuer))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    /// Behaves like Salesforce's "five approvals per user per app" with `limit`
    /// (`POST /__test/approvals`): each account keeps at most `limit` grants per client,
    /// and a new authorization past it silently revokes the oldest grant's tokens, so
    /// its holder's next refresh gets `invalid_grant`. 0 lifts the limit.
    pub async fn evict_oldest_after(&self, limit: u32) {
        let status = self
            .http
            .post(format!("{}/__test/approvals", self.issuer))
            .body(serde_json::json!({ "limit": limit }).to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    /// How many grants the approval limit revoked so far.
    pub async fn evicted_grants(&self) -> u64 {
        let body: Value = self
            .http
            .get(format!("{}/__test/approvals", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["evicted"].as_u64().unwrap_or(0)
    }

    /// Queues a failure rule (`POST /__test/fail`).
    pub async fn fail(&self, rule: Value) {
        let status = self
            .http
            .post(format!("{}/__test/fail", self.issuer))
            .body(rule.to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    /// RFC 7662 introspection as the public client `client_id`.
    pub async fn active(&self, client_id: &str, token: &str) -> bool {
        let body: Value = self
            .http
            .post(format!("{}/token/introspection", self.issuer))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["active"].as_bool().unwrap()
    }

    /// Revokes a token directly, as the user would at the provider.
    pub async fn revoke_directly(&self, client_id: &str, token: &str) {
        let status = self
            .http
            .post(format!("{}/token/revocation", self.issuer))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(p);
            }
        }
    }
    found
}

/// Every folder under `dir` (and `dir`) is 0700 and every file 0600: the device's data
/// is the user's alone. Panics naming the first that is not.
#[cfg(unix)]
pub fn assert_private_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "folder {} is {mode:o}", d.display());
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "file {} is {mode:o}", p.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "{} holds no file to check", dir.display());
}
