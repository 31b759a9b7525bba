//! Why a session operation failed: [`SessionError`], with the stable code the UI
//! and the CLI branch on. Kept apart from the session so the error's variants and
//! codes can be read in one place.

use latchkey_client::ClientError;
use latchkey_connect::ConnectError;
use latchkey_vault::VaultError;

use crate::DeviceError;

/// Why a session operation failed; every variant has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
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
    /// A name that several connections share (two Salesforce orgs): the ids tell them apart.
    #[error(
        "\"{given}\" could mean {}. Name one by its id, such as `latchkey connect {}`.",
        ids.join(" or "),
        ids.first().map_or("", String::as_str)
    )]
    AmbiguousConnection { given: String, ids: Vec<String> },
    /// The connection asks this user for values the admin left out (a login host).
    #[error(
        "{name} needs {} before you connect: {}. Give {} with `latchkey connect {id} {}`, or in the menu.",
        if asks.len() == 1 { "a value" } else { "values" },
        asks.iter().map(|a| a.description.as_str()).collect::<Vec<_>>().join("; "),
        if asks.len() == 1 { "it" } else { "them" },
        asks.iter().map(|a| format!("--set {}={}", a.name, a.example.as_deref().unwrap_or("…"))).collect::<Vec<_>>().join(" ")
    )]
    ValuesNeeded {
        id: String,
        name: String,
        asks: Vec<latchkey_client::protocol::device::AskedValue>,
    },
    #[error(
        "{0} is connected by your admin (an API key or an org connection, used through the Latchkey server); there is nothing to do on this computer."
    )]
    ApiKey(String),
    #[error(
        "Your admin enabled {id} for {enabled} only, not {asked}. Connect without --env, or ask your admin to enable {asked}."
    )]
    EnvironmentNotEnabled {
        id: String,
        enabled: String,
        asked: String,
    },
    /// A command's argument is malformed; the text says what it takes.
    #[error("{0}")]
    BadArgument(String),
    /// Search could not run at all (nothing to search, no words); the text says why.
    #[error("{0}")]
    Search(String),
    /// A widget could not be saved or read on this computer; the text says why (its
    /// last snapshot stays).
    #[error("{0}")]
    Widget(String),
    /// The app did not give a widget its rows (rate limited, unreachable, reconnect):
    /// the provider-call error, so the menu can honour a `Retry-After`.
    #[error("{0}")]
    WidgetRefresh(latchkey_search::SearchError),
    /// The menu app's token agent answered with an error (its code and text).
    #[error(transparent)]
    Agent(#[from] crate::token_agent::AgentError),
}

impl SessionError {
    /// A stable code the UI and the CLI branch on.
    pub fn code(&self) -> String {
        match self {
            Self::Device(e) => e.code().to_owned(),
            Self::Connect(e) => e.code().to_owned(),
            Self::Client(e) => e.code().to_owned(),
            Self::Vault(e) => e.code().to_owned(),
            Self::UnknownIntegration(_) => "session.unknown_integration".to_owned(),
            Self::AmbiguousConnection { .. } => "session.ambiguous_connection".to_owned(),
            Self::ValuesNeeded { .. } => "session.values_needed".to_owned(),
            Self::ApiKey(_) => "session.api_key_integration".to_owned(),
            Self::EnvironmentNotEnabled { .. } => "session.environment_not_enabled".to_owned(),
            Self::Search(_) => "session.search".to_owned(),
            Self::BadArgument(_) => "session.bad_argument".to_owned(),
            Self::Widget(_) => "session.widget".to_owned(),
            Self::WidgetRefresh(e) => e.code().to_owned(),
            Self::Agent(e) => e.code().to_owned(),
        }
    }

    /// True when only a new sign-in helps.
    pub fn needs_reconnect(&self) -> bool {
        match self {
            Self::Connect(e) => e.needs_reconnect(),
            Self::Vault(e) => e.needs_reconnect(),
            Self::Device(DeviceError::Vault(e)) => e.needs_reconnect(),
            Self::Agent(crate::token_agent::AgentError::Refused { reconnect, .. }) => *reconnect,
            _ => false,
        }
    }
}
