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

use base64::Engine;
use latchkey_catalog::{
    Catalog, Environment, Params, RedirectHost, RefreshRotation, ResolvedApi, ResolvedOAuth2,
};
use latchkey_keychain::Keychain;
use latchkey_secret::SecretString;
use latchkey_vault::{SlotId, TokenSet, Vault};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::ConnectError;
use crate::admin_revocation::describe_outcome;
use crate::browser::{BrowserLauncher, check_authorization_url};
use crate::http::HttpClient;
use crate::loopback::{CallbackListener, Expectation};
use crate::oauth::{ProviderClient, RevocationOutcome, unix_now};
use crate::sync::{OutboxEntry, RemoteStore, SyncState};
use latchkey_client::ClientError;

/// The extras key under which the connection's identity label is sealed.
pub(crate) const IDENTITY_KEY: &str = "latchkey:identity";

/// An integration the admin enabled for this user, with its public settings.
pub struct Integration {
    /// Catalog id (`salesforce`).
    pub id: String,
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
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            callback_timeout: Duration::from_secs(300),
            refresh_skew: Duration::from_secs(30),
            cancel: CancellationToken::new(),
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

/// A revocation waiting for the provider to come back. The tokens stay
/// sealed in it; it is deleted once the provider confirms.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingRevocation {
    integration: String,
    environment: String,
    version: u64,
    envelope_b64: String,
    attempts: u32,
    next_attempt_at: u64,
}

/// Why a slot needs a reconnect; kept beside the cache, never a secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconnectMarker {
    reason: String,
    at: u64,
}

/// The two locks that serialise work on one slot, released on drop.
pub(crate) struct SlotLocks {
    _file: fs::File,
    _in_process: tokio::sync::OwnedMutexGuard<()>,
}

/// Connects, refreshes and revokes integrations for one user on one device.
pub struct Connector<K: Keychain> {
    pub(crate) vault: Arc<Vault<K>>,
    catalog: &'static Catalog,
    pub(crate) http: HttpClient,
    browser: Arc<dyn BrowserLauncher>,
    pub(crate) data_dir: PathBuf,
    slots: Mutex<HashMap<SlotId, Arc<tokio::sync::Mutex<()>>>>,
    remote: Option<Arc<dyn RemoteStore>>,
    pub(crate) sync: SyncState,
}

/// What became of a write to the remote store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "sync", rename_all = "snake_case")]
pub enum SyncOutcome {
    /// No remote store is configured.
    LocalOnly,
    /// The server holds this version.
    Synced { version: u64 },
    /// The server could not be reached; the write is queued.
    Queued,
    /// The server refused; the local copy stands. The reason is for the user.
    Refused { reason: String },
}

/// What [`Connector::sync_pending`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Writes that reached the server.
    pub sent: usize,
    /// Writes still queued (the server is still unreachable).
    pub queued: usize,
    /// Writes dropped because the server had something newer or refused.
    pub dropped: usize,
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
            &integration.id,
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
        let manage_access_url = self
            .catalog
            .get(&integration.id)
            .ok()
            .and_then(|p| p.manage_access_url.clone());
        Ok(Resolved {
            api: provider.api.clone(),
            name: provider.name.clone(),
            manage_access_url,
            oauth,
            client,
            slot,
        })
    }

    fn slot_mutex(&self, slot: &SlotId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.slots.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(slot.clone()).or_default().clone()
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
    fn reconnect_reason(&self, slot: &SlotId) -> Option<String> {
        let bytes = fs::read(self.marker_path(slot)).ok()?;
        serde_json::from_slice::<ReconnectMarker>(&bytes)
            .ok()
            .map(|m| m.reason)
    }

    pub(crate) fn state_of(&self, slot: &SlotId) -> Result<ConnectionState, ConnectError> {
        if let Some(reason) = self.admin_disconnect_reason(slot) {
            return Ok(ConnectionState::DisconnectedByAdmin { reason });
        }
        if let Some(reason) = self.reconnect_reason(slot) {
            return Ok(ConnectionState::NeedsReconnect { reason });
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
            }),
            Err(e) => Err(e.into()),
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

    /// A valid access token, refreshed first if it expires within the skew
    /// (or the clock moved backwards). Concurrent callers share one refresh.
    pub async fn access_token(
        &self,
        integration: &Integration,
        options: &ConnectOptions,
    ) -> Result<SecretString, ConnectError> {
        let r = self.resolve(integration)?;
        let tokens = self.current(&r)?;
        if !tokens
            .1
            .needs_refresh(unix_now(), options.refresh_skew.as_secs())
        {
            return Ok(tokens.1.access_token.duplicate());
        }
        let (_, fresh) = self
            .refresh_slot(&r, Seen::Version(tokens.0), options)
            .await?;
        Ok(fresh.access_token.duplicate())
    }

    /// Refreshes after an API call answered 401 (providers without
    /// `expires_in`, such as Salesforce with `INVALID_SESSION_ID`).
    /// `seen_version` is the record version whose token was refused: if
    /// another caller already refreshed it, its newer token is returned.
    pub async fn refresh_after_unauthorized(
        &self,
        integration: &Integration,
        seen_version: u64,
        options: &ConnectOptions,
    ) -> Result<SecretString, ConnectError> {
        let r = self.resolve(integration)?;
        let (_, fresh) = self
            .refresh_slot(&r, Seen::Version(seen_version), options)
            .await?;
        Ok(fresh.access_token.duplicate())
    }

    /// The current record version and token set, or a typed reason why not.
    pub fn current_version(&self, integration: &Integration) -> Result<u64, ConnectError> {
        let r = self.resolve(integration)?;
        Ok(self.current(&r)?.0)
    }

    pub(crate) fn current(&self, r: &Resolved) -> Result<(u64, TokenSet), ConnectError> {
        if self.admin_disconnect_reason(&r.slot).is_some() {
            return Err(ConnectError::DisconnectedByAdmin {
                provider: r.name.clone(),
            });
        }
        if let Some(reason) = self.reconnect_reason(&r.slot) {
            return Err(ConnectError::NeedsReconnect {
                provider: r.name.clone(),
                reason,
            });
        }
        match self.vault.load_tokens(&r.slot) {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(ConnectError::NotConnected {
                provider: r.name.clone(),
            }),
            Err(e) if e.needs_reconnect() => Err(ConnectError::NeedsReconnect {
                provider: r.name.clone(),
                reason: e.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Refreshes `r`'s tokens once for everyone who saw the same state: callers
    /// queue on the slot's locks (in process, then across processes), and the
    /// ones behind the first take its result.
    pub(crate) async fn refresh_slot(
        &self,
        r: &Resolved,
        seen: Seen,
        options: &ConnectOptions,
    ) -> Result<(u64, TokenSet), ConnectError> {
        let _locks = self.lock_slot(&r.slot).await?;
        // Someone may have refreshed while we waited for the locks.
        let (version, tokens) = self.current(r)?;
        let refreshed_meanwhile = match &seen {
            Seen::Version(v) => {
                version > *v && !tokens.needs_refresh(unix_now(), options.refresh_skew.as_secs())
            }
            Seen::Token(refused) => tokens.access_token != *refused,
        };
        if refreshed_meanwhile {
            return Ok((version, tokens));
        }
        self.refresh_locked(r, version, &tokens).await
    }

    /// Takes the slot's in-process lock, then its cross-process file lock.
    pub(crate) async fn lock_slot(&self, slot: &SlotId) -> Result<SlotLocks, ConnectError> {
        let guard = self.slot_mutex(slot).lock_owned().await;
        let file = self.file_lock(slot).await?;
        Ok(SlotLocks {
            _file: file,
            _in_process: guard,
        })
    }

    /// The refresh itself, with the slot's locks held by the caller. Retries a
    /// network failure only when it cannot replay a rotating refresh token.
    async fn refresh_locked(
        &self,
        r: &Resolved,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<(u64, TokenSet), ConnectError> {
        let rotation_possible = r.oauth.refresh_rotation != RefreshRotation::None;
        let mut attempt = 0u32;
        let fresh = loop {
            match r.client.refresh(tokens).await {
                Ok(fresh) => break fresh,
                Err(ConnectError::Network {
                    provider,
                    reason,
                    maybe_sent,
                }) if attempt < 2 && !(maybe_sent && rotation_possible) => {
                    attempt += 1;
                    tracing::warn!(provider = %provider, attempt, "refresh failed ({reason}); retrying");
                    tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
                }
                Err(
                    e @ ConnectError::Network {
                        maybe_sent: true, ..
                    },
                ) if rotation_possible => {
                    // The provider may have rotated the refresh token before the answer was
                    // lost: sending the old one again could revoke the whole family. Take
                    // what another process stored, if it did; otherwise report and keep it.
                    if let Ok((stored_version, stored)) = self.current(r)
                        && stored.refresh_token != tokens.refresh_token
                    {
                        return Ok((stored_version, stored));
                    }
                    return Err(e);
                }
                Err(e @ ConnectError::NeedsReconnect { .. }) => {
                    self.mark_needs_reconnect(&r.slot, &e.to_string());
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        };
        let mut fresh = fresh;
        if let Some(identity) = tokens.extras.get(IDENTITY_KEY) {
            fresh
                .extras
                .insert(IDENTITY_KEY.to_owned(), identity.clone());
        }
        // The rotated set is sealed and stored before the old one is dropped.
        let outcome = match self.persist(&r.slot, version + 1, &fresh, false).await {
            Ok(outcome) => outcome,
            Err(e @ ConnectError::DisconnectedByAdmin { .. }) => {
                // The admin took this connection away while we refreshed: the new grant
                // is revoked at once, not handed out.
                let outcome = self.revoke_at_provider(r, &fresh).await;
                self.record_admin_wipe(
                    &r.slot,
                    "disconnect",
                    describe_outcome(r, outcome.as_ref().ok()),
                );
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        tracing::info!(integration = %r.slot.integration(), ?outcome, "tokens refreshed");
        let stored_version = match outcome {
            SyncOutcome::Synced { version } => version,
            _ => version + 1,
        };
        Ok((stored_version, fresh))
    }

    fn mark_needs_reconnect(&self, slot: &SlotId, reason: &str) {
        let marker = ReconnectMarker {
            reason: reason.to_owned(),
            at: unix_now(),
        };
        let path = self.marker_path(slot);
        if let Ok(bytes) = serde_json::to_vec(&marker) {
            let _ = latchkey_private_files::write(&path, &bytes);
        }
    }

    /// Revokes at the provider (refresh token first), then deletes the local
    /// copy. The local copy is wiped at once even when the provider is down;
    /// the provider step is then queued (sealed) and retried by
    /// [`Connector::retry_pending_revocations`].
    pub async fn revoke(&self, integration: &Integration) -> Result<RevokeReport, ConnectError> {
        let r = self.resolve(integration)?;
        let _locks = self.lock_slot(&r.slot).await?;
        let mut report = RevokeReport { steps: Vec::new() };
        let cached = self.vault.cache().get(&r.slot)?;
        let Some(record) = cached else {
            let _ = fs::remove_file(self.marker_path(&r.slot));
            return Err(ConnectError::NotConnected {
                provider: r.name.clone(),
            });
        };
        match self.vault.open_tokens(&r.slot, record.version, &record.envelope) {
            Ok(tokens) => match self.revoke_at_provider(&r, &tokens).await? {
                RevocationOutcome::Revoked => report.push("revoke at the provider", "done", format!("{} confirmed", r.name)),
                RevocationOutcome::Refused { reason } if r.oauth.revocation.is_none() => report.push(
                    "revoke at the provider",
                    "skipped",
                    match &r.manage_access_url {
                        Some(url) => format!("{reason}; remove Latchkey's access at {url}"),
                        None => format!("{reason}; remove Latchkey's access in your {} account settings", r.name),
                    },
                ),
                RevocationOutcome::Refused { reason } => report.push("revoke at the provider", "failed", reason),
                RevocationOutcome::RetryLater { retry_after, reason } => {
                    self.queue_revocation(&r.slot, record.version, &record.envelope, retry_after)?;
                    report.push(
                        "revoke at the provider",
                        "queued",
                        format!("{reason}; Latchkey will retry automatically"),
                    );
                }
            },
            Err(e) => report.push(
                "revoke at the provider",
                "skipped",
                format!("the saved tokens could not be opened ({}); remove access in your {} account settings", e.code(), r.name),
            ),
        }
        self.vault.cache().remove(&r.slot)?;
        let _ = fs::remove_file(self.marker_path(&r.slot));
        report.push(
            "delete from this device",
            "done",
            "the sealed tokens were deleted",
        );
        if self.remote.is_some() {
            self.sync.drop_slot(&r.slot);
            match self.remote_delete(&r.slot, record.version).await {
                SyncOutcome::Synced { .. } | SyncOutcome::LocalOnly => report.push(
                    "delete from the Latchkey server",
                    "done",
                    "the server copy was deleted",
                ),
                SyncOutcome::Queued => {
                    self.sync.enqueue(&OutboxEntry {
                        integration: r.slot.integration().to_owned(),
                        environment: r.slot.environment().to_owned(),
                        op: "delete".to_owned(),
                        version: record.version,
                        envelope_b64: None,
                    })?;
                    report.push(
                        "delete from the Latchkey server",
                        "queued",
                        "the server is unreachable; Latchkey will delete its copy when it is back",
                    );
                }
                SyncOutcome::Refused { reason } => {
                    report.push("delete from the Latchkey server", "failed", reason)
                }
            }
        }
        tracing::info!(integration = %integration.id, complete = report.complete(), "revoked");
        Ok(report)
    }

    pub(crate) async fn revoke_at_provider(
        &self,
        r: &Resolved,
        tokens: &TokenSet,
    ) -> Result<RevocationOutcome, ConnectError> {
        // Refresh token first: revoking it ends the whole grant (RFC 7009 §2.1).
        if let Some(refresh) = &tokens.refresh_token {
            return r.client.revoke(refresh, "refresh_token").await;
        }
        r.client.revoke(&tokens.access_token, "access_token").await
    }

    /// Seals and stores `tokens` as `version` locally, then pushes the
    /// envelope to the server. Only local failures are errors: a server that
    /// cannot be reached or refuses leaves the local copy standing.
    async fn persist(
        &self,
        slot: &SlotId,
        version: u64,
        tokens: &TokenSet,
        new_grant: bool,
    ) -> Result<SyncOutcome, ConnectError> {
        let envelope = self.vault.store_tokens(slot, version, tokens)?;
        self.sync.saw(slot, version)?;
        if self.remote.is_none() {
            return Ok(SyncOutcome::LocalOnly);
        }
        // A newer write supersedes anything still queued for this slot.
        self.sync.drop_slot(slot);
        let outcome = self
            .push(slot, version, envelope, tokens, new_grant)
            .await?;
        if outcome == SyncOutcome::Queued {
            let sealed = self.vault.cache().get(slot)?;
            if let Some(record) = sealed {
                self.sync.enqueue(&OutboxEntry {
                    integration: slot.integration().to_owned(),
                    environment: slot.environment().to_owned(),
                    op: "put".to_owned(),
                    version: record.version,
                    envelope_b64: Some(
                        base64::engine::general_purpose::STANDARD.encode(&record.envelope),
                    ),
                })?;
            }
        }
        Ok(outcome)
    }

    /// Sends one sealed version with compare-and-swap. If the server assigns
    /// another version (a delete elsewhere left a tombstone) or has a newer
    /// record, the local state follows the server: re-sealed for the next
    /// version, or the newer record adopted. Never a blind overwrite.
    async fn push(
        &self,
        slot: &SlotId,
        version: u64,
        envelope: Vec<u8>,
        tokens: &TokenSet,
        new_grant: bool,
    ) -> Result<SyncOutcome, ConnectError> {
        let Some(remote) = &self.remote else {
            return Ok(SyncOutcome::LocalOnly);
        };
        let key_id = self.vault.key_id().to_hex();
        let mut version = version;
        let mut envelope = envelope;
        let mut expected = (version > 1).then(|| version - 1);
        for _ in 0..4 {
            let written = if new_grant {
                remote
                    .put_new_grant(slot, &key_id, &envelope, expected)
                    .await
            } else {
                remote.put(slot, &key_id, &envelope, expected).await
            };
            match written {
                Ok(stored) if stored == version => {
                    self.sync.saw(slot, stored)?;
                    return Ok(SyncOutcome::Synced { version: stored });
                }
                Ok(stored) => {
                    // The server numbered it differently: re-seal for the next version.
                    self.sync.saw(slot, stored)?;
                    version = stored + 1;
                    envelope = self.vault.store_tokens(slot, version, tokens)?;
                    expected = Some(stored);
                }
                Err(ClientError::Conflict { current: None }) => expected = None,
                Err(ClientError::Conflict {
                    current: Some(current),
                }) if current >= version => {
                    // Another writer got there first (same or newer version): the
                    // server's copy wins, as compare-and-swap means; adopt it if it opens.
                    if let Ok(Some(newer)) = remote.get(slot, &key_id).await
                        && newer.version >= version
                        && self
                            .vault
                            .open_tokens(slot, newer.version, &newer.envelope)
                            .is_ok()
                    {
                        self.vault
                            .cache()
                            .put(slot, newer.version, &newer.envelope)?;
                        self.sync.saw(slot, newer.version)?;
                        return Ok(SyncOutcome::Synced {
                            version: newer.version,
                        });
                    }
                    version = current + 1;
                    envelope = self.vault.store_tokens(slot, version, tokens)?;
                    expected = Some(current);
                }
                Err(ClientError::Conflict {
                    current: Some(current),
                }) => {
                    self.sync.saw(slot, current)?;
                    version = current.max(version) + 1;
                    envelope = self.vault.store_tokens(slot, version, tokens)?;
                    expected = Some(current);
                }
                Err(e) if e.is_offline() => return Ok(SyncOutcome::Queued),
                Err(e) if e.is_revoked_by_admin() => {
                    // An admin emptied this slot: this copy must not bring it back, and
                    // must not stay here either.
                    tracing::warn!(integration = %slot.integration(), "the admin disconnected this connection; wiping the local copy");
                    self.vault.cache().remove(slot)?;
                    self.sync.drop_slot(slot);
                    return Err(ConnectError::DisconnectedByAdmin {
                        provider: slot.integration().to_owned(),
                    });
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), "the server refused a record");
                    return Ok(SyncOutcome::Refused {
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(SyncOutcome::Refused {
            reason: "the record kept changing on the server; it will sync on the next change"
                .to_owned(),
        })
    }

    async fn remote_delete(&self, slot: &SlotId, version: u64) -> SyncOutcome {
        let Some(remote) = &self.remote else {
            return SyncOutcome::LocalOnly;
        };
        let key_id = self.vault.key_id().to_hex();
        let mut version = version;
        for _ in 0..3 {
            match remote.delete(slot, &key_id, version).await {
                Ok(()) => return SyncOutcome::Synced { version },
                Err(ClientError::Conflict {
                    current: Some(current),
                }) => version = current,
                Err(ClientError::Conflict { current: None }) => {
                    return SyncOutcome::Synced { version };
                }
                Err(e) if e.is_offline() => return SyncOutcome::Queued,
                Err(e) => {
                    return SyncOutcome::Refused {
                        reason: e.to_string(),
                    };
                }
            }
        }
        SyncOutcome::Refused {
            reason: "the server copy kept changing".to_owned(),
        }
    }

    /// Replays queued writes in order. Call when the server is back (the
    /// desktop app does it on its change feed and on a timer; the CLI before
    /// each command).
    pub async fn sync_pending(&self) -> Result<SyncReport, ConnectError> {
        let mut report = SyncReport::default();
        for (_, path, entry) in self.sync.entries() {
            let slot = entry.slot()?;
            let outcome = match entry.op.as_str() {
                "delete" => self.remote_delete(&slot, entry.version).await,
                _ => {
                    let Some(envelope) = entry.envelope() else {
                        let _ = fs::remove_file(&path);
                        report.dropped += 1;
                        continue;
                    };
                    match self.vault.open_tokens(&slot, entry.version, &envelope) {
                        Ok(tokens) => match self
                            .push(&slot, entry.version, envelope, &tokens, false)
                            .await
                        {
                            Ok(outcome) => outcome,
                            Err(ConnectError::DisconnectedByAdmin { .. }) => {
                                self.record_admin_wipe(&slot, "disconnect", None);
                                SyncOutcome::Refused {
                                    reason: "your admin disconnected it".to_owned(),
                                }
                            }
                            Err(e) => return Err(e),
                        },
                        Err(e) => SyncOutcome::Refused {
                            reason: e.to_string(),
                        },
                    }
                }
            };
            match outcome {
                SyncOutcome::Queued => {
                    report.queued += 1;
                    // Keep order: stop at the first write the server cannot take yet.
                    report.queued += self
                        .sync
                        .entries()
                        .len()
                        .saturating_sub(report.queued + report.sent + report.dropped);
                    break;
                }
                SyncOutcome::Synced { .. } | SyncOutcome::LocalOnly => {
                    let _ = fs::remove_file(&path);
                    report.sent += 1;
                }
                SyncOutcome::Refused { .. } => {
                    let _ = fs::remove_file(&path);
                    report.dropped += 1;
                }
            }
        }
        Ok(report)
    }

    /// Number of writes waiting for the server.
    pub fn pending_writes(&self) -> usize {
        self.sync.entries().len()
    }

    /// Restores a slot from the server when this device has no local copy
    /// (a wiped cache). A version older than one this device has already
    /// seen is refused (rollback defence).
    pub async fn restore_from_server(
        &self,
        integration: &Integration,
    ) -> Result<ConnectionState, ConnectError> {
        let r = self.resolve(integration)?;
        let Some(remote) = &self.remote else {
            return self.state_of(&r.slot);
        };
        let key_id = self.vault.key_id().to_hex();
        let record = remote
            .get(&r.slot, &key_id)
            .await
            .map_err(|e| ConnectError::Network {
                provider: "the Latchkey server".to_owned(),
                reason: e.to_string(),
                maybe_sent: true,
            })?;
        let Some(record) = record else {
            return self.state_of(&r.slot);
        };
        let seen = self.sync.high_water(&r.slot);
        if record.version < seen {
            return Err(ConnectError::Rollback {
                provider: r.name.clone(),
                offered: record.version,
                seen,
            });
        }
        self.vault
            .open_tokens(&r.slot, record.version, &record.envelope)?;
        self.vault
            .cache()
            .put(&r.slot, record.version, &record.envelope)?;
        self.sync.saw(&r.slot, record.version)?;
        self.state_of(&r.slot)
    }

    fn queue_dir(&self) -> PathBuf {
        self.data_dir.join("queue").join("revocations")
    }

    pub(crate) fn queue_revocation(
        &self,
        slot: &SlotId,
        version: u64,
        envelope: &[u8],
        retry_after: Option<Duration>,
    ) -> Result<(), ConnectError> {
        use base64::Engine;
        let pending = PendingRevocation {
            integration: slot.integration().to_owned(),
            environment: slot.environment().to_owned(),
            version,
            envelope_b64: base64::engine::general_purpose::STANDARD.encode(envelope),
            attempts: 1,
            next_attempt_at: unix_now() + retry_after.map_or(5, |d| d.as_secs().max(1)),
        };
        let dir = self.queue_dir();
        let path = dir.join(format!(
            "{}@{}-v{version}.json",
            slot.integration(),
            slot.environment()
        ));
        let io = |e: std::io::Error| ConnectError::LocalIo {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| ConnectError::LocalIo {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        latchkey_private_files::write(&path, &bytes).map_err(io)
    }

    /// Retries queued provider revocations whose time has come, with
    /// exponential backoff (honouring `Retry-After`). Returns one report per
    /// attempted revocation; `integrations` supplies their configuration.
    pub async fn retry_pending_revocations(
        &self,
        integrations: &[Integration],
    ) -> Result<Vec<(String, RevokeReport)>, ConnectError> {
        use base64::Engine;
        let mut reports = Vec::new();
        let Ok(entries) = fs::read_dir(self.queue_dir()) else {
            return Ok(reports);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(mut pending) = serde_json::from_slice::<PendingRevocation>(&bytes) else {
                continue;
            };
            if pending.next_attempt_at > unix_now() {
                continue;
            }
            let Some(integration) = integrations.iter().find(|i| {
                i.id == pending.integration && i.environment.to_string() == pending.environment
            }) else {
                continue;
            };
            let r = self.resolve(integration)?;
            let mut report = RevokeReport { steps: Vec::new() };
            let envelope = base64::engine::general_purpose::STANDARD
                .decode(&pending.envelope_b64)
                .unwrap_or_default();
            let tokens = match self.vault.open_tokens(&r.slot, pending.version, &envelope) {
                Ok(tokens) => tokens,
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    report.push(
                        "revoke at the provider",
                        "failed",
                        format!("the queued tokens could not be opened ({})", e.code()),
                    );
                    reports.push((pending.integration.clone(), report));
                    continue;
                }
            };
            match self.revoke_at_provider(&r, &tokens).await? {
                RevocationOutcome::Revoked => {
                    let _ = fs::remove_file(&path);
                    report.push(
                        "revoke at the provider",
                        "done",
                        format!("{} confirmed", r.name),
                    );
                }
                RevocationOutcome::Refused { reason } => {
                    let _ = fs::remove_file(&path);
                    report.push("revoke at the provider", "failed", reason);
                }
                RevocationOutcome::RetryLater {
                    retry_after,
                    reason,
                } => {
                    pending.attempts += 1;
                    let backoff =
                        5u64.saturating_mul(2u64.saturating_pow(pending.attempts.min(10)));
                    let wait = retry_after.map_or(backoff, |d| d.as_secs().max(1));
                    pending.next_attempt_at = unix_now() + wait.min(6 * 3600);
                    if let Ok(bytes) = serde_json::to_vec(&pending) {
                        let _ = latchkey_private_files::write(&path, &bytes);
                    }
                    report.push(
                        "revoke at the provider",
                        "queued",
                        format!("{reason}; next try in {wait} s"),
                    );
                }
            }
            reports.push((pending.integration.clone(), report));
        }
        Ok(reports)
    }

    /// Number of revocations still waiting for a provider.
    pub fn pending_revocations(&self) -> usize {
        fs::read_dir(self.queue_dir()).map_or(0, |d| d.flatten().count())
    }

    async fn file_lock(&self, slot: &SlotId) -> Result<fs::File, ConnectError> {
        let dir = self.data_dir.join("locks");
        let path = dir.join(format!(
            "{}@{}.lock",
            slot.integration(),
            slot.environment()
        ));
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || {
            let file = latchkey_private_files::open_lock_file(&path)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|e| ConnectError::LocalIo {
            path: shown.clone(),
            reason: e.to_string(),
        })?
        .map_err(|e| ConnectError::LocalIo {
            path: shown,
            reason: e.to_string(),
        })
    }
}
