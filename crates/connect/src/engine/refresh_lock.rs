//! The refresh lock: two locks that serialise work on one slot, so that one
//! refresh runs at a time for a slot, within this process (a Tokio mutex) and
//! across processes (a file lock under `<data dir>/locks`), and a rotating
//! refresh token is never spent twice.

use std::fs;
use std::sync::Arc;

use latchkey_keychain::Keychain;
use latchkey_vault::SlotId;

use crate::ConnectError;

use super::Connector;

/// The two locks that serialise work on one slot, released on drop.
pub(crate) struct SlotLocks {
    _file: fs::File,
    _in_process: tokio::sync::OwnedMutexGuard<()>,
}

impl<K: Keychain> Connector<K> {
    pub(crate) fn slot_mutex(&self, slot: &SlotId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.slots.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(slot.clone()).or_default().clone()
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

    pub(crate) async fn file_lock(&self, slot: &SlotId) -> Result<fs::File, ConnectError> {
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
