//! An enrolled device at work: integrations, connector, and UI views.

use std::path::Path;
use std::sync::Arc;

use latchkey_catalog::{Catalog, Environment, EnvironmentKind, RedirectHost};
use latchkey_client::protocol::device::AskedValue;
use latchkey_client::{
    ClientError, ErrorCode, IntegrationKind, ProviderOutcome, RemoteIntegration, ServerClient,
};
use latchkey_connect::http::HttpClient;
use latchkey_connect::{
    ApiRequest, ApiResponse, BrowserLauncher, ConnectError, ConnectOptions, ConnectionState,
    Connector, Integration, RevokeReport, TokenInfo,
};
use latchkey_keychain::OsKeychain;
use latchkey_secret::SecretString;
use serde::Serialize;

use crate::{Device, DeviceError};

mod connections;
mod error;

pub use error::SessionError;

/// One integration as a UI shows it. No secret ever appears here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationView {
    /// The connection's id (`salesforce`, `salesforce-uat`).
    pub id: String,
    /// The catalog provider (`salesforce`).
    pub provider: String,
    /// Display name: the admin's name for the connection ("Salesforce — UAT
    /// sandbox"), else the catalog's (`Salesforce`).
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
    /// The Latchkey server, for calls through its API-key proxy.
    server: ServerClient,
    integrations: Vec<(Integration, bool)>,
    offline: Option<String>,
    /// The data dir (widget snapshots live under it, sealed).
    dir: std::path::PathBuf,
    /// The widgets the admin offers by default, per integration (`None`: all).
    default_widgets: std::collections::HashMap<String, Option<Vec<String>>>,
    /// What each connection still asks of this user before it can connect (a login
    /// host, a subdomain); absent or empty: nothing.
    asks: std::collections::HashMap<String, Vec<AskedValue>>,
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
        // The settings known before this sync: an order for an integration the admin
        // removed still needs them to reach the provider.
        let previous = device.cached_integrations();
        let (remote, offline) = match client.integrations().await {
            Ok(list) => {
                device.cache_integrations(&list)?;
                (list, None)
            }
            Err(e) if e.is_offline() => (device.cached_integrations(), Some(e.to_string())),
            Err(ClientError::Unauthorized { code, message })
                if code == ErrorCode::DEVICE_REVOKED || code == ErrorCode::INVALID_TOKEN =>
            {
                // Revoked, or removed with its user: carry out the admin's last orders
                // (the token still opens those), wipe every copy, forget the token.
                let connector = Connector::new(Arc::new(vault), HttpClient::new()?, browser, dir)?;
                // A revoked device's token is refused as revoked; a removed user's device
                // is gone altogether, so its token is no longer known.
                let removed = code == ErrorCode::INVALID_TOKEN;
                if leave(device, &connector, &client, &previous, removed).await {
                    return Err(if removed {
                        DeviceError::RemovedByAdmin
                    } else {
                        DeviceError::RevokedByAdmin
                    }
                    .into());
                }
                return Err(ClientError::Unauthorized { code, message }.into());
            }
            Err(e) => return Err(e.into()),
        };
        let development =
            development_providers_allowed(device.server(), &|k| std::env::var(k).ok());
        let mut integrations = Vec::new();
        for r in &remote {
            if !development && is_development_provider(r.provider_id()) {
                tracing::warn!(
                    integration = %r.id,
                    "skipping a development provider: this device only uses those with a server on this computer or LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS=true"
                );
                continue;
            }
            integrations.push(to_integration(r)?);
        }
        let server = client.duplicate();
        let connector = Connector::new(Arc::new(vault), HttpClient::new()?, browser, dir)?
            .with_remote(Arc::new(client));
        let session = Session {
            server,
            connector,
            integrations,
            offline,
            dir: dir.to_path_buf(),
            default_widgets: remote
                .iter()
                .map(|r| (r.id.to_string(), r.default_widgets.clone()))
                .collect(),
            asks: remote
                .iter()
                .filter(|r| !r.ask.is_empty())
                .map(|r| (r.id.to_string(), r.ask.clone()))
                .collect(),
        };
        if session.offline.is_none() {
            // The admin's orders first: a queued write for a slot the admin emptied is
            // dropped, not sent. Failures stay for the next time.
            session.reconcile_revocations(&previous).await;
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

    /// The scopes the admin configured for `id` (empty: the catalog's defaults).
    pub fn scopes_of(&self, id: &str) -> Option<Vec<String>> {
        self.integrations
            .iter()
            .find(|(i, _)| i.id == id)
            .map(|(i, _)| i.scopes.clone())
    }

    /// The connector, for callers that need more than the views.
    pub fn connector(&self) -> &Connector<OsKeychain> {
        &self.connector
    }

    /// The integration `id`, optionally in another environment.
    pub fn find(&self, id: &str, environment: Option<&str>) -> Result<Integration, SessionError> {
        let (found, api_key) = self.connection(id)?;
        if *api_key {
            return Err(SessionError::ApiKey(self.display_name(&found.id)));
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
            let provider = catalog.get(&integration.provider).ok();
            let status = if *api_key {
                serde_json::json!({ "state": "connected_by_admin" })
            } else if let Some(ask) = self.asks.get(&integration.id) {
                // Nothing can be connected before the user gives what the admin left out.
                serde_json::json!({ "state": "needs_values", "ask": ask })
            } else {
                serde_json::to_value(self.connector.state(integration)?).unwrap_or_default()
            };
            views.push(IntegrationView {
                id: integration.id.clone(),
                provider: integration.provider.clone(),
                name: integration.display_name.clone().unwrap_or_else(|| {
                    provider.map_or_else(|| integration.id.clone(), |p| p.name.clone())
                }),
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
        if let Some(ask) = self.asks.get(&integration.id) {
            return Err(SessionError::ValuesNeeded {
                id: integration.id.clone(),
                name: self.display_name(&integration.id),
                asks: ask.clone(),
            });
        }
        // The server keeps records only where the admin enabled the integration: say so
        // before the browser opens, not after the user signed in.
        let enabled = self.find(id, None)?.environment;
        if integration.environment != enabled {
            return Err(SessionError::EnvironmentNotEnabled {
                id: id.to_owned(),
                enabled: enabled.to_string(),
                asked: integration.environment.to_string(),
            });
        }
        Ok(self.connector.connect(&integration, options).await?)
    }

    /// Revokes at the provider and deletes everywhere.
    pub async fn revoke(
        &self,
        id: &str,
        environment: Option<&str>,
    ) -> Result<RevokeReport, SessionError> {
        let integration = self.find(id, environment)?;
        let report = self.connector.revoke(&integration).await?;
        // What the widgets showed of it goes too.
        crate::widgets::wipe(&self.dir, Some(&integration.id));
        Ok(report)
    }

    /// The widgets the admin offers by default for `id` (`None`: all the catalog offers).
    pub fn default_widgets(&self, id: &str) -> Option<Vec<String>> {
        self.default_widgets.get(id).cloned().flatten()
    }

    /// The data dir this session keeps its files in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh access token (refreshed ahead of its expiry). Never for a webview.
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

impl Session {
    /// Carries out the admin's revocation orders for this device (revoke at the
    /// provider, wipe, receipt). Runs at every start and reconnect, so a device
    /// that was offline for weeks still does it; the change feed makes the menu
    /// reopen its session, which runs it again. Returns how many were answered.
    pub async fn reconcile_revocations(&self, previous: &[RemoteIntegration]) -> usize {
        let orders = match self.server.revocation_orders().await {
            Ok(orders) => orders,
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "could not fetch the admin's revocation orders; will try again"
                );
                return 0;
            }
        };
        carry_out(&self.connector, &self.server, orders, previous).await
    }
}

/// A revoked or removed device's last act: the admin's orders carried out and
/// answered, every copy wiped, the device token forgotten. When the server cannot be
/// reached nothing is wiped yet: the next start tries again.
async fn leave(
    device: &Device,
    connector: &Connector<OsKeychain>,
    server: &ServerClient,
    previous: &[RemoteIntegration],
    removed: bool,
) -> bool {
    match server.revocation_orders().await {
        Ok(orders) => {
            carry_out(connector, server, orders, previous).await;
        }
        Err(e) if e.is_offline() => return false,
        // No orders for this token (revoked before any connection, or long ago).
        Err(e) => tracing::info!(code = e.code(), "no revocation orders for this device"),
    }
    crate::widgets::wipe(connector.data_dir(), None);
    match connector.wipe_all() {
        Ok(n) => tracing::warn!(
            wiped = n,
            "this device was revoked by the admin; its copies are wiped"
        ),
        Err(e) => tracing::warn!(code = e.code(), "could not wipe this device's copies"),
    }
    match device.forget_token(removed) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(code = e.code(), "could not forget the device token");
            false
        }
    }
}

/// Carries out `orders` and answers each; returns how many were answered.
async fn carry_out(
    connector: &Connector<OsKeychain>,
    server: &ServerClient,
    orders: Vec<latchkey_client::RevocationOrder>,
    previous: &[RemoteIntegration],
) -> usize {
    let mut answered = 0;
    for order in orders {
        let known = order
            .integration
            .as_ref()
            .or_else(|| previous.iter().find(|p| p.id == order.integration_id))
            .map(to_integration);
        let receipt = match known {
            Some(Ok((mut integration, false))) => {
                match Environment::parse(&order.environment) {
                    Ok(env) => integration.environment = env,
                    Err(e) => {
                        tracing::warn!("an order names a bad environment: {e}");
                        continue;
                    }
                }
                connector
                    .apply_revocation_order(&integration, order.reason.as_str())
                    .await
            }
            _ => connector.wipe_slot(
                &order.integration_id,
                &order.environment,
                order.reason.as_str(),
            ),
        };
        // The widgets' sealed snapshots of it go with the tokens.
        crate::widgets::wipe(connector.data_dir(), Some(&order.integration_id));
        let receipt = match receipt {
            Ok(receipt) => receipt,
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "an admin's revocation order failed here; will try again"
                );
                continue;
            }
        };
        // The connector names only the protocol's outcomes; anything else is a bug here,
        // and the order stays pending rather than be answered wrongly.
        let Ok(provider) = receipt.provider.parse::<ProviderOutcome>() else {
            tracing::warn!(
                provider = %receipt.provider,
                "a revocation receipt names an outcome the server does not know; not sent"
            );
            continue;
        };
        match server
            .revocation_receipt(&order.id, provider, &receipt.detail, receipt.local_wiped)
            .await
        {
            Ok(()) => answered += 1,
            Err(e) => tracing::warn!(
                code = e.code(),
                "could not send a revocation receipt; will send it again"
            ),
        }
    }
    answered
}

impl Session {
    /// The integration `id` whatever its kind, and whether it is an API-key one.
    pub(crate) fn find_any(
        &self,
        id: &str,
        environment: Option<&str>,
    ) -> Result<(Integration, bool), SessionError> {
        let (found, api_key) = self.connection(id)?;
        let mut integration = clone_integration(found);
        if let Some(env) = environment {
            integration.environment = Environment::parse(env).map_err(ConnectError::from)?;
        }
        Ok((integration, *api_key))
    }

    /// One API call with the user's credentials. OAuth integrations are called
    /// directly with the user's token (refreshed once and retried once when the
    /// provider refuses it); API-key integrations go through the Latchkey
    /// server's proxy, so the key never reaches this computer.
    pub async fn call(
        &self,
        id: &str,
        environment: Option<&str>,
        request: &ApiRequest,
        options: &ConnectOptions,
    ) -> Result<ApiResponse, SessionError> {
        let (integration, api_key) = self.find_any(id, environment)?;
        if !api_key {
            return Ok(self.connector.call(&integration, request, options).await?);
        }
        request.check()?;
        if request.target.contains("://") {
            return Err(ConnectError::InvalidRequest {
                reason: format!(
                    "{id} is called through your Latchkey server, which adds the API key: give a path, not a URL"
                ),
            }
            .into());
        }
        let path = format!("/{}", request.target.trim_start_matches('/'));
        let answer = self
            .server
            .proxy(
                id,
                request.method.clone(),
                &path,
                &request.headers,
                request.body.clone(),
            )
            .await?;
        let mut headers = http::HeaderMap::new();
        if let Some(ct) = answer
            .content_type
            .as_deref()
            .and_then(|ct| http::HeaderValue::from_str(ct).ok())
        {
            headers.insert(http::header::CONTENT_TYPE, ct);
        }
        // The provider's URL where the proxy names it (links in the answer are its),
        // with the query this call sent; otherwise the proxy's own.
        let url = match answer.upstream_url {
            Some(mut upstream) => {
                upstream.set_query(path.split_once('?').map(|(_, q)| q));
                upstream
            }
            None => url::Url::parse(&format!("{}/v1/proxy/{id}{path}", self.server.origin()))
                .map_err(|e| ConnectError::InvalidRequest {
                    reason: e.to_string(),
                })?,
        };
        Ok(ApiResponse {
            status: answer.status,
            headers,
            body: answer.body,
            url,
        })
    }

    /// The request for the page after `response`, or `None` at the end (and
    /// always for API-key integrations, whose paging the caller drives).
    pub fn next_page(
        &self,
        id: &str,
        environment: Option<&str>,
        request: &ApiRequest,
        response: &ApiResponse,
    ) -> Result<Option<ApiRequest>, SessionError> {
        let (integration, api_key) = self.find_any(id, environment)?;
        if api_key {
            return Ok(None);
        }
        Ok(self.connector.next_page(&integration, request, response)?)
    }

    /// The token with its non-secret details, for scripts (`latchkey token`).
    pub async fn token_info(
        &self,
        id: &str,
        environment: Option<&str>,
        force_refresh: bool,
    ) -> Result<TokenInfo, SessionError> {
        let integration = self.find(id, environment)?;
        Ok(self
            .connector
            .token_info(&integration, &ConnectOptions::default(), force_refresh)
            .await?)
    }

    /// The environment variables `latchkey exec` sets for `id`.
    pub async fn exec_env(
        &self,
        id: &str,
        environment: Option<&str>,
    ) -> Result<Vec<(String, SecretString)>, SessionError> {
        let integration = self.find(id, environment)?;
        Ok(self
            .connector
            .exec_env(&integration, &ConnectOptions::default())
            .await?)
    }

    /// The Git credential for `host` from the first connected integration whose
    /// catalog entry declares that Git host; `None` when none answers for it.
    pub async fn git_credential(
        &self,
        host: &str,
    ) -> Result<Option<(String, SecretString)>, SessionError> {
        for (integration, api_key) in &self.integrations {
            if *api_key {
                continue;
            }
            match self
                .connector
                .git_credential(integration, host, &ConnectOptions::default())
                .await
            {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) | Err(ConnectError::NotConnected { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}

/// Whether this device uses the catalog's development providers (a demo OAuth server
/// on this computer): only with a server on this computer (a developer's or a test's)
/// or when `LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS=true`. A production server that offered
/// one by mistake, or a tampered one, cannot send a user's sign-in to a test server.
pub fn development_providers_allowed(server: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    if env("LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS")
        .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
    {
        return true;
    }
    url::Url::parse(server).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

/// Whether the catalog marks `id` as a development provider.
fn is_development_provider(id: &str) -> bool {
    Catalog::builtin()
        .ok()
        .and_then(|c| c.get(id).ok())
        .is_some_and(|p| p.development)
}

/// The `latchkey exec` variables the catalog names, for every OAuth provider:
/// (integration id, variable, what it holds).
pub fn exec_variables() -> Vec<(String, String, String)> {
    let Ok(catalog) = Catalog::builtin() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for provider in catalog.providers() {
        if provider.development {
            continue;
        }
        if let Some(api) = &provider.api {
            for (var, source) in &api.env {
                out.push((provider.id.clone(), var.clone(), source.clone()));
            }
        }
    }
    out
}

/// A server-side integration as the connector's, and whether it is an API-key one.
fn to_integration(r: &RemoteIntegration) -> Result<(Integration, bool), SessionError> {
    let environment = Environment::parse(&r.environment).map_err(ConnectError::from)?;
    Ok((
        Integration {
            id: r.id.to_string(),
            provider: r.provider_id().to_string(),
            display_name: r.display_name.clone(),
            environment,
            params: r.params.clone().into_iter().collect(),
            client_id: r.client_id.clone().unwrap_or_default(),
            client_secret: r.client_secret.as_ref().map(SecretString::duplicate),
            scopes: r.scopes.clone(),
            redirect_host: r
                .redirect_host
                .as_deref()
                .and_then(RedirectHost::parse)
                .unwrap_or_default(),
        },
        // An org connection is used like an API key: through the server, connected by
        // the admin, never an OAuth flow on this device.
        r.kind == IntegrationKind::ApiKey || r.org_wide,
    ))
}

fn clone_integration(i: &Integration) -> Integration {
    Integration {
        id: i.id.clone(),
        provider: i.provider.clone(),
        display_name: i.display_name.clone(),
        environment: i.environment.clone(),
        params: i.params.clone(),
        client_id: i.client_id.clone(),
        client_secret: i.client_secret.as_ref().map(SecretString::duplicate),
        scopes: i.scopes.clone(),
        redirect_host: i.redirect_host,
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
        Some("needs_values") => {
            let names: Vec<String> = state["ask"]
                .as_array()
                .map(|ask| {
                    ask.iter()
                        .filter_map(|a| a["name"].as_str())
                        .map(|n| format!("--set {n}=…"))
                        .collect()
                })
                .unwrap_or_default();
            format!("needs values to connect ({})", names.join(" "))
        }
        Some("disconnected_by_admin") => state["reason"]
            .as_str()
            .unwrap_or("your admin disconnected it")
            .to_owned(),
        _ => "not connected".to_owned(),
    }
}

#[cfg(test)]
mod tests;
