//! `latchkey`: the command-line face of Latchkey. It only parses arguments
//! and prints; the work is done by `latchkey-device` and the crates below it.
//!
//! Exit codes (also in `latchkey --help`):
//! 0 success · 1 failure · 2 usage · 3 needs reconnect · 4 not enrolled or
//! not connected · 5 the server or provider is unreachable · 6 keychain problem.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use latchkey_client::EnrollLink;
use latchkey_connect::ConnectOptions;
use latchkey_device::{Device, Session, SessionError, default_device_name, describe, token_agent};
use serde_json::json;

mod api_command;
mod exec_command;
mod git_credential;
mod search_command;
mod widgets_command;

use api_command::LinkPrintingBrowser;

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
    /// Enroll this computer with the code or latchkey://enroll link from your admin,
    /// or with your company account: `latchkey enroll --sso https://latchkey.example.com`
    Enroll {
        /// The enrollment link, or a bare code with --server
        #[arg(required_unless_present = "sso", conflicts_with = "sso")]
        code_or_link: Option<String>,
        /// Sign in with your company account at this Latchkey server, in your browser (no code to type)
        #[arg(long, value_name = "SERVER", conflicts_with = "server")]
        sso: Option<String>,
        /// Give up waiting for the company sign-in after this many seconds
        #[arg(long, default_value_t = 300)]
        timeout: u64,
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
        /// The connection's id (`latchkey list` shows it), its name, or a provider the
        /// org has one connection of
        integration: String,
        /// production, sandbox, or a custom login host (default: your admin's choice)
        #[arg(long = "env")]
        environment: Option<String>,
        /// Give up waiting for the browser after this many seconds
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// A value the connection asks of you, such as `--set login_host=acme.my.salesforce.com`
        /// (repeat for several); `latchkey list` shows what is asked
        #[arg(long = "set", value_name = "NAME=VALUE")]
        values: Vec<String>,
        /// Connect even when this signs out another of your computers (Salesforce keeps
        /// five sign-ins per person and app and signs the oldest out)
        #[arg(long, short = 'y')]
        yes: bool,
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
    ///
    /// Providers that do not say when a token expires (Salesforce) are
    /// refreshed when they refuse it: `latchkey api` and `latchkey exec` do
    /// that by themselves; with `token`, pass --refresh after a 401.
    ///
    /// While the menu app runs, the token comes from it over a private local
    /// socket (no vault unlock, no server round trip); LATCHKEY_AGENT=off opens
    /// the vault here instead.
    Token {
        integration: String,
        #[arg(long = "env")]
        environment: Option<String>,
        /// Print the token with its type, expiry, scopes, instance_url and API base as JSON
        #[arg(long)]
        json: bool,
        /// Refresh now (one refresh however many callers ask at once) and print the new token
        #[arg(long)]
        refresh: bool,
    },
    /// Call an integration's API with your connection, like `gh api`
    ///
    /// The path is joined to the integration's API base (Salesforce:
    /// {instance_url}/services/data/v62.0); a full URL must be on one of the
    /// provider's own hosts. The token is refreshed and the call retried once
    /// when the provider refuses it. The body is printed to stdout; errors go
    /// to stderr with the provider's message.
    Api {
        integration: String,
        /// A path under the API base (`/query?q=SELECT+Id+FROM+Account`) or a full URL
        path: String,
        #[arg(long = "env")]
        environment: Option<String>,
        /// The HTTP method [default: GET, or POST with a body]
        #[arg(short = 'X', long = "method")]
        method: Option<String>,
        /// The request body (JSON unless a Content-Type header says otherwise)
        #[arg(short = 'd', long = "data", conflicts_with = "input")]
        data: Option<String>,
        /// Read the body from a file (`-` for standard input)
        #[arg(long)]
        input: Option<PathBuf>,
        /// An extra header, `Name: value` (repeatable; never Authorization)
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Follow the provider's pagination to the end, printing each page
        #[arg(long)]
        paginate: bool,
        /// With --paginate: print one JSON array of all pages
        #[arg(long, requires = "paginate")]
        slurp: bool,
    },
    /// Run a command with integrations' tokens in its environment (never its command line)
    Exec {
        /// The integrations whose variables to set
        #[arg(required = true)]
        integrations: Vec<String>,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Search your connected apps at once (Salesforce, Slack, GitHub, Drive, …)
    ///
    /// Each app is asked with your own token, so you see what you could see there.
    /// Results print as each app answers; an app that fails is named on stderr.
    /// Nothing is stored: each run asks the apps again.
    Search {
        /// The words to search for (`in:salesforce` inside them works too)
        #[arg(required = true)]
        words: Vec<String>,
        /// Only these integrations (repeatable)
        #[arg(long = "in", value_name = "INTEGRATION")]
        only: Vec<String>,
        /// One JSON document: merged results and failures
        #[arg(long)]
        json: bool,
        /// How long each app may take, in milliseconds
        #[arg(long, default_value_t = 3000, value_name = "MS")]
        deadline_ms: u64,
    },
    /// The home screen's widgets (recent Salesforce Accounts, reviews waiting, recent files)
    ///
    /// Shows what this computer's sealed snapshots hold; --refresh fetches first
    /// (only what changed, where the app allows it).
    Widgets {
        /// Refresh each widget from its app first
        #[arg(long)]
        refresh: bool,
        /// One JSON document
        #[arg(long)]
        json: bool,
    },
    /// A Git credential helper: `git config --global credential.helper '!latchkey git-credential'`
    ///
    /// Answers `get` for the Git hosts of connected integrations (GitHub) with
    /// a fresh token; `store` and `erase` do nothing (Latchkey never keeps what
    /// Git hands it).
    #[command(name = "git-credential")]
    GitCredential {
        /// get, store or erase (Git passes it)
        #[arg(value_parser = ["get", "store", "erase"])]
        operation: String,
    },
}

fn exit_code(error: &SessionError) -> u8 {
    let code = error.code();
    if error.needs_reconnect() {
        3
    } else if code.starts_with("keychain.") {
        6
    } else if matches!(
        code.as_str(),
        "device.not_enrolled"
            | "connect.not_connected"
            | "client.not_enrolled"
            | "session.unknown_integration"
            | "connect.disconnected_by_admin"
            | "device.token_missing"
            | "device.revoked_by_admin"
            | "device.removed_by_admin"
    ) {
        4
    } else if matches!(code.as_str(), "client.network" | "connect.network") {
        5
    } else if code == "connect.invalid_request" {
        2
    } else {
        1
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
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
            if error.code() == "connect.approval_limit" {
                // The error names the computer that would be signed out; say how to go ahead.
                eprintln!("To connect here anyway, run the same command with --yes.");
            }
            ExitCode::from(exit_code(&error))
        }
    }
}

/// Parses the arguments; `exec --help` lists the variables the catalog names.
fn parse_cli() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut listing = String::from("Variables set, by integration:\n");
    for (id, var, source) in latchkey_device::exec_variables() {
        listing.push_str(&format!("  {id:<18} {var:<28} {source}\n"));
    }
    let command = Cli::command().mut_subcommand("exec", |c| c.after_help(listing));
    Cli::from_arg_matches(&command.get_matches())
}

/// The token from the running menu app ([`token_agent`]), skipping the vault's key
/// derivation and the server round trip; `None` when no app serves this data
/// directory or it cannot answer (then the vault is opened here).
async fn token_from_menu(
    dir: &std::path::Path,
    integration: &str,
    environment: Option<&str>,
    refresh: bool,
) -> Result<Option<latchkey_connect::TokenInfo>, SessionError> {
    if std::env::var(token_agent::AGENT_ENV).is_ok_and(|v| v == "off") {
        return Ok(None);
    }
    let request = token_agent::TokenRequest {
        integration: integration.to_owned(),
        environment: environment.map(str::to_owned),
        refresh,
    };
    match token_agent::ask(dir, &request).await {
        Ok(info) => {
            tracing::debug!("token from the menu app");
            Ok(Some(info))
        }
        Err(token_agent::AgentError::Unavailable(why)) => {
            tracing::debug!(%why, "opening the vault here");
            Ok(None)
        }
        Err(refused) => Err(refused.into()),
    }
}

/// Prints a token for scripts: bare, or with its details as JSON.
fn print_token(info: &latchkey_connect::TokenInfo, json: bool) {
    if json {
        let out = json!({
            "access_token": info.access_token.expose(),
            "token_type": info.token_type,
            "expires_at": info.expires_at,
            "scopes": info.scopes,
            "instance_url": info.instance_url,
            "api_base_url": info.api_base_url,
            "identity": info.identity,
            "fields": info.fields,
        });
        let text = zeroize::Zeroizing::new(serde_json::to_string_pretty(&out).unwrap_or_default());
        drop(out);
        println!("{}", text.as_str());
    } else {
        println!("{}", info.access_token.expose());
    }
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir
        .clone()
        .unwrap_or_else(latchkey_device::default_data_dir)
}

async fn run(cli: Cli) -> Result<(), SessionError> {
    let dir = data_dir(&cli);
    if let Command::Enroll {
        code_or_link,
        sso,
        timeout,
        server,
        device_name,
    } = &cli.command
    {
        let name = device_name.clone().unwrap_or_else(default_device_name);
        let device = match (sso, code_or_link) {
            (Some(server), _) => {
                eprintln!("Sign in with your company account in the browser that opens…");
                Device::enroll_sso(
                    &dir,
                    server,
                    &name,
                    &LinkPrintingBrowser,
                    Duration::from_secs(*timeout),
                    tokio_util::sync::CancellationToken::new(),
                )
                .await?
            }
            (None, Some(code_or_link)) => {
                let link = EnrollLink::parse(code_or_link, server.as_deref())?;
                Device::enroll(&dir, &link, &name).await?
            }
            // clap requires one of the two.
            (None, None) => return Err(latchkey_device::DeviceError::NotEnrolled.into()),
        };
        println!(
            "Enrolled this computer as {} on {}.\nYour vault key was created in the system keychain; run `latchkey list` to see your integrations.",
            device.email(),
            device.server()
        );
        return Ok(());
    }
    if let Command::GitCredential { operation } = &cli.command {
        return git_credential::run(&dir, operation).await;
    }
    if let Command::Token {
        integration,
        environment,
        json,
        refresh,
    } = &cli.command
        && let Some(info) =
            token_from_menu(&dir, integration, environment.as_deref(), *refresh).await?
    {
        print_token(&info, *json);
        return Ok(());
    }
    let device = Device::load(&dir)?;
    let session = Session::open(&device, &dir, Arc::new(LinkPrintingBrowser)).await?;
    if let Command::Search {
        words,
        only,
        json,
        deadline_ms,
    } = &cli.command
    {
        return search_command::run(session, words, only, *json, *deadline_ms).await;
    }
    if let Command::Widgets { refresh, json } = &cli.command {
        return widgets_command::run(session, *refresh, *json).await;
    }
    match &cli.command {
        Command::List { json } => list(&session, &device, *json, false),
        Command::Status { json } => list(&session, &device, *json, true),
        Command::Connect {
            integration,
            environment,
            timeout,
            values,
            yes,
        } => {
            let mut id = session.resolve_id(integration)?;
            // Values asked at connect go to the server first; the session is then opened
            // again so the connection has them.
            let mut reopened = None;
            if !values.is_empty() {
                session.set_values(&id, parse_values(values)?).await?;
                let fresh = Session::open(&device, &dir, Arc::new(LinkPrintingBrowser)).await?;
                id = fresh.resolve_id(&id)?;
                reopened = Some(fresh);
            }
            let session = reopened.as_ref().unwrap_or(&session);
            let name = session.display_name(&id);
            eprintln!(
                "Opening your browser to sign in to {name}… (waiting up to {timeout} s; press Ctrl-C to cancel)"
            );
            let options = ConnectOptions {
                callback_timeout: Duration::from_secs(*timeout),
                confirm_approval_limit: *yes,
                ..ConnectOptions::default()
            };
            let cancel = options.cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            });
            let state = session
                .connect(&id, environment.as_deref(), &options)
                .await?;
            println!(
                "{name}: {}",
                describe(&serde_json::to_value(state).unwrap_or_default())
            );
            Ok(())
        }
        Command::Revoke {
            integration,
            environment,
            json,
        } => {
            let id = session.resolve_id(integration)?;
            let report = session.revoke(&id, environment.as_deref()).await?;
            if *json {
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
        Command::Token {
            integration,
            environment,
            json,
            refresh,
        } => {
            let id = session.resolve_id(integration)?;
            let info = session
                .token_info(&id, environment.as_deref(), *refresh)
                .await?;
            print_token(&info, *json);
            Ok(())
        }
        Command::Api {
            integration,
            path,
            environment,
            method,
            data,
            input,
            headers,
            paginate,
            slurp,
        } => {
            let request = api_command::request(
                path,
                method.as_deref(),
                data.as_deref(),
                input.as_deref(),
                headers,
            )?;
            api_command::run(
                &session,
                &session.resolve_id(integration)?,
                environment.as_deref(),
                request,
                *paginate,
                *slurp,
            )
            .await
        }
        Command::Exec {
            integrations,
            command,
        } => exec_command::run(&session, integrations, command).await,
        Command::Enroll { .. }
        | Command::GitCredential { .. }
        | Command::Search { .. }
        | Command::Widgets { .. } => Ok(()),
    }
}

/// `NAME=VALUE` pairs from `--set`.
fn parse_values(
    pairs: &[String],
) -> Result<std::collections::BTreeMap<String, String>, SessionError> {
    let mut values = std::collections::BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        else {
            return Err(SessionError::BadArgument(format!(
                "--set takes NAME=VALUE, such as --set login_host=acme.my.salesforce.com; got {pair:?}"
            )));
        };
        values.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(values)
}

fn list(session: &Session, device: &Device, json: bool, status: bool) -> Result<(), SessionError> {
    let views = session.views()?;
    let connector = session.connector();
    if json {
        let mut out = json!({ "integrations": views });
        if status {
            out["device"] = json!({ "server": device.server(), "email": device.email(), "device_id": device.device_id() });
            out["offline"] = json!(session.offline());
            out["pending_writes"] = json!(connector.pending_writes());
            out["pending_revocations"] = json!(connector.pending_revocations());
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
    if let Some(reason) = session.offline() {
        println!("Offline: {reason}\nShowing the integrations known from the last sync.");
    }
    if views.is_empty() {
        println!("Your admin has not enabled any integration for you yet.");
    }
    // The id first: it is what `latchkey connect` and friends take.
    for view in &views {
        println!(
            "{:<20} {:<28} {:<28} {}",
            view.id,
            view.name,
            view.environment_label,
            describe(&view.status)
        );
    }
    if status {
        let (w, r) = (connector.pending_writes(), connector.pending_revocations());
        if w + r > 0 {
            println!(
                "Waiting to sync: {w} change(s) for the server, {r} revocation(s) for providers."
            );
        }
    }
    Ok(())
}
