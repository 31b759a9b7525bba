//! Refresh: the access token a caller asks for, refreshed once for everyone who
//! saw the same state, under the slot's [refresh lock](super::refresh_lock).

use std::time::Duration;

use latchkey_catalog::RefreshRotation;
use latchkey_keychain::Keychain;
use latchkey_secret::SecretString;
use latchkey_vault::{SlotId, TokenSet};

use crate::ConnectError;
use crate::admin_revocation::describe_outcome;
use crate::oauth::unix_now;
use crate::sync::SyncOutcome;

use super::{
    ConnectOptions, Connector, IDENTITY_KEY, Integration, ReconnectMarker, Resolved, Seen,
};

impl<K: Keychain> Connector<K> {
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
        if let Some(marker) = self.reconnect_marker(&r.slot) {
            return Err(match marker.approval_limit {
                Some(limit) => ConnectError::SignedOutByApprovalLimit {
                    provider: r.name.clone(),
                    limit,
                },
                None => ConnectError::NeedsReconnect {
                    provider: r.name.clone(),
                    reason: marker.reason,
                },
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

    /// The refresh itself, with the slot's locks held by the caller. Retries a
    /// network failure only when it cannot replay a rotating refresh token.
    pub(crate) async fn refresh_locked(
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
                    let e = self.name_eviction(r, e).await;
                    let limit = match &e {
                        ConnectError::SignedOutByApprovalLimit { limit, .. } => Some(*limit),
                        _ => None,
                    };
                    self.mark_dead(&r.slot, &e.to_string(), limit);
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

    /// A refused refresh, named for what it was when the provider's approval limit
    /// explains it: the server shows at least `limit` of the user's other devices
    /// connected after this one. Otherwise (or when the server cannot tell) `refused`
    /// stands.
    async fn name_eviction(&self, r: &Resolved, refused: ConnectError) -> ConnectError {
        let (Some(limit), Some(remote)) = (r.approval_limit, &self.remote) else {
            return refused;
        };
        match remote.grants(r.slot.integration()).await {
            Ok(Some(list)) if crate::approval_limit::was_evicted(&list, limit) => {
                tracing::info!(integration = %r.slot.integration(), limit, "the grant was signed out by the provider's approval limit");
                ConnectError::SignedOutByApprovalLimit {
                    provider: r.name.clone(),
                    limit,
                }
            }
            Ok(_) => refused,
            Err(e) => {
                tracing::warn!(integration = %r.slot.integration(), code = e.code(), "could not ask the server whether other devices signed this one out");
                refused
            }
        }
    }

    fn mark_dead(&self, slot: &SlotId, reason: &str, approval_limit: Option<u32>) {
        let marker = ReconnectMarker {
            reason: reason.to_owned(),
            at: unix_now(),
            approval_limit,
        };
        let path = self.marker_path(slot);
        if let Ok(bytes) = serde_json::to_vec(&marker) {
            let _ = latchkey_private_files::write(&path, &bytes);
        }
    }
}
