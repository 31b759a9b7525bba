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
use latchkey_client::{ClientError, RecordSlot, RemoteRecord, ServerClient};
use latchkey_vault::SlotId;
use serde::{Deserialize, Serialize};

use crate::ConnectError;

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
    fn delete<'a>(
        &'a self,
        slot: &'a SlotId,
        key_id: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        Box::pin(self.delete_record(record_slot(slot, key_id), version))
    }
}

/// A write waiting for the server. Holds only a sealed envelope.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxEntry {
    pub integration: String,
    pub environment: String,
    /// `put` or `delete`.
    pub op: String,
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
