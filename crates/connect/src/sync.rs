//! Syncing sealed records with the remote store.
//!
//! The server holds one slot per (user, vault key id, integration,
//! environment); this device is its only writer in practice (the salt, and so
//! the key id, is per machine), but the desktop app and the CLI may both
//! write, so every write is compare-and-swap on the version.
//!
//! - The local cache is written first, so everything works offline.
//! - Writes that cannot reach the server go to an ordered outbox (sealed
//!   envelopes only) and are replayed when it is back. A 412 on replay is
//!   resolved by re-reading the server, never by overwriting blindly.
//! - Rollback defence: the highest version seen per slot is remembered; an
//!   older record from the server is refused.
//! - The record version is bound into each envelope, so the device seals at
//!   the version the server will assign (the last one it saw plus one). If
//!   another process deleted the record meanwhile, the server's answer tells
//!   the real version and the record is re-sealed for the next one.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_client::protocol::device::GrantList;
use latchkey_client::{ClientError, RecordSlot, RemoteRecord, ServerClient};
use latchkey_keychain::Keychain;
use latchkey_vault::{SlotId, TokenSet};
use serde::{Deserialize, Serialize};

use crate::ConnectError;
use crate::engine::{ConnectionState, Connector, Integration};

/// A boxed future, so the store can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where sealed records are synced to. The HTTP implementation is
/// [`ServerClient`]; the trait exists so the engine does not depend on how.
pub trait RemoteStore: Send + Sync {
    /// The record in a slot.
    fn get<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<RemoteRecord>, ClientError>>;
    /// Compare-and-swap write; returns the new version.
    fn put<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        envelope: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>>;
    /// Compare-and-swap delete.
    fn delete<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<(), ClientError>>;
    /// The user's grants of one connection on all their devices, with the provider's
    /// approval limit (`GET /v1/integrations/{id}/grants`). Stores that cannot tell
    /// answer `None`, and no connect is held back.
    fn grants<'a>(
        &'a self,
        _integration: &'a str,
    ) -> BoxFuture<'a, Result<Option<GrantList>, ClientError>> {
        Box::pin(async { Ok(None) })
    }
    /// A write right after the user signed in again: the only kind that may fill a
    /// slot an admin emptied. Stores that know no admin just [`RemoteStore::put`].
    fn put_new_grant<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        envelope: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        self.put(slot, key_id, envelope, expected)
    }
}

fn record_slot<'a>(slot: &'a SlotId, key_id: &'a str) -> RecordSlot<'a> {
    RecordSlot {
        integration: slot.integration(),
        environment: slot.environment(),
        vault_key_id: key_id,
    }
}

impl RemoteStore for ServerClient {
    fn get<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<RemoteRecord>, ClientError>> {
        Box::pin(self.get_record(record_slot(slot, key_id)))
    }
    fn put<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        envelope: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(self.put_record(record_slot(slot, key_id), envelope, expected, false))
    }
    fn put_new_grant<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        envelope: &'a [u8],
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(self.put_record(record_slot(slot, key_id), envelope, expected, true))
    }
    fn grants<'a>(
        &'a self,
        integration: &'a str,
    ) -> BoxFuture<'a, Result<Option<GrantList>, ClientError>> {
        Box::pin(async move { self.list_grants(integration).await.map(Some) })
    }
    fn delete<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        Box::pin(self.delete_record(record_slot(slot, key_id), version))
    }
}

/// What a queued write does at the server. Stored as `"put"` / `"delete"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutboxOp {
    /// Store the sealed envelope (the entry carries it).
    Put,
    /// Delete the server's copy (a revoke made while the server was away).
    Delete,
}

/// A write waiting for the server. Holds only a sealed envelope.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxEntry {
    pub integration: String,
    pub environment: String,
    pub op: OutboxOp,
    pub version: u64,
    #[serde(default)]
    pub envelope_b64: Option<String>,
}

impl OutboxEntry {
    pub(crate) fn slot(&self) -> Result<SlotId, ConnectError> {
        Ok(SlotId::new(&self.integration, &self.environment)?)
    }

    pub(crate) fn envelope(&self) -> Option<Vec<u8>> {
        self.envelope_b64
            .as_ref()
            .and_then(|b| STANDARD.decode(b).ok())
    }
}

/// The device-local sync state: the outbox and the high-water marks.
#[derive(Debug, Clone)]
pub(crate) struct SyncState {
    dir: PathBuf,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::LocalIo {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl SyncState {
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("sync"),
        }
    }

    fn outbox_dir(&self) -> PathBuf {
        self.dir.join("outbox")
    }

    fn high_water_path(&self, slot: &SlotId) -> PathBuf {
        self.dir
            .join("seen")
            .join(format!("{}@{}", slot.integration(), slot.environment()))
    }

    /// The highest version this device has seen for `slot`.
    pub(crate) fn high_water(&self, slot: &SlotId) -> u64 {
        fs::read_to_string(self.high_water_path(slot))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Raises the high-water mark (never lowers it).
    pub(crate) fn saw(&self, slot: &SlotId, version: u64) -> Result<(), ConnectError> {
        if version <= self.high_water(slot) {
            return Ok(());
        }
        let path = self.high_water_path(slot);
        latchkey_private_files::write(&path, version.to_string().as_bytes())
            .map_err(|e| io_err(&path, e))
    }

    /// Appends an entry; entries replay in the order they were queued.
    pub(crate) fn enqueue(&self, entry: &OutboxEntry) -> Result<(), ConnectError> {
        let dir = self.outbox_dir();
        let seq = self.entries().last().map_or(1, |(seq, _, _)| seq + 1);
        let path = dir.join(format!("{seq:012}.json"));
        let bytes = serde_json::to_vec(entry).map_err(|e| io_err(&path, e))?;
        latchkey_private_files::write(&path, &bytes).map_err(|e| io_err(&path, e))
    }

    /// Queued entries in order: (sequence, path, entry).
    pub(crate) fn entries(&self) -> Vec<(u64, PathBuf, OutboxEntry)> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.outbox_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let Some(seq) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if path.extension().is_some_and(|e| e != "json") {
                continue;
            }
            if let Some(parsed) = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                out.push((seq, path, parsed));
            }
        }
        out.sort_by_key(|(seq, _, _)| *seq);
        out
    }

    /// Drops queued entries for a slot (superseded by a newer write).
    pub(crate) fn drop_slot(&self, slot: &SlotId) {
        for (_, path, entry) in self.entries() {
            if entry.integration == slot.integration() && entry.environment == slot.environment() {
                let _ = fs::remove_file(path);
            }
        }
    }
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

impl<K: Keychain> Connector<K> {
    /// Seals and stores `tokens` as `version` locally, then pushes the
    /// envelope to the server. Only local failures are errors: a server that
    /// cannot be reached or refuses leaves the local copy standing.
    pub(crate) async fn persist(
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
                    op: OutboxOp::Put,
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
    pub(crate) async fn push(
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

    pub(crate) async fn remote_delete(&self, slot: &SlotId, version: u64) -> SyncOutcome {
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
            let outcome = match entry.op {
                OutboxOp::Delete => self.remote_delete(&slot, entry.version).await,
                OutboxOp::Put => {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_written_by_an_earlier_release_still_reads() {
        // Queued writes survive upgrades: the file format is the wire format of OutboxOp.
        let put: OutboxEntry = serde_json::from_str(
            r#"{"integration":"salesforce","environment":"production","op":"put","version":3,"envelope_b64":"AAEC"}"#,
        )
        .unwrap();
        assert_eq!(put.op, OutboxOp::Put);
        assert_eq!(put.envelope(), Some(vec![0, 1, 2]));
        let delete: OutboxEntry = serde_json::from_str(
            r#"{"integration":"salesforce","environment":"production","op":"delete","version":4}"#,
        )
        .unwrap();
        assert_eq!(delete.op, OutboxOp::Delete);
        assert_eq!(
            serde_json::to_value(&delete).unwrap()["op"],
            serde_json::json!("delete")
        );
        // An operation this release does not know is not replayed as a write.
        assert!(
            serde_json::from_str::<OutboxEntry>(
                r#"{"integration":"s","environment":"production","op":"merge","version":1}"#
            )
            .is_err()
        );
    }
}
