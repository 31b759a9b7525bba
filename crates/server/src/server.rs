//! Starting and stopping the server: open the database chosen by URL, run
//! migrations, load the server key, bind, serve, and drain on shutdown.

use crate::config::{Config, redact_url};
use crate::crypto::{ServerKey, new_id};
use crate::metrics::Metrics;
use crate::rate_limit::{LoginBackoff, RateLimiter};
use crate::state::{AppState, Shared, now_millis};
use crate::validate::{CatalogLookup, WellFormedIds};
use anyhow::Context;
use latchkey_server_database::Database;
use latchkey_server_postgres::PostgresDatabase;
use latchkey_server_sqlite::SqliteDatabase;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Who opens the database: the serving process, or a one-shot command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `serve`: on SQLite, the one process that owns the file.
    Server,
    /// `admin …`, `migrate`: may run beside a server.
    Command,
}

/// Opens the backend the URL names: `sqlite:` or `postgres(ql)://`.
pub async fn open_database(config: &Config, opener: Opener) -> anyhow::Result<Arc<dyn Database>> {
    let url = &config.database_url;
    let db: Arc<dyn Database> = if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data dir {}", config.data_dir.display()))?;
        let db = match opener {
            Opener::Server => SqliteDatabase::serve(url).await,
            Opener::Command => SqliteDatabase::connect(url).await,
        };
        Arc::new(
            db.with_context(|| format!("cannot open the SQLite database {}", redact_url(url)))?,
        )
    } else {
        Arc::new(PostgresDatabase::connect(url).await.with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}; check LATCHKEY_DATABASE_URL",
                redact_url(url)
            )
        })?)
    };
    Ok(db)
}

/// Selects rustls's ring provider (the one sqlx uses) for every TLS client in
/// the process. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Opens and migrates the database, ensures the org, loads the server key.
pub async fn prepare(
    opener: Opener,
    config: Config,
    origin: String,
    catalog: Arc<dyn CatalogLookup>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<AppState> {
    let one_shot = matches!(opener, Opener::Command);
    let db = open_database(&config, opener).await?;
    db.migrate().await.context("database migration failed")?;
    let org = db
        .ensure_org(&new_id()?, "Latchkey", now_millis())
        .await
        .context("cannot read or create the organisation")?;
    let key = match &config.server_key {
        Some(hex) => ServerKey::from_hex(hex).context("server_key (LATCHKEY_SERVER_KEY)")?,
        None => ServerKey::load_or_create(&config.data_dir.join("server.key"))?,
    };
    let server_key_in_data_dir = key_in_data_dir(&config);
    if server_key_in_data_dir && !one_shot {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "the server key is kept in the data directory: a copy of it (a backup) holds both the sealed secrets and their key. In production keep the key elsewhere: --server-key-file or LATCHKEY_SERVER_KEY_FILE (docs/server.md, key rotation: latchkey-server rotate-key)"
        );
    }
    install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(config.proxy_timeout_secs))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .context("cannot build the proxy's HTTP client")?;
    // The settings move into the service: handlers read them from `state.sso`.
    let mut config = config;
    let sso = match config.sso.take() {
        Some(settings) => Some(Arc::new(
            crate::sso::SsoService::new(settings).context("cannot build the SSO HTTP client")?,
        )),
        None => None,
    };
    Ok(Arc::new(Shared {
        openapi: Arc::new(crate::openapi::document()),
        sso,
        http,
        db,
        org,
        key,
        server_key_in_data_dir,
        auth_limiter: RateLimiter::new(config.auth_rate_per_minute),
        login_backoff: LoginBackoff::new(5, std::time::Duration::from_secs(60)),
        config,
        origin,
        catalog,
        metrics: Metrics::default(),
        shutdown,
    }))
}

/// Whether the server key is read from inside the data dir (the generated
/// `server.key`, or a key file placed there).
fn key_in_data_dir(config: &Config) -> bool {
    match (&config.server_key, &config.server_key_file) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(_), Some(file)) => {
            let canonical = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or(p.to_owned());
            canonical(file).starts_with(canonical(&config.data_dir))
        }
    }
}

/// Opens the database for a one-shot command (admin, migrate).
pub async fn open_for_command(config: Config) -> anyhow::Result<AppState> {
    let (_tx, rx) = watch::channel(false);
    let origin = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    prepare(Opener::Command, config, origin, Arc::new(WellFormedIds), rx).await
}

/// A server running in this process.
pub struct RunningServer {
    addr: SocketAddr,
    setup_code: Option<latchkey_secret::SecretString>,
    state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The one-time setup code issued at start when the database had no admin
    /// (for the binary to print once; `None` afterwards or if an admin exists).
    pub fn take_setup_code(&mut self) -> Option<latchkey_secret::SecretString> {
        self.setup_code.take()
    }

    /// Stops accepting, ends change-feed streams, drains in-flight requests, closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task panicked")??;
        self.state.db.close().await;
        Ok(())
    }

    /// Waits until the server stops (after a signal handled by the caller).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")??;
        self.state.db.close().await;
        Ok(())
    }

    /// A handle that triggers shutdown from elsewhere (a signal handler).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds `config.listen`, prepares storage and serves until shut down.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    start_with_catalog(config, Arc::new(WellFormedIds)).await
}

/// [`start`] with a provider catalog to validate integration ids against.
pub async fn start_with_catalog(
    config: Config,
    catalog: Arc<dyn CatalogLookup>,
) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let origin = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let (tx, rx) = watch::channel(false);
    let state = prepare(Opener::Server, config, origin, catalog, rx.clone()).await?;
    let setup_code = crate::routes::admin::issue_setup_code(&state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot issue the setup code: {}", e.message))?;
    let app = crate::routes::router(state.clone());
    let mut stop = rx;
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
    });
    tracing::info!(%addr, backend = state.db.backend(), "latchkey-server listening");
    Ok(RunningServer {
        addr,
        setup_code,
        state,
        shutdown: tx,
        task,
    })
}
