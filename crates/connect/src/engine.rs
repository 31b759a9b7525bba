//! The connect engine: connect, keep fresh, revoke — with every token sealed
//! by the vault before it is stored anywhere.
//!
//! Concurrency: within a process, one async mutex per connection slot makes
//! concurrent callers share one refresh (the second caller finds the fresh
//! token). Across processes on one device (desktop app and CLI), a file lock
//! per slot serialises the same critical section.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_catalog::{Catalog, Environment, Params, RedirectHost, ResolvedApi, ResolvedOAuth2};
use latchkey_keychain::Keychain;
use latchkey_secret::SecretString;
use latchkey_vault::{SlotId, Vault};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::ConnectError;
use crate::browser::{BrowserLauncher, check_authorization_url};
use crate::http::HttpClient;
use crate::loopback::{CallbackListener, Expectation};
use crate::oauth::ProviderClient;
use crate::sync::{RemoteStore, SyncState};

mod refresh;
mod refresh_lock;
mod revoke;

pub use crate::sync::{SyncOutcome, SyncReport};

/// The extras key under which the connection's identity label is sealed.
pub(crate) const IDENTITY_KEY: &str = "latchkey:identity";

/// An integration the admin enabled for this user, with its public settings.
pub struct Integration {
    /// The connection's id (`salesforce`, `salesforce-uat`): the vault slot and the
    /// server's records are keyed by it, so two connections of one provider never
    /// share (or swap) a sealed record.
    pub id: String,
    /// The catalog provider (`salesforce`): endpoints, API and wording come from it.
    pub provider: String,
    /// What the admin named the connection ("Salesforce — UAT sandbox"); `None`: the
    /// catalog's name.
    pub display_name: Option<String>,
    /// Production, Sandbox or a custom login host.
    pub environment: Environment,
    /// Values for the catalog placeholders (tenant, subdomain, issuer).
    pub params: Params,
    /// The OAuth client id the admin registered at the provider.
    pub client_id: String,
    /// A client secret, for providers that demand one (not confidential in a
    /// native app, RFC 8252 §8.5).
    pub client_secret: Option<SecretString>,
    /// Scopes to request; empty means the catalog's defaults.
    pub scopes: Vec<String>,
    /// The host name in the loopback redirect URI the admin registered
    /// (`127.0.0.1` unless the provider allows `localhost` and the admin chose it).
    pub redirect_host: RedirectHost,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("environment", &self.environment.to_string())
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[set]"),
            )
            .finish()
    }
}

/// Knobs for one connect or token call.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to wait for the user to finish signing in.
    pub callback_timeout: Duration,
    /// Refresh this long before the access token expires.
    pub refresh_skew: Duration,
    /// Cancels a pending sign-in.
    pub cancel: CancellationToken,
    /// The user agreed that this sign-in may sign out another of their devices (the
    /// provider's approval limit, see [`crate::approval_limit`]). Without it, a connect
    /// that would do so stops with [`ConnectError::ApprovalLimit`] before the browser opens.
    pub confirm_approval_limit: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            callback_timeout: Duration::from_secs(300),
            refresh_skew: Duration::from_secs(30),
            cancel: CancellationToken::new(),
            confirm_approval_limit: false,
        }
    }
}

/// What the UI shows for one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Nothing stored.
    NotConnected,
    /// Tokens are stored.
    Connected {
        /// "ada@acme.com", when the provider said.
        identity: Option<String>,
        /// Seconds since the epoch of the last sign-in or refresh.
        since: u64,
        /// The record version.
        version: u64,
        /// The host API calls go to when the provider chose it per user
        /// (Salesforce's org, from `instance_url`).
        instance_host: Option<String>,
    },
    /// The stored grant is dead; only a new sign-in helps.
    NeedsReconnect {
        /// Why, in plain words.
        reason: String,
        /// A stable code when the reason is a known one the UI words itself
        /// (`connect.approval_limit_signed_out`); absent otherwise.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'static str>,
    },
    /// The admin took this connection away; the grant was revoked and the copy
    /// wiped. Connect works again once the admin allows it.
    DisconnectedByAdmin {
        /// "Your admin disconnected Salesforce", in plain words.
        reason: String,
    },
}

/// One step of a revocation, as reported to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokeStep {
    /// What was attempted: "revoke at the provider", "delete from this device".
    pub step: String,
    /// "done", "queued", "skipped" or "failed".
    pub outcome: String,
    /// Details in plain words.
    pub detail: String,
}

/// What a revocation did, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokeReport {
    /// The steps in order.
    pub steps: Vec<RevokeStep>,
}

impl RevokeReport {
    fn push(&mut self, step: &str, outcome: &str, detail: impl Into<String>) {
        self.steps.push(RevokeStep {
            step: step.to_owned(),
            outcome: outcome.to_owned(),
            detail: detail.into(),
        });
    }

    /// True when every step is done (nothing queued or failed).
    pub fn complete(&self) -> bool {
        self.steps
            .iter()
            .all(|s| s.outcome == "done" || s.outcome == "skipped")
    }
}

/// Why a slot needs a reconnect; kept beside the cache, never a secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconnectMarker {
    pub(crate) reason: String,
    pub(crate) at: u64,
    /// Set when the provider's approval limit ended the grant (this many other devices
    /// connected since): the error and the card then say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) approval_limit: Option<u32>,
}

/// Connects, refreshes and revokes integrations for one user on one device.
pub struct Connector<K: Keychain> {
    pub(crate) vault: Arc<Vault<K>>,
    pub(crate) catalog: &'static Catalog,
    pub(crate) http: HttpClient,
    pub(crate) browser: Arc<dyn BrowserLauncher>,
    pub(crate) data_dir: PathBuf,
    pub(crate) slots: Mutex<HashMap<SlotId, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) remote: Option<Arc<dyn RemoteStore>>,
    pub(crate) sync: SyncState,
}

impl<K: Keychain> std::fmt::Debug for Connector<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

pub(crate) struct Resolved {
    pub(crate) name: String,
    /// Where the user removes the app's access by hand (providers without revocation).
    pub(crate) manage_access_url: Option<String>,
    pub(crate) oauth: ResolvedOAuth2,
    pub(crate) client: ProviderClient,
    pub(crate) slot: SlotId,
    /// Calls made with the token, when the catalog describes the provider's API.
    pub(crate) api: Option<ResolvedApi>,
    /// The provider's cap on live grants per user and app (Salesforce: 5).
    pub(crate) approval_limit: Option<u32>,
}

/// What the caller last saw, so that callers who queued behind one refresh
/// take its result instead of refreshing again.
pub(crate) enum Seen {
    /// The record version the caller found expiring.
    Version(u64),
    /// The access token the provider refused (or that `--refresh` replaces).
    Token(SecretString),
}

impl<K: Keychain> Connector<K> {
    /// A connector over an unlocked vault. `data_dir` holds locks and queues.
    pub fn new(
        vault: Arc<Vault<K>>,
        http: HttpClient,
        browser: Arc<dyn BrowserLauncher>,
        data_dir: &Path,
    ) -> Result<Self, ConnectError> {
        // The data dir is the user's alone, also when it already existed.
        latchkey_private_files::create_dir(data_dir).map_err(|e| ConnectError::LocalIo {
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            vault,
            catalog: Catalog::builtin()?,
            http,
            browser,
            data_dir: data_dir.to_path_buf(),
            slots: Mutex::new(HashMap::new()),
            remote: None,
            sync: SyncState::new(data_dir),
        })
    }

    /// Syncs sealed records with `remote` (the Latchkey server).
    pub fn with_remote(mut self, remote: Arc<dyn RemoteStore>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The vault this connector seals with.
    /// The data dir this connector keeps its files in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn vault(&self) -> &Vault<K> {
        &self.vault
    }

    pub(crate) fn resolve(&self, integration: &Integration) -> Result<Resolved, ConnectError> {
        let provider = self.catalog.resolve(
            &integration.provider,
            &integration.environment,
            &integration.params,
        )?;
        let Some(oauth) = provider.oauth2().cloned() else {
            return Err(ConnectError::NotOAuth {
                provider: provider.name.clone(),
            });
        };
        let client = ProviderClient::new(
            &provider.name,
            &oauth,
            &integration.client_id,
            integration
                .client_secret
                .as_ref()
                .map(SecretString::duplicate),
            self.http.clone(),
        )?;
        let slot = SlotId::new(&integration.id, &provider.environment.to_string())?;
        let entry = self.catalog.get(&integration.provider).ok();
        let manage_access_url = entry.and_then(|p| p.manage_access_url.clone());
        Ok(Resolved {
            approval_limit: entry.and_then(|p| p.approval_limit()),
            api: provider.api.clone(),
            name: provider.name.clone(),
            manage_access_url,
            oauth,
            client,
            slot,
        })
    }

    pub(crate) fn marker_path(&self, slot: &SlotId) -> PathBuf {
        self.data_dir.join("state").join(format!(
            "{}@{}.reconnect.json",
            slot.integration(),
            slot.environment()
        ))
    }

    /// What the UI shows for `integration`.
    pub fn state(&self, integration: &Integration) -> Result<ConnectionState, ConnectError> {
        let slot = SlotId::new(&integration.id, &integration.environment.to_string())?;
        self.state_of(&slot)
    }

    /// Why `slot` needs a reconnect, if a dead grant was recorded for it.
    pub(crate) fn reconnect_marker(&self, slot: &SlotId) -> Option<ReconnectMarker> {
        let bytes = fs::read(self.marker_path(slot)).ok()?;
        serde_json::from_slice::<ReconnectMarker>(&bytes).ok()
    }

    pub(crate) fn state_of(&self, slot: &SlotId) -> Result<ConnectionState, ConnectError> {
        if let Some(reason) = self.admin_disconnect_reason(slot) {
            return Ok(ConnectionState::DisconnectedByAdmin { reason });
        }
        if let Some(marker) = self.reconnect_marker(slot) {
            return Ok(match marker.approval_limit {
                Some(limit) => ConnectionState::NeedsReconnect {
                    reason: crate::error::signed_out_reason(limit),
                    code: Some("connect.approval_limit_signed_out"),
                },
                None => ConnectionState::NeedsReconnect {
                    reason: marker.reason,
                    code: None,
                },
            });
        }
        match self.vault.load_tokens(slot) {
            Ok(None) => Ok(ConnectionState::NotConnected),
            Ok(Some((version, tokens))) => Ok(ConnectionState::Connected {
                identity: tokens.extras.get(IDENTITY_KEY).cloned(),
                since: tokens.issued_at,
                version,
                instance_host: tokens
                    .instance_url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
                    .and_then(|u| u.host_str().map(str::to_owned)),
            }),
            Err(e) if e.needs_reconnect() => Ok(ConnectionState::NeedsReconnect {
                reason: e.to_string(),
                code: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops a new sign-in that would sign out another of the user's devices (the
    /// provider keeps `approval_limit` grants per user and app and revokes the oldest),
    /// unless the caller confirmed. Asks the server which devices hold a grant; when it
    /// cannot tell (offline, no server), the sign-in goes ahead: the limit is the
    /// provider's to enforce, this only warns.
    async fn check_approval_limit(
        &self,
        r: &Resolved,
        integration: &Integration,
        options: &ConnectOptions,
    ) -> Result<(), ConnectError> {
        let (Some(limit), Some(remote)) = (r.approval_limit, &self.remote) else {
            tracing::debug!(integration = %integration.id, limit = ?r.approval_limit, remote = self.remote.is_some(), "no approval limit to check");
            return Ok(());
        };
        if options.confirm_approval_limit {
            return Ok(());
        }
        let list = match remote.grants(&integration.id).await {
            Ok(Some(list)) => list,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(integration = %integration.id, code = e.code(), "could not ask the server which devices are connected; connecting without the check");
                return Ok(());
            }
        };
        tracing::debug!(integration = %integration.id, limit, grants = list.grants.len(), "grants of this connection on the user's devices");
        match crate::approval_limit::would_sign_out(&list, limit) {
            Some(grant) => Err(ConnectError::ApprovalLimit {
                provider: r.name.clone(),
                limit,
                device: crate::approval_limit::device_label(grant),
                device_id: grant.device_id.to_string(),
                connected_on: crate::approval_limit::date_of(grant.connected_at),
            }),
            None => Ok(()),
        }
    }

    /// Signs in through the system browser and stores the sealed tokens.
    ///
    /// If a connection with a refresh token already exists, no new
    /// authorization is started (Salesforce allows five approvals per user per
    /// app, and a sixth silently revokes the oldest): the existing state is
    /// returned. Revoke first to connect again.
    pub async fn connect(
        &self,
        integration: &Integration,
        options: &ConnectOptions,
    ) -> Result<ConnectionState, ConnectError> {
        let r = self.resolve(integration)?;
        let _locks = self.lock_slot(&r.slot).await?;

        let existing = match self.vault.load_tokens(&r.slot) {
            Ok(existing) => existing,
            Err(e) if e.needs_reconnect() => None,
            Err(e) => return Err(e.into()),
        };
        let marked = self.marker_path(&r.slot).exists();
        if let Some((version, tokens)) = &existing
            && tokens.refresh_token.is_some()
            && !marked
        {
            // Never a new authorization while the saved one works (Salesforce allows five
            // approvals per user per app and silently revokes the oldest on a sixth). A
            // dead one (refused at the provider) falls through to a new sign-in.
            match self.refresh_locked(&r, *version, tokens).await {
                Ok(_) => {
                    tracing::info!(integration = %integration.id, "already connected; the saved sign-in still works");
                    return self.state_of(&r.slot);
                }
                Err(e) if e.needs_reconnect() => {
                    tracing::info!(integration = %integration.id, "the saved sign-in is dead; starting a new one");
                }
                Err(e) => return Err(e),
            }
        }
        self.check_approval_limit(&r, integration, options).await?;
        let next_version = existing
            .as_ref()
            .map_or(0, |(v, _)| *v)
            .max(self.sync.high_water(&r.slot))
            + 1;

        let host = if r.oauth.redirect.localhost {
            integration.redirect_host
        } else {
            RedirectHost::Ip
        };
        let listener = CallbackListener::bind_named(
            &r.name,
            r.oauth.redirect.port,
            &r.oauth.redirect.path,
            host,
        )
        .await?;
        let request = r
            .client
            .authorization_request(&listener.redirect_uri(), &integration.scopes)?;
        check_authorization_url(&request.url, &r.oauth.authorization_url)?;
        tracing::info!(integration = %integration.id, port = listener.port(), "opening the system browser for sign-in");
        self.browser.open(&request.url)?;

        let expectation = Expectation {
            provider: &r.name,
            state: &request.state,
            issuer: r.oauth.issuer.as_deref(),
            require_iss: r.oauth.iss_in_authorization_response,
        };
        let callback = listener
            .wait(
                expectation,
                options.callback_timeout,
                options.cancel.clone(),
            )
            .await?;

        let stored = async {
            let mut tokens = r
                .client
                .exchange_code(&callback.code, request.verifier, &request.redirect_uri)
                .await?;
            if let Some(identity) = r.client.identity(&tokens).await {
                tokens.extras.insert(IDENTITY_KEY.to_owned(), identity);
            }
            self.persist(&r.slot, next_version, &tokens, true).await?;
            let _ = fs::remove_file(self.admin_marker_path(&r.slot));
            let _ = fs::remove_file(self.marker_path(&r.slot));
            Ok::<_, ConnectError>(tokens.extras.get(IDENTITY_KEY).cloned())
        }
        .await;
        match &stored {
            Ok(identity) => {
                let who = identity
                    .as_deref()
                    .map(|i| format!(" as {i}"))
                    .unwrap_or_default();
                callback
                    .responder
                    .finish(
                        true,
                        &format!("Connected to {}{who}. You can close this tab.", r.name),
                    )
                    .await;
                tracing::info!(integration = %integration.id, version = next_version, "connected");
            }
            Err(e) => callback.responder.finish(false, &e.to_string()).await,
        }
        stored?;
        self.state_of(&r.slot)
    }
}
