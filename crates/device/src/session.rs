//! An enrolled device at work: integrations, connector, and UI views.

use std::path::Path;
use std::sync::Arc;

use latchkey_catalog::{Catalog, Environment, EnvironmentKind};
use latchkey_client::{ClientError, ServerClient};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{
    BrowserLauncher, ConnectError, ConnectOptions, ConnectionState, Connector, Integration,
    RevokeReport,
};
use latchkey_keychain::OsKeychain;
use latchkey_secret::SecretString;
use latchkey_vault::VaultError;
use serde::Serialize;

use crate::{Device, DeviceError};

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
    #[error(
        "{0} is connected by your admin with an API key; there is nothing to do on this computer."
    )]
    ApiKey(String),
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
            Self::ApiKey(_) => "session.api_key_integration".to_owned(),
        }
    }

    /// True when only a new sign-in helps.
    pub fn needs_reconnect(&self) -> bool {
        match self {
            Self::Connect(e) => e.needs_reconnect(),
            Self::Vault(e) => e.needs_reconnect(),
            Self::Device(DeviceError::Vault(e)) => e.needs_reconnect(),
            _ => false,
        }
    }
}

/// One integration as a UI shows it. No secret ever appears here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationView {
    /// Catalog id (`salesforce`).
    pub id: String,
    /// Display name (`Salesforce`).
    pub name: String,
    /// Icon name from the catalog.
    pub icon: String,
    /// `production`, `sandbox` or a custom host.
    pub environment: String,
    /// The badge: `Production`, `Sandbox` or the custom host.
    pub environment_label: String,
    /// `oauth2` or `api_key`.
    pub auth: String,
    /// The connection state (`connected_by_admin` for API keys).
    pub status: serde_json::Value,
}

/// An enrolled device, online or not.
pub struct Session {
    connector: Connector<OsKeychain>,
    integrations: Vec<(Integration, bool)>,
    offline: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("integrations", &self.integrations.len())
            .field("offline", &self.offline)
            .finish()
    }
}

impl Session {
    /// Opens the vault, fetches the integrations (or uses the cached list when
    /// the server is unreachable), and catches up on queued work.
    pub async fn open(
        device: &Device,
        dir: &Path,
        browser: Arc<dyn BrowserLauncher>,
    ) -> Result<Session, SessionError> {
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
        let connector = Connector::new(Arc::new(vault), HttpClient::new()?, browser, dir)?
            .with_remote(Arc::new(client));
        let session = Session {
            connector,
            integrations,
            offline,
        };
        if session.offline.is_none() {
            // Failures stay queued for the next time.
            let _ = session.connector.sync_pending().await;
            let plain: Vec<Integration> = session
                .integrations
                .iter()
                .map(|(i, _)| clone_integration(i))
                .collect();
            let _ = session.connector.retry_pending_revocations(&plain).await;
        }
        Ok(session)
    }

    /// Why the server could not be reached, when it could not.
    pub fn offline(&self) -> Option<&str> {
        self.offline.as_deref()
    }

    /// The connector, for callers that need more than the views.
    pub fn connector(&self) -> &Connector<OsKeychain> {
        &self.connector
    }

    /// The integration `id`, optionally in another environment.
    pub fn find(&self, id: &str, environment: Option<&str>) -> Result<Integration, SessionError> {
        let (found, api_key) = self
            .integrations
            .iter()
            .find(|(i, _)| i.id == id)
            .ok_or_else(|| SessionError::UnknownIntegration(id.to_owned()))?;
        if *api_key {
            return Err(SessionError::ApiKey(id.to_owned()));
        }
        let mut integration = clone_integration(found);
        if let Some(env) = environment {
            integration.environment = Environment::parse(env).map_err(ConnectError::from)?;
        }
        Ok(integration)
    }

    /// Every integration the admin enabled, as a UI shows it.
    pub fn views(&self) -> Result<Vec<IntegrationView>, SessionError> {
        let catalog = Catalog::builtin().map_err(ConnectError::from)?;
        let mut views = Vec::new();
        for (integration, api_key) in &self.integrations {
            let provider = catalog.get(&integration.id).ok();
            let status = if *api_key {
                serde_json::json!({ "state": "connected_by_admin" })
            } else {
                serde_json::to_value(self.connector.state(integration)?).unwrap_or_default()
            };
            views.push(IntegrationView {
                id: integration.id.clone(),
                name: provider.map_or_else(|| integration.id.clone(), |p| p.name.clone()),
                icon: provider.map_or_else(String::new, |p| p.icon.clone()),
                environment: integration.environment.to_string(),
                environment_label: match integration.environment.kind() {
                    EnvironmentKind::Production => "Production".to_owned(),
                    EnvironmentKind::Sandbox => "Sandbox".to_owned(),
                    EnvironmentKind::Custom => integration.environment.to_string(),
                },
                auth: if *api_key { "api_key" } else { "oauth2" }.to_owned(),
                status,
            });
        }
        Ok(views)
    }

    /// Signs in through the system browser.
    pub async fn connect(
        &self,
        id: &str,
        environment: Option<&str>,
        options: &ConnectOptions,
    ) -> Result<ConnectionState, SessionError> {
        let integration = self.find(id, environment)?;
        Ok(self.connector.connect(&integration, options).await?)
    }

    /// Revokes at the provider and deletes everywhere.
    pub async fn revoke(
        &self,
        id: &str,
        environment: Option<&str>,
    ) -> Result<RevokeReport, SessionError> {
        let integration = self.find(id, environment)?;
        Ok(self.connector.revoke(&integration).await?)
    }

    /// A fresh access token, for scripts (the CLI's `token`). Never for a webview.
    pub async fn access_token(
        &self,
        id: &str,
        environment: Option<&str>,
    ) -> Result<SecretString, SessionError> {
        let integration = self.find(id, environment)?;
        Ok(self
            .connector
            .access_token(&integration, &ConnectOptions::default())
            .await?)
    }
}

fn clone_integration(i: &Integration) -> Integration {
    Integration {
        id: i.id.clone(),
        environment: i.environment.clone(),
        params: i.params.clone(),
        client_id: i.client_id.clone(),
        client_secret: i.client_secret.as_ref().map(SecretString::duplicate),
        scopes: i.scopes.clone(),
    }
}

/// Describes a state in plain words, for terminals and tooltips.
pub fn describe(state: &serde_json::Value) -> String {
    match state["state"].as_str() {
        Some("connected") => match state["identity"].as_str() {
            Some(who) => format!("connected as {who}"),
            None => "connected".to_owned(),
        },
        Some("needs_reconnect") => format!(
            "needs reconnect: {}",
            state["reason"].as_str().unwrap_or("")
        ),
        Some("connected_by_admin") => "connected by your admin".to_owned(),
        _ => "not connected".to_owned(),
    }
}
