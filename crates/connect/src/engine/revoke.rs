//! Revoke: tokens revoked at the provider, the local copy wiped, and the
//! revocation queue for providers that could not be reached.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use latchkey_keychain::Keychain;
use latchkey_vault::{SlotId, TokenSet};
use serde::{Deserialize, Serialize};

use crate::ConnectError;
use crate::oauth::{RevocationOutcome, unix_now};
use crate::sync::{OutboxEntry, SyncOutcome};

use super::{Connector, Integration, Resolved, RevokeReport};

/// A revocation waiting for the provider to come back. The tokens stay
/// sealed in it; it is deleted once the provider confirms.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingRevocation {
    integration: String,
    environment: String,
    version: u64,
    envelope_b64: String,
    attempts: u32,
    next_attempt_at: u64,
}

impl<K: Keychain> Connector<K> {
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
                        op: crate::sync::OutboxOp::Delete,
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

    pub(crate) fn queue_dir(&self) -> PathBuf {
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
}
