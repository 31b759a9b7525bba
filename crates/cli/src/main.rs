//! `latchkey`: the command-line face of Latchkey. It wires the libraries
//! (client, vault, connect); no product logic lives here.
//!
//! Exit codes (also in `latchkey --help`):
//! 0 success · 1 failure · 2 usage · 3 needs reconnect · 4 not enrolled or
//! not connected · 5 the server or provider is unreachable · 6 keychain problem.

mod device;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use latchkey_catalog::Environment;
use latchkey_client::{ClientError, EnrollLink, ServerClient};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{
    ConnectError, ConnectOptions, ConnectionState, Connector, Integration, SystemBrowser,
};
use latchkey_keychain::OsKeychain;
use latchkey_vault::VaultError;
use serde_json::json;

use crate::device::{Device, DeviceError};

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Connect your work apps and hand fresh tokens to scripts",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage, 3 needs reconnect, 4 not enrolled or not connected, \
                  5 server or provider unreachable, 6 keychain problem."
)]
struct Cli {
    /// Where Latchkey keeps its (encrypted) data [default: the OS app data dir]
    #[arg(long, env = "LATCHKEY_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this computer with the code or latchkey://enroll link from your admin
    Enroll {
        /// The enrollment link, or a bare code with --server
        code_or_link: String,
        /// The Latchkey server, when giving a bare code
        #[arg(long)]
        server: Option<String>,
        /// A name for this computer, shown to your admin
        #[arg(long)]
        device_name: Option<String>,
    },
    /// List the integrations your admin enabled, with their status
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show this computer's enrollment and every connection's status
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Connect an integration: sign in in your browser
    Connect {
        integration: String,
        /// production, sandbox, or a custom login host (default: your admin's choice)
        #[arg(long = "env")]
        environment: Option<String>,
        /// Give up waiting for the browser after this many seconds
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Revoke an integration at the provider and delete it everywhere
    Revoke {
        integration: String,
        #[arg(long = "env")]
        environment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh access token for scripts (refreshing it if needed)
    Token {
        integration: String,
        #[arg(long = "env")]
        environment: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(
        "Your admin has not enabled {0} for you. Run `latchkey list` to see what is available."
    )]
    UnknownIntegration(String),
    #[error(
        "{0} is connected by your admin with an API key; there is no token to show on this computer."
    )]
    ApiKey(String),
}

impl CliError {
    fn code(&self) -> String {
        match self {
            Self::Device(e) => e.code().to_owned(),
            Self::Connect(e) => e.code().to_owned(),
            Self::Client(e) => e.code().to_owned(),
            Self::Vault(e) => e.code().to_owned(),
            Self::UnknownIntegration(_) => "cli.unknown_integration".to_owned(),
            Self::ApiKey(_) => "cli.api_key_integration".to_owned(),
        }
    }

    fn exit_code(&self) -> u8 {
        let code = self.code();
        let reconnect = matches!(self, Self::Connect(e) if e.needs_reconnect())
            || matches!(self, Self::Vault(e) if e.needs_reconnect());
        if reconnect {
            3
        } else if code.starts_with("keychain.") {
            6
        } else if matches!(
            code.as_str(),
            "device.not_enrolled"
                | "connect.not_connected"
                | "client.not_enrolled"
                | "cli.unknown_integration"
        ) {
            4
        } else if matches!(code.as_str(), "client.network" | "connect.network") {
            5
        } else {
            1
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("latchkey: could not start ({e})");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: {error} [{}]", error.code());
            ExitCode::from(error.exit_code())
        }
    }
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir.clone().unwrap_or_else(|| {
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("latchkey")
    })
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let dir = data_dir(&cli);
    match &cli.command {
        Command::Enroll {
            code_or_link,
            server,
            device_name,
        } => {
            let link = EnrollLink::parse(code_or_link, server.as_deref())?;
            let name = device_name
                .clone()
                .unwrap_or_else(device::default_device_name);
            let device = Device::enroll(&dir, &link, &name).await?;
            println!(
                "Enrolled this computer as {} on {}.\nYour vault key was created in the system keychain; run `latchkey list` to see your integrations.",
                device.email(),
                device.server()
            );
            Ok(())
        }
        command => {
            let device = Device::load(&dir)?;
            let session = Session::open(&device, &dir).await?;
            match command {
                Command::List { json } | Command::Status { json } => {
                    session
                        .list(&device, *json, matches!(command, Command::Status { .. }))
                        .await
                }
                Command::Connect {
                    integration,
                    environment,
                    timeout,
                } => {
                    session
                        .connect(integration, environment.as_deref(), *timeout)
                        .await
                }
                Command::Revoke {
                    integration,
                    environment,
                    json,
                } => {
                    session
                        .revoke(integration, environment.as_deref(), *json)
                        .await
                }
                Command::Token {
                    integration,
                    environment,
                } => session.token(integration, environment.as_deref()).await,
                Command::Enroll { .. } => Ok(()),
            }
        }
    }
}

/// An enrolled device, online or not.
struct Session {
    connector: Connector<OsKeychain>,
    integrations: Vec<(Integration, bool)>,
    offline: Option<String>,
}

impl Session {
    async fn open(device: &Device, dir: &std::path::Path) -> Result<Session, CliError> {
        let vault = device.open_vault(dir)?;
        let client = ServerClient::new(device.server())?.with_token(device.token()?);
        let (remote, offline) = match client.integrations().await {
            Ok(list) => {
                device.cache_integrations(&list)?;
                (list, None)
            }
            Err(e) if e.is_offline() => (device.cached_integrations(), Some(e.to_string())),
            Err(e) => return Err(e.into()),
        };
        let mut integrations = Vec::new();
        for r in remote {
            let api_key = r.kind == "api_key";
            let environment = Environment::parse(&r.environment).map_err(ConnectError::from)?;
            integrations.push((
                Integration {
                    id: r.id,
                    environment,
                    params: r.params.into_iter().collect(),
                    client_id: r.client_id.unwrap_or_default(),
                    client_secret: r.client_secret,
                    scopes: r.scopes,
                },
                api_key,
            ));
        }
        let client = ServerClient::new(device.server())?.with_token(device.token()?);
        let connector = Connector::new(
            Arc::new(vault),
            HttpClient::new()?,
            Arc::new(SystemBrowser),
            dir,
        )?
        .with_remote(Arc::new(client));
        if offline.is_none() {
            // Catch up on anything queued while offline; failures stay queued.
            let _ = connector.sync_pending().await;
            let plain: Vec<Integration> = integrations
                .iter()
                .map(|(i, _)| clone_integration(i))
                .collect();
            let _ = connector.retry_pending_revocations(&plain).await;
        }
        Ok(Session {
            connector,
            integrations,
            offline,
        })
    }

    fn find(&self, id: &str, environment: Option<&str>) -> Result<Integration, CliError> {
        let (found, api_key) = self
            .integrations
            .iter()
            .find(|(i, _)| i.id == id)
            .ok_or_else(|| CliError::UnknownIntegration(id.to_owned()))?;
        if *api_key {
            return Err(CliError::ApiKey(id.to_owned()));
        }
        let mut integration = clone_integration(found);
        if let Some(env) = environment {
            integration.environment = Environment::parse(env).map_err(ConnectError::from)?;
        }
        Ok(integration)
    }

    async fn list(&self, device: &Device, json: bool, status: bool) -> Result<(), CliError> {
        let mut rows = Vec::new();
        for (integration, api_key) in &self.integrations {
            let state = if *api_key {
                json!({ "state": "connected_by_admin" })
            } else {
                serde_json::to_value(self.connector.state(integration)?).unwrap_or_default()
            };
            rows.push(json!({
                "id": integration.id,
                "environment": integration.environment.to_string(),
                "auth": if *api_key { "api_key" } else { "oauth2" },
                "status": state,
            }));
        }
        if json {
            let mut out = json!({ "integrations": rows });
            if status {
                out["device"] = json!({ "server": device.server(), "email": device.email(), "device_id": device.device_id() });
                out["offline"] = json!(self.offline);
                out["pending_writes"] = json!(self.connector.pending_writes());
                out["pending_revocations"] = json!(self.connector.pending_revocations());
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            return Ok(());
        }
        if status {
            println!(
                "Enrolled as {} on {} (device {}).",
                device.email(),
                device.server(),
                device.device_id()
            );
        }
        if let Some(reason) = &self.offline {
            println!("Offline: {reason}\nShowing the integrations known from the last sync.");
        }
        if rows.is_empty() {
            println!("Your admin has not enabled any integration for you yet.");
        }
        for (integration, api_key) in &self.integrations {
            let line = if *api_key {
                "connected by your admin".to_owned()
            } else {
                describe(&self.connector.state(integration)?)
            };
            println!(
                "{:<20} {:<28} {line}",
                integration.id,
                integration.environment.to_string()
            );
        }
        if status {
            let (w, r) = (
                self.connector.pending_writes(),
                self.connector.pending_revocations(),
            );
            if w + r > 0 {
                println!(
                    "Waiting to sync: {w} change(s) for the server, {r} revocation(s) for providers."
                );
            }
        }
        Ok(())
    }

    async fn connect(
        &self,
        id: &str,
        environment: Option<&str>,
        timeout: u64,
    ) -> Result<(), CliError> {
        let integration = self.find(id, environment)?;
        eprintln!(
            "Opening your browser to sign in to {id}… (waiting up to {timeout} s; press Ctrl-C to cancel)"
        );
        let options = ConnectOptions {
            callback_timeout: Duration::from_secs(timeout),
            ..ConnectOptions::default()
        };
        let cancel = options.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let state = self.connector.connect(&integration, &options).await?;
        println!("{id}: {}", describe(&state));
        Ok(())
    }

    async fn revoke(
        &self,
        id: &str,
        environment: Option<&str>,
        json: bool,
    ) -> Result<(), CliError> {
        let integration = self.find(id, environment)?;
        let report = self.connector.revoke(&integration).await?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        } else {
            for step in &report.steps {
                println!("{:<34} {:<8} {}", step.step, step.outcome, step.detail);
            }
        }
        Ok(())
    }

    async fn token(&self, id: &str, environment: Option<&str>) -> Result<(), CliError> {
        let integration = self.find(id, environment)?;
        let token = self
            .connector
            .access_token(&integration, &ConnectOptions::default())
            .await?;
        println!("{}", token.expose());
        Ok(())
    }
}

fn clone_integration(i: &Integration) -> Integration {
    Integration {
        id: i.id.clone(),
        environment: i.environment.clone(),
        params: i.params.clone(),
        client_id: i.client_id.clone(),
        client_secret: i
            .client_secret
            .as_ref()
            .map(latchkey_secret::SecretString::duplicate),
        scopes: i.scopes.clone(),
    }
}

fn describe(state: &ConnectionState) -> String {
    match state {
        ConnectionState::NotConnected => "not connected".to_owned(),
        ConnectionState::Connected { identity, .. } => match identity {
            Some(who) => format!("connected as {who}"),
            None => "connected".to_owned(),
        },
        ConnectionState::NeedsReconnect { reason } => format!("needs reconnect: {reason}"),
    }
}
