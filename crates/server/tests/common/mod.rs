//! The conformance harness: one scripted story per behaviour, run over real
//! HTTP against a server on 127.0.0.1:0, once per storage backend (see
//! `tests/sqlite.rs` and `tests/postgres.rs`).
#![allow(dead_code)]

pub mod connection_stories;
pub mod grant_stories;
pub mod stories;
pub mod update_stories;

use latchkey_client::ServerClient;
use latchkey_secret::SecretString;
use latchkey_server::{Config, RunningServer};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// Base URL of a PostgreSQL cluster; each server gets a fresh database in it.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `LATCHKEY_TEST_POSTGRES_URL` (set by scripts/with-postgres.sh).
    /// Unset: fails under CI (a skipped backend must not look green), skips locally.
    pub fn postgres() -> Option<Self> {
        match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "LATCHKEY_TEST_POSTGRES_URL is unset under CI: run the PostgreSQL tests through scripts/with-postgres.sh"
                );
                eprintln!(
                    "NOTICE: skipping a PostgreSQL test: LATCHKEY_TEST_POSTGRES_URL is unset. Run: scripts/with-postgres.sh cargo test -p latchkey-server --test postgres"
                );
                None
            }
        }
    }

    /// A database URL for a new, empty database of this backend.
    pub async fn fresh_database_url(&self, dir: &std::path::Path) -> Option<String> {
        match self {
            Self::Sqlite => Some(format!("sqlite://{}", dir.join("latchkey.db").display())),
            Self::Postgres(base) => {
                let mut id = [0u8; 8];
                latchkey_server::crypto::random_bytes(&mut id).unwrap();
                let name = format!("lk_test_{}", hex_of(&id));
                let pool = sqlx::PgPool::connect(base)
                    .await
                    .expect("connect to the test PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let (prefix, _) = base.rsplit_once('/').expect("URL has a database path");
                Some(format!("{prefix}/{name}"))
            }
        }
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running server with an admin and an admin API token.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    /// The setup code issued at start (before the harness created its admin).
    pub setup_code: Option<String>,
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// An enrolled device.
#[derive(Debug, Clone)]
pub struct TestDevice {
    pub id: String,
    pub user_id: String,
    pub token: String,
}

impl TestServer {
    pub async fn start(backend: &Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_catalog(
            backend,
            tweak,
            std::sync::Arc::new(latchkey_server::validate::WellFormedIds),
        )
        .await
    }

    /// A server with the built-in provider catalog (development providers offered, as in
    /// every test), its configuration changed by `tweak`.
    pub async fn start_with_builtin_catalog(
        backend: &Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_with_catalog(
            backend,
            tweak,
            std::sync::Arc::new(latchkey_server::catalog::ProviderCatalog::builtin().unwrap()),
        )
        .await
    }

    pub async fn start_with_catalog(
        backend: &Backend,
        tweak: impl FnOnce(&mut Config),
        catalog: std::sync::Arc<dyn latchkey_server::CatalogLookup>,
    ) -> Self {
        latchkey_server::server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_database_url(dir.path()).await;
        let mut config = Config::for_tests(dir.path(), url.clone()).unwrap();
        config.feed_poll_millis = 100;
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let mut server = latchkey_server::start_with_catalog(config, catalog)
            .await
            .expect("server starts");
        let setup_code = server.take_setup_code().map(|c| c.expose().to_owned());
        latchkey_server::routes::admin::create_admin(
            server.state(),
            ADMIN_EMAIL,
            SecretString::from(ADMIN_PASSWORD),
        )
        .await
        .unwrap();
        let token =
            latchkey_server::routes::admin::admin_token_for_email(server.state(), ADMIN_EMAIL)
                .await
                .unwrap();
        Self {
            base: server.url(),
            server: Some(server),
            http: reqwest::Client::new(),
            admin_token: token.expose().to_owned(),
            database_url,
            dir,
            setup_code,
        }
    }

    /// A second server on the same database and data dir, as a replica behind a
    /// load balancer would be; it shares this server's admin token.
    pub async fn replica(&self) -> Self {
        self.try_replica().await.expect("replica starts")
    }

    /// A second server on the same database, or why it would not start.
    pub async fn try_replica(&self) -> Result<Self, String> {
        self.try_replica_with(|_| {}).await
    }

    /// A second server on the same database, its configuration changed by `tweak`.
    pub async fn try_replica_with(&self, tweak: impl FnOnce(&mut Config)) -> Result<Self, String> {
        let mut config = self.config();
        tweak(&mut config);
        let server = latchkey_server::start(config)
            .await
            .map_err(|e| format!("{e:#}"))?;
        Ok(Self {
            base: server.url(),
            server: Some(server),
            http: reqwest::Client::new(),
            admin_token: self.admin_token.clone(),
            database_url: self.database_url.clone(),
            dir: tempfile::tempdir().unwrap(),
            setup_code: None,
        })
    }

    /// This server's configuration (its data dir and database), as a one-shot command
    /// such as `rotate-key` would load it.
    pub fn config(&self) -> Config {
        let mut config =
            Config::for_tests(self.dir.path(), Some(self.database_url.clone())).unwrap();
        config.feed_poll_millis = 100;
        config
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(&self.admin_token.clone()), body, &[])
            .await
    }

    pub async fn device(
        &self,
        d: &TestDevice,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call(method, path, Some(&d.token), body, headers).await
    }

    /// Invites a user; returns (user id, enrollment code, link).
    pub async fn invite(&self, email: &str) -> (String, String, String) {
        let r = self
            .admin(
                Method::POST,
                "/v1/admin/users",
                Some(json!({ "email": email, "display_name": "Test User" })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            r.body["user"]["id"].as_str().unwrap().to_owned(),
            r.body["enrollment"]["code"].as_str().unwrap().to_owned(),
            r.body["enrollment"]["link"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn enroll(&self, code: &str, name: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/enroll",
            None,
            Some(json!({ "code": code, "device_name": name })),
            &[],
        )
        .await
    }

    /// Invites a user and enrolls one device for them.
    pub async fn new_user_device(&self, email: &str) -> TestDevice {
        let (user_id, code, _) = self.invite(email).await;
        self.enroll_existing(&user_id, &code).await
    }

    pub async fn enroll_existing(&self, user_id: &str, code: &str) -> TestDevice {
        let enrolled = self
            .anonymous()
            .enroll(&SecretString::from(code), "Test laptop")
            .await
            .unwrap_or_else(|e| panic!("enrollment failed: {} ({e})", e.code()));
        assert_eq!(enrolled.user.id, user_id);
        TestDevice {
            id: enrolled.device_id.into_string(),
            user_id: user_id.to_owned(),
            token: enrolled.device_token.expose().to_owned(),
        }
    }

    /// The device client (`latchkey-client`) for this server, not yet enrolled.
    pub fn anonymous(&self) -> ServerClient {
        ServerClient::new(&self.base).expect("a loopback server address")
    }

    /// The device client as `d`, the way an enrolled device talks to this server.
    pub fn client(&self, d: &TestDevice) -> ServerClient {
        self.anonymous()
            .with_token(SecretString::from(d.token.as_str()))
    }

    /// Enables an OAuth integration for everyone.
    pub async fn enable(&self, integration: &str) {
        let r = self
            .admin(
                Method::PUT,
                &format!("/v1/admin/integrations/{integration}"),
                Some(json!({ "enabled": true, "client_id": "client-123", "scopes": ["api"] })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
}

/// Standard base64 of `bytes` (what clients send as `envelope`).
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// One test per story, for the backend `$backend` (an `Option<Backend>`; `None` skips).
#[macro_export]
macro_rules! conformance_suite {
    ($backend:expr) => {
        $crate::conformance_suite!(@tests $backend;
            enrollment_codes_are_single_use_and_expire,
            a_device_only_ever_reaches_its_own_users_records,
            revoked_devices_and_removed_users_fail_at_once,
            records_follow_compare_and_swap_with_monotonic_versions,
            concurrent_writers_on_one_slot_lose_nothing,
            exactly_one_of_many_racing_writers_wins_a_version,
            bad_input_gets_stable_errors,
            integration_secrets_are_write_only,
            admin_changes_reach_the_change_feed,
            console_sessions_need_csrf_and_expire_on_logout,
            console_sessions_expire_after_their_lifetime,
            auth_endpoints_are_rate_limited,
            connection_status_and_audit_hold_no_secrets,
            openapi_document_matches_the_routes,
            health_readiness_and_metrics,
            graceful_shutdown_drains_and_ends_feeds,
            replicas_share_one_database_feed_and_cas,
            api_key_proxy_injects_the_key_only_toward_allowed_paths,
            the_first_admin_is_created_with_the_one_time_setup_code,
            audit_can_be_filtered_and_paged,
            a_salesforce_callback_may_name_localhost,
            an_admins_disconnect_orders_every_device_and_an_old_push_cannot_revive,
            emails_and_names_refuse_hidden_characters_and_one_person_is_one_user,
            a_revoked_device_and_a_removed_users_devices_still_get_their_last_orders,
            a_new_enrollment_code_replaces_the_older_ones,
            moving_an_api_key_clears_it_and_only_the_catalogs_host_is_allowed,
            development_providers_need_the_deployments_opt_in,
            admin_credentials_are_named_listed_revoked_and_die_with_their_admin,
            sign_in_slows_an_account_down_without_locking_its_admin_out,
            the_console_shows_which_device_redeemed_each_code,
            the_server_key_rotates_and_a_key_in_the_data_dir_is_reported,
            a_device_cannot_grow_record_slots_without_bound,
            an_admin_picks_the_default_widgets_from_the_catalogs,
            updates_offer_the_newest_signed_release_on_the_devices_channel,
            release_uploads_are_checked_against_the_update_key,
            update_checks_need_a_device_and_well_formed_platforms,
            scim_provisions_users_and_groups_and_deactivation_is_the_leaver_flow,
            scim_tokens_open_only_scim_until_revoked_or_expired,
            an_allow_list_of_groups_follows_scim_membership,
            one_provider_can_be_connected_several_times_by_name,
            values_left_blank_are_asked_of_each_user_at_connect,
            a_device_sees_its_users_grants_of_a_connection_and_the_providers_limit,
            the_org_callback_to_register_is_at_the_servers_public_url,
        );
    };
    (@tests $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(backend) = $backend {
                    common::stories::$name(backend).await;
                }
            }
        )*
    };
}
