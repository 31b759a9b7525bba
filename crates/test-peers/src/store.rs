//! A real Latchkey server for end-to-end tests: in this process, on SQLite in
//! a temporary directory or on a fresh PostgreSQL database, stoppable and
//! restartable on the same address and database (to test what devices do while
//! it is away).

use std::net::SocketAddr;
use std::path::Path;

use latchkey_secret::SecretString;
use latchkey_server::{Config, RunningServer};
use serde_json::{Value, json};

/// The admin every test store is created with.
pub const ADMIN_EMAIL: &str = "admin@acme.example";

/// The environment variable naming a PostgreSQL cluster to test against
/// (`postgres://USER@HOST:PORT/DB`); `scripts/with-postgres.sh` sets it.
pub const POSTGRES_URL_ENV: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// Where a [`TestStore`] keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in the store's temporary directory.
    Sqlite,
    /// A fresh database, created for each store, in the cluster at this URL.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from [`POSTGRES_URL_ENV`]. Unset: fails under CI (a skipped backend
    /// must not look green), and locally says it skips and returns `None`. The same
    /// rule as the server's own conformance tests.
    pub fn postgres() -> Option<Backend> {
        match std::env::var(POSTGRES_URL_ENV) {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{POSTGRES_URL_ENV} is unset under CI: run the PostgreSQL tests through scripts/with-postgres.sh"
                );
                eprintln!(
                    "NOTICE: skipping a PostgreSQL test: {POSTGRES_URL_ENV} is unset. Run it through scripts/with-postgres.sh"
                );
                None
            }
        }
    }

    /// The URL of a new, empty database: `None` lets the server put SQLite in its data
    /// directory; for PostgreSQL a database with a random name is created in the cluster
    /// (left there: the cluster of `scripts/with-postgres.sh` is thrown away whole).
    async fn fresh_database_url(&self) -> Option<String> {
        let Backend::Postgres(cluster) = self else {
            return None;
        };
        let mut id = [0u8; 8];
        latchkey_server::crypto::random_bytes(&mut id).unwrap();
        let name = format!("lk_peers_{}", hex::encode(id));
        let pool = sqlx::PgPool::connect(cluster)
            .await
            .unwrap_or_else(|e| panic!("connect to the test PostgreSQL at {cluster}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let (prefix, _) = cluster
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("{POSTGRES_URL_ENV} has no database path: {cluster}"));
        Some(format!("{prefix}/{name}"))
    }
}

/// The Latchkey server under test, with an admin API token.
pub struct TestStore {
    server: Option<RunningServer>,
    /// Lets the API-key proxy reach plain-http upstreams on this computer (a local fake).
    proxy_allow_http: bool,
    /// `updates.public_key`: the key release uploads are checked against.
    update_public_key: Option<String>,
    dir: tempfile::TempDir,
    /// `None`: SQLite in `dir`.
    database_url: Option<String>,
    addr: Option<SocketAddr>,
    admin_token: String,
    /// `[sso]` settings as (key, value), e.g. ("issuer", …); empty: company sign-in off.
    sso: Vec<(String, String)>,
    /// The server key (hex) once [`TestStore::rotate_key`] or [`TestStore::lose_key`]
    /// replaced it; `None`: the one generated into the data dir.
    server_key: Option<String>,
}

impl TestStore {
    /// Starts a fresh server on SQLite with one admin.
    pub async fn start() -> TestStore {
        Self::start_on(Backend::Sqlite).await
    }

    /// Starts a fresh server with one admin on `backend` (a new, empty database).
    pub async fn start_on(backend: Backend) -> TestStore {
        latchkey_server::server::install_crypto_provider();
        let mut store = TestStore {
            server: None,
            proxy_allow_http: false,
            update_public_key: None,
            dir: tempfile::tempdir().unwrap(),
            database_url: backend.fresh_database_url().await,
            addr: None,
            admin_token: String::new(),
            sso: Vec::new(),
            server_key: None,
        };
        store.up().await;
        let state = store.server.as_ref().unwrap().state();
        latchkey_server::routes::admin::create_admin(
            state,
            ADMIN_EMAIL,
            SecretString::from("a long admin password"),
        )
        .await
        .unwrap();
        store.admin_token =
            latchkey_server::routes::admin::admin_token_for_email(state, ADMIN_EMAIL)
                .await
                .unwrap()
                .expose()
                .to_owned();
        store
    }

    /// The configuration the server runs with (its address once it has one).
    fn config(&self) -> Config {
        let mut config = Config::for_tests(self.dir.path(), self.database_url.clone()).unwrap();
        if let Some(addr) = self.addr {
            config.listen = addr;
        }
        config.server_key = self.server_key.clone().map(SecretString::new);
        config
    }

    /// A fresh random server key, as hex (made the way `rotate-key` makes a new key file).
    fn new_server_key(&self) -> (latchkey_server::crypto::ServerKey, String) {
        let keys = tempfile::tempdir().unwrap();
        let file = keys.path().join("server.key");
        let key = latchkey_server::crypto::ServerKey::load_or_create(&file).unwrap();
        let hex = std::fs::read_to_string(&file).unwrap().trim().to_owned();
        (key, hex)
    }

    /// Stops the server, runs `latchkey-server rotate-key` (the library function the
    /// command calls) into a fresh key, and starts the server again with that key only
    /// (the old key file deleted). Returns how many secrets were re-sealed.
    pub async fn rotate_key(&mut self) -> usize {
        self.down().await;
        let (new_key, hex) = self.new_server_key();
        let command = latchkey_server::server::open_for_command(self.config())
            .await
            .unwrap();
        let result = latchkey_server::key_rotation::rotate(&command, &new_key).await;
        command.db.close().await;
        let count = result.unwrap_or_else(|e| panic!("rotate-key: {}", e.message));
        self.server_key = Some(hex);
        let _ = std::fs::remove_file(self.dir.path().join("server.key"));
        self.up().await;
        count
    }

    /// Stops the server and starts it with a different server key, without rotating: as
    /// if the key had been lost. Nothing sealed before opens.
    pub async fn lose_key(&mut self) {
        self.down().await;
        self.server_key = Some(self.new_server_key().1);
        self.up().await;
    }

    /// (Re)starts the server on its address and database.
    pub async fn up(&mut self) {
        let mut config = self.config();
        config.feed_poll_millis = 100;
        config.proxy_allow_http = self.proxy_allow_http;
        config.updates.public_key = self
            .update_public_key
            .as_deref()
            .map(|k| latchkey_server::updates::UpdateKey::parse(k).unwrap());
        if !self.sso.is_empty() {
            let settings = self.sso.clone();
            let env = move |name: &str| {
                let key = name.strip_prefix("LATCHKEY_SSO__")?.to_lowercase();
                settings
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone())
            };
            config.sso = latchkey_server::sso::SsoLayer::from_env(&env)
                .unwrap()
                .unwrap()
                .finish()
                .unwrap();
        }
        // The built-in provider catalog, as the server binary runs (development
        // providers offered: `Config::for_tests` opts in, as `make run` does).
        let catalog =
            latchkey_server::catalog::ProviderCatalog::builtin().expect("built-in catalog");
        let server = latchkey_server::start_with_catalog(config, std::sync::Arc::new(catalog))
            .await
            .expect("server starts");
        self.addr = Some(server.addr());
        self.server = Some(server);
    }

    /// Restarts the server with its API-key proxy allowed to reach plain-http upstreams
    /// (a local fake of an API-key provider).
    pub async fn allow_http_proxy(&mut self) {
        self.proxy_allow_http = true;
        self.down().await;
        self.up().await;
    }

    /// Restarts the server with `updates.public_key` set to `key` (base64, as
    /// [`crate::update_key::UpdateKey::public_base64`] gives it).
    pub async fn set_update_public_key(&mut self, key: &str) {
        self.update_public_key = Some(key.to_owned());
        self.down().await;
        self.up().await;
    }

    /// Uploads a release as the console does (`POST /v1/admin/releases`, the artifact as
    /// the body); panics unless the server accepts it. Returns the release.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_release(
        &self,
        version: &str,
        target: &str,
        arch: &str,
        channel: &str,
        notes: &str,
        artifact: &[u8],
        signature: &str,
    ) -> Value {
        let mut url = reqwest::Url::parse(&format!("{}/v1/admin/releases", self.url())).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("version", version),
            ("target", target),
            ("arch", arch),
            ("channel", channel),
            ("notes", notes),
            ("signature", signature),
        ]);
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(&self.admin_token)
            .header("content-type", "application/octet-stream")
            .body(artifact.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "upload release: {status} {body}");
        body
    }

    /// Restarts the server with company sign-in configured: `settings` are `[sso]` keys
    /// and values (`issuer`, `client_id`, `client_secret`, `allowed_domains`, …). The
    /// address stays, so an identity provider can be told the callback before this.
    pub async fn with_sso(&mut self, settings: &[(&str, &str)]) {
        self.sso = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.down().await;
        self.up().await;
    }

    /// Stops the server (gracefully); [`TestStore::up`] brings it back.
    pub async fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    /// The admin API token of the store's admin.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The database URL (`None`: SQLite in [`TestStore::dir`]).
    pub fn database_url(&self) -> Option<String> {
        self.database_url.clone()
    }

    /// The running server's shared state (its key and storage), for checks a test makes
    /// from the inside, such as opening what it sealed.
    pub fn state(&self) -> &latchkey_server::state::AppState {
        self.server.as_ref().unwrap().state()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    /// The server's data directory (with SQLite, its database), for leak scans.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Calls the admin API with the admin token; panics unless it succeeds.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.admin_reply(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Calls the admin API with the admin token; returns the status and body, whatever
    /// they are (for refusals a test expects).
    pub async fn admin_reply(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// What an admin does in the console for an org connection: signs in (a console
    /// session, as Authorize needs), presses Authorize for `integration`, signs in at
    /// `idp` as `login` and consents, and lets the provider's redirect reach the
    /// server's callback, which keeps the tokens. Panics unless the server says so.
    pub async fn authorize_org_connection(
        &self,
        integration: &str,
        idp: &crate::AuthServer,
        login: &str,
    ) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let first_cookie = |r: &reqwest::Response| {
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        let signed_in = http
            .post(format!("{}/v1/admin/login", self.url()))
            .json(&serde_json::json!({ "email": ADMIN_EMAIL, "password": "a long admin password" }))
            .send()
            .await
            .unwrap();
        assert!(
            signed_in.status().is_success(),
            "console sign-in: {}",
            signed_in.status()
        );
        let session = first_cookie(&signed_in);
        let csrf = signed_in.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = http
            .post(format!(
                "{}/v1/admin/integrations/{integration}/authorize",
                self.url()
            ))
            .header("cookie", &session)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert!(
            started.status().is_success(),
            "authorize: {}",
            started.status()
        );
        let pending = first_cookie(&started);
        let url = started.json::<Value>().await.unwrap()["authorization_url"]
            .as_str()
            .unwrap()
            .to_owned();
        let callback = idp.authorize_headless(&url, login).await;
        let done = http
            .get(&callback)
            .header("cookie", format!("{session}; {pending}"))
            .send()
            .await
            .unwrap();
        let location = done
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(
            done.status().is_redirection() && location.contains("authorized=1"),
            "the callback: {} {location}",
            done.status()
        );
    }

    /// Enables Demo OAuth against `issuer` with the given oidc-provider client.
    pub async fn enable_demo_oauth(&self, issuer: &str, client_id: &str) {
        self.enable_demo("demo-oauth", issuer, client_id).await;
    }

    /// Enables a development integration (`demo-oauth`, `demo-salesforce`) against the
    /// test OAuth server at `issuer` with the given oidc-provider client.
    pub async fn enable_demo(&self, integration: &str, issuer: &str, client_id: &str) {
        self.admin(
            reqwest::Method::PUT,
            &format!("/v1/admin/integrations/{integration}"),
            Some(json!({
                "enabled": true,
                "environment": "production",
                "client_id": client_id,
                "params": { "issuer": issuer },
            })),
        )
        .await;
    }

    /// Adds a named connection `id` of the development provider `demo-oauth` against the
    /// test OAuth server at `issuer` (`None`: each user is asked for the issuer when they
    /// connect), as an org offers two systems of one kind.
    pub async fn enable_demo_connection(&self, id: &str, name: &str, issuer: Option<&str>) {
        let mut body = json!({
            "provider": "demo-oauth", "display_name": name,
            "enabled": true, "environment": "production", "client_id": "latchkey-static",
        });
        match issuer {
            Some(issuer) => body["params"] = json!({ "issuer": issuer }),
            None => body["asked_at_connect"] = json!(["issuer"]),
        }
        self.admin(
            reqwest::Method::PUT,
            &format!("/v1/admin/integrations/{id}"),
            Some(body),
        )
        .await;
    }

    /// Invites a user; returns (enrollment link, user id).
    pub async fn invite(&self, email: &str) -> (String, String) {
        let invite = self
            .admin(
                reqwest::Method::POST,
                "/v1/admin/users",
                Some(json!({ "email": email, "display_name": email })),
            )
            .await;
        (
            invite["enrollment"]["link"].as_str().unwrap().to_owned(),
            invite["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A new enrollment code for another computer of `user_id` (it replaces the user's
    /// older codes): (code, enrollment link).
    pub async fn enrollment_code(&self, user_id: &str) -> (String, String) {
        let fresh = self
            .admin(
                reqwest::Method::POST,
                &format!("/v1/admin/users/{user_id}/enrollment"),
                None,
            )
            .await;
        (
            fresh["enrollment"]["code"].as_str().unwrap().to_owned(),
            fresh["enrollment"]["link"].as_str().unwrap().to_owned(),
        )
    }

    /// The connections the admin sees for `user_id`.
    pub async fn connections(&self, user_id: &str) -> Value {
        self.admin(
            reqwest::Method::GET,
            &format!("/v1/admin/users/{user_id}/connections"),
            None,
        )
        .await
    }
}
