//! The kill switch on this computer: when an admin takes a connection away
//! (disconnect, integration disabled or removed, user taken off the
//! allow-list), the server orders each of the user's devices to do what the
//! user's own Revoke does: revoke the grant at the provider (refresh token
//! first), wipe the sealed copy, its markers and queued writes, and answer
//! with a receipt. The card then says "Your admin disconnected …", not
//! "Connected", not an error.

use std::fs;
use std::path::PathBuf;

use latchkey_keychain::Keychain;
use latchkey_vault::SlotId;
use serde::{Deserialize, Serialize};

use crate::engine::Resolved;
use crate::oauth::{RevocationOutcome, unix_now};
use crate::{ConnectError, Connector, Integration};

/// What this device did with one order, for the server's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationReceipt {
    /// `revoked`, `not_supported`, `queued`, `failed` or `no_copy`.
    pub provider: String,
    /// Plain words: the provider's confirmation, where to remove access by
    /// hand, or why it failed. Never a secret.
    pub detail: String,
    /// Whether the sealed copy on this computer is gone.
    pub local_wiped: bool,
}

/// Kept beside the cache after an admin's revocation: why, and what the
/// provider said (so a later receipt can report it). Never a secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminMarker {
    reason: String,
    at: u64,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// The plain words for an order's reason.
fn reason_text(name: &str, reason: &str) -> String {
    match reason {
        "integration_disabled" => format!("Your admin turned off {name}"),
        "integration_removed" => format!("Your admin removed {name}"),
        "allow_list" => format!("Your admin no longer gives you {name}"),
        "user_removed" => format!("Your admin removed your account; {name} was disconnected"),
        _ => format!("Your admin disconnected {name}"),
    }
}

/// A provider outcome as a receipt's (outcome, detail).
pub(crate) fn describe_outcome(
    r: &Resolved,
    outcome: Option<&RevocationOutcome>,
) -> Option<(String, String)> {
    Some(match outcome? {
        RevocationOutcome::Revoked => ("revoked".to_owned(), format!("{} confirmed", r.name)),
        RevocationOutcome::Refused { reason } if r.oauth.revocation.is_none() => (
            "not_supported".to_owned(),
            match &r.manage_access_url {
                Some(url) => format!("{reason}; remove Latchkey's access at {url}"),
                None => format!(
                    "{reason}; remove Latchkey's access in the {} account settings",
                    r.name
                ),
            },
        ),
        RevocationOutcome::Refused { reason } => ("failed".to_owned(), reason.clone()),
        RevocationOutcome::RetryLater { reason, .. } => (
            "queued".to_owned(),
            format!("{reason}; Latchkey retries automatically"),
        ),
    })
}

impl<K: Keychain> Connector<K> {
    pub(crate) fn admin_marker_path(&self, slot: &SlotId) -> PathBuf {
        self.data_dir.join("state").join(format!(
            "{}@{}.admin.json",
            slot.integration(),
            slot.environment()
        ))
    }

    /// Why the admin took `slot` away, when it did and no new sign-in followed.
    pub(crate) fn admin_disconnect_reason(&self, slot: &SlotId) -> Option<String> {
        let bytes = fs::read(self.admin_marker_path(slot)).ok()?;
        let marker: AdminMarker = serde_json::from_slice(&bytes).ok()?;
        let name = self
            .resolve_name(slot.integration())
            .unwrap_or_else(|| slot.integration().to_owned());
        Some(reason_text(&name, &marker.reason))
    }

    fn resolve_name(&self, id: &str) -> Option<String> {
        latchkey_catalog::Catalog::builtin()
            .ok()?
            .get(id)
            .ok()
            .map(|p| p.name.clone())
    }

    /// Remembers that the admin took `slot` away (and what the provider said).
    pub(crate) fn record_admin_wipe(
        &self,
        slot: &SlotId,
        reason: &str,
        outcome: Option<(String, String)>,
    ) {
        let (provider, detail) = outcome.unzip();
        let marker = AdminMarker {
            reason: reason.to_owned(),
            at: unix_now(),
            provider,
            detail,
        };
        let path = self.admin_marker_path(slot);
        if let Ok(bytes) = serde_json::to_vec(&marker) {
            let _ = latchkey_private_files::write(&path, &bytes);
        }
        let _ = fs::remove_file(self.marker_path(slot));
    }

    /// Carries out one admin order for `integration`: revoke at the provider
    /// (refresh token first; queued when the provider is down), wipe the sealed
    /// copy, its reconnect marker and queued writes, remember why for the card,
    /// and say what happened for the receipt.
    pub async fn apply_revocation_order(
        &self,
        integration: &Integration,
        reason: &str,
    ) -> Result<RevocationReceipt, ConnectError> {
        let r = self.resolve(integration)?;
        let _locks = self.lock_slot(&r.slot).await?;
        let cached = self.vault.cache().get(&r.slot)?;
        if reason == "device_revoked" {
            // Only this computer lost its access: the user's grant stays for their
            // other devices, so it is not revoked at the provider.
            let had = self.wipe_local(&r.slot)?;
            return Ok(RevocationReceipt {
                provider: if had { "kept" } else { "no_copy" }.to_owned(),
                detail: "this computer's copy was wiped; the connection stays for the user's other devices".to_owned(),
                local_wiped: true,
            });
        }
        let outcome = match &cached {
            Some(record) => match self
                .vault
                .open_tokens(&r.slot, record.version, &record.envelope)
            {
                Ok(tokens) => {
                    let outcome = self.revoke_at_provider(&r, &tokens).await?;
                    if let RevocationOutcome::RetryLater { retry_after, .. } = &outcome {
                        self.queue_revocation(
                            &r.slot,
                            record.version,
                            &record.envelope,
                            *retry_after,
                        )?;
                    }
                    describe_outcome(&r, Some(&outcome))
                }
                Err(e) => Some((
                    "failed".to_owned(),
                    format!(
                        "the saved tokens could not be opened ({}); remove access in the {} account settings",
                        e.code(),
                        r.name
                    ),
                )),
            },
            None => None,
        };
        // Nothing here: a refresh that met the admin's 410 may have revoked already.
        let outcome = outcome.or_else(|| {
            let bytes = fs::read(self.admin_marker_path(&r.slot)).ok()?;
            let marker: AdminMarker = serde_json::from_slice(&bytes).ok()?;
            Some((marker.provider?, marker.detail.unwrap_or_default()))
        });
        self.wipe_local(&r.slot)?;
        let (provider, detail) = outcome.clone().unwrap_or_else(|| {
            (
                "no_copy".to_owned(),
                "this computer held no tokens for it".to_owned(),
            )
        });
        self.record_admin_wipe(&r.slot, reason, outcome);
        tracing::info!(integration = %integration.id, provider = %provider, "carried out the admin's revocation");
        Ok(RevocationReceipt {
            provider,
            detail,
            local_wiped: true,
        })
    }

    /// Wipes a slot whose integration this computer no longer knows the
    /// settings of (so the provider cannot be reached).
    pub fn wipe_slot(
        &self,
        integration_id: &str,
        environment: &str,
        reason: &str,
    ) -> Result<RevocationReceipt, ConnectError> {
        let slot = SlotId::new(integration_id, environment)?;
        let had = self.wipe_local(&slot)?;
        let detail = "this computer no longer has the integration's settings, so the provider was not asked; remove access in the provider's account settings".to_owned();
        self.record_admin_wipe(&slot, reason, Some(("failed".to_owned(), detail.clone())));
        Ok(RevocationReceipt {
            provider: if had { "failed" } else { "no_copy" }.to_owned(),
            detail,
            local_wiped: true,
        })
    }

    /// Wipes every sealed copy on this computer (a revoked or removed device), with
    /// its markers and queued writes. The vault key stays: it belongs to the user on
    /// this computer. Returns how many copies were wiped.
    pub fn wipe_all(&self) -> Result<usize, ConnectError> {
        let slots = self.vault.cache().list()?;
        for (slot, _) in &slots {
            self.wipe_local(slot)?;
        }
        Ok(slots.len())
    }

    /// Removes one slot's sealed copy, its queued writes and its reconnect marker;
    /// `true` when there was a copy.
    fn wipe_local(&self, slot: &SlotId) -> Result<bool, ConnectError> {
        let had = self.vault.cache().remove(slot)?;
        self.sync.drop_slot(slot);
        let _ = fs::remove_file(self.marker_path(slot));
        Ok(had)
    }
}
