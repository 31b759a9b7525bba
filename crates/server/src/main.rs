//! The `latchkey-server` binary: parses the command line and calls the library.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use latchkey_secret::SecretString;
use latchkey_server::{Config, Flags};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// The Latchkey remote store: keeps sealed connection records for enrolled
/// devices and serves the admin and client APIs.
#[derive(Parser)]
#[command(name = "latchkey-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Storage {
    /// Directory for the SQLite database and the generated server key.
    #[arg(long, env = "LATCHKEY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: DATA_DIR/latchkey.db) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// TOML config file (layered: defaults < file < LATCHKEY_* env < flags).
    #[arg(long, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The server key (64 hex digits), kept outside the data dir in production
    /// (also LATCHKEY_SERVER_KEY_FILE). Without one, DATA_DIR/server.key is used.
    #[arg(long, value_name = "FILE")]
    server_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations run at start; SIGINT/SIGTERM drain and stop).
    Serve {
        /// Address to listen on.
        #[arg(
            long,
            env = "LATCHKEY_LISTEN",
            value_name = "ADDR",
            default_value = "127.0.0.1:8700"
        )]
        listen: SocketAddr,
        #[command(flatten)]
        storage: Storage,
    },
    /// Manage console administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Re-seal every client secret and API key under a new server key, then start the
    /// servers with it. Stop the servers first; the change is all or nothing.
    RotateKey {
        /// The new key (64 hex digits); created with a fresh random key (0600) if the
        /// file does not exist. Keep it outside the data dir.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
        #[command(flatten)]
        storage: Storage,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        storage: Storage,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin; the password is read from standard input.
    Create {
        /// The admin's email address (their console login).
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        storage: Storage,
    },
    /// Print a new admin API token for automation.
    Token {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        storage: Storage,
    },
}

fn load(listen: Option<SocketAddr>, storage: Storage) -> anyhow::Result<Config> {
    let flags = Flags {
        listen,
        data_dir: storage.data_dir,
        database_url: storage.database_url,
        config: storage.config,
        server_key_file: storage.server_key_file,
    };
    Ok(Config::load(&flags, &|k| std::env::var(k).ok())?)
}

fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, storage } => {
            let config = load(Some(listen), storage)?;
            init_logging(&config.log);
            tracing::info!(?config, "starting");
            let catalog =
                latchkey_server::catalog::ProviderCatalog::builtin().map_err(anyhow::Error::msg)?;
            let mut server =
                latchkey_server::start_with_catalog(config, std::sync::Arc::new(catalog)).await?;
            if let Some(code) = server.take_setup_code() {
                // Printed once to the terminal, not through the logs: the bootstrap secret.
                eprintln!(
                    "\nlatchkey-server has no admin yet. Create the first one within an hour in the console:\n  \
                     {origin}/console/setup#code={code}\n\
                     or with curl:\n  \
                     curl -X POST {origin}/v1/admin/setup -H 'content-type: application/json' \\\n    \
                     -d '{{\"code\": \"{code}\", \"email\": \"you@example.com\", \"password\": \"...\"}}'\n\
                     or run: latchkey-server admin create --email you@example.com --password-stdin\n",
                    origin = server.state().origin,
                    code = code.expose()
                );
            }
            let stop = server.shutdown_handle();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down: draining in-flight requests");
                let _ = stop.send(true);
            });
            server.wait().await?;
            tracing::info!("stopped");
        }
        Command::RotateKey {
            new_key_file,
            storage,
        } => {
            let config = load(None, storage)?;
            init_logging(&config.log);
            let new_key = latchkey_server::crypto::ServerKey::load_or_create(&new_key_file)
                .context("the new key file")?;
            let state = latchkey_server::server::open_for_command(config).await?;
            let result = latchkey_server::key_rotation::rotate(&state, &new_key).await;
            state.db.close().await;
            let count = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!(
                "Re-sealed {count} secrets under the key in {}.\nStart the servers with --server-key-file {} (or LATCHKEY_SERVER_KEY_FILE), then destroy the old key.",
                new_key_file.display(),
                new_key_file.display()
            );
        }
        Command::Migrate { storage } => {
            let config = load(None, storage)?;
            init_logging(&config.log);
            let state = latchkey_server::server::open_for_command(config).await?;
            state.db.close().await;
            println!("migrations applied");
        }
        Command::Admin { command } => match command {
            AdminCommand::Create {
                email,
                password_stdin: _,
                storage,
            } => {
                let config = load(None, storage)?;
                init_logging(&config.log);
                let mut password = String::new();
                std::io::stdin()
                    .read_to_string(&mut password)
                    .context("cannot read the password from stdin")?;
                let password =
                    SecretString::new(password.trim_end_matches(['\n', '\r']).to_owned());
                let state = latchkey_server::server::open_for_command(config).await?;
                let result =
                    latchkey_server::routes::admin::create_admin(&state, &email, password).await;
                state.db.close().await;
                let admin = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!("admin {} created", admin.email);
            }
            AdminCommand::Token { email, storage } => {
                let config = load(None, storage)?;
                init_logging(&config.log);
                let days = config.admin_token_ttl_days;
                let state = latchkey_server::server::open_for_command(config).await?;
                let result =
                    latchkey_server::routes::admin::admin_token_for_email(&state, &email).await;
                state.db.close().await;
                let token = result.map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!("{}", token.expose());
                eprintln!("This token expires in {days} days (admin_token_ttl_days).");
            }
        },
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
