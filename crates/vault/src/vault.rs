//! The vault of one user on one machine: keychain salt → key → envelopes → cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_keychain::{Keychain, KeychainError};
use latchkey_secret::SecretBytes;
use serde::{Deserialize, Serialize};

use crate::cache::{create_private_dir, read_if_exists, remove_if_exists, write_atomically};
use crate::kdf::KEY_LEN;

// The salt must fit the smallest OS keychain (Windows Credential Manager).
const _: () = assert!(KEY_LEN <= latchkey_keychain::MAX_SECRET_LEN);
use crate::{
    EnvelopeCache, KdfParams, KeyId, RecordContext, RecordKind, SlotId, TokenSet, UserIdentity,
    VaultError, VaultKey, envelope,
};

/// The keychain service name Latchkey's salts live under.
pub const DEFAULT_KEYCHAIN_SERVICE: &str = "app.latchkey.vault";

const MANIFEST: &str = "vault.json";
const LOCK_FILE: &str = ".vault.lock";
const RECORDS_DIR: &str = "records";

/// How [`Vault::open`] found the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultOpening {
    /// First setup of this user on this machine: a new salt was made.
    Created,
    /// An existing salt was found and unlocked.
    Existing,
}

/// What this machine remembers about a vault, next to its cache. It holds no
/// secret: it exists so a missing salt can be told apart from a first launch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    server_origin: String,
    user_id: String,
    key_id: String,
    kdf_params_id: u8,
    created_at: u64,
}

/// One user's vault. Seals and opens token sets while unlocked; the key is
/// wiped by [`Vault::lock`] and on drop.
pub struct Vault<K: Keychain> {
    keychain: K,
    identity: UserIdentity,
    user_dir: PathBuf,
    key: Option<VaultKey>,
    key_id: KeyId,
    params: KdfParams,
    opening: VaultOpening,
}

impl<K: Keychain> std::fmt::Debug for Vault<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("identity", &self.identity)
            .field("key_id", &self.key_id)
            .field("locked", &self.key.is_none())
            .finish()
    }
}

impl<K: Keychain> Vault<K> {
    /// Opens (and unlocks) the vault of `identity` under `data_dir`.
    ///
    /// On the first setup of this user on this machine a new salt is made and
    /// stored in the keychain. If this machine was set up before and the salt
    /// is gone, this fails with [`VaultError::SaltMissing`]; it never makes a
    /// new salt silently. Use [`Vault::reset`] once the user chose to reconnect.
    pub fn open(keychain: K, identity: UserIdentity, data_dir: &Path) -> Result<Self, VaultError> {
        let user_dir = user_dir(data_dir, &identity);
        let _guard = lock_user_dir(&user_dir)?;
        let manifest = read_manifest(&user_dir)?;
        let account = identity.keychain_account();
        match (read_salt(&keychain, &identity)?, manifest) {
            (Some(salt), manifest) => {
                let params = manifest
                    .as_ref()
                    .and_then(|m| KdfParams::by_id(m.kdf_params_id))
                    .unwrap_or(KdfParams::CURRENT);
                let key = VaultKey::derive(&salt, &identity, params)?;
                match manifest {
                    Some(m) if m.key_id != key.id().to_hex() => {
                        return Err(VaultError::KeyChanged {
                            user: identity.label(),
                        });
                    }
                    Some(_) => {}
                    None => write_manifest(&user_dir, &identity, &key)?,
                }
                tracing::info!(user = %identity.label(), key_id = %key.id(), "vault unlocked");
                Ok(Self::assemble(
                    keychain,
                    identity,
                    user_dir,
                    key,
                    VaultOpening::Existing,
                ))
            }
            (None, Some(_)) => {
                tracing::warn!(user = %identity.label(), account = %account, "vault salt missing from keychain");
                Err(VaultError::SaltMissing {
                    user: identity.label(),
                    keychain: keychain.describe().to_owned(),
                })
            }
            (None, None) => Self::create(keychain, identity, user_dir),
        }
    }

    /// Replaces the vault after the user chose to reconnect: deletes the old
    /// salt and every record sealed under it on this machine, then makes a
    /// new salt. This is the only path that makes a salt for a known user.
    pub fn reset(keychain: K, identity: UserIdentity, data_dir: &Path) -> Result<Self, VaultError> {
        let user_dir = user_dir(data_dir, &identity);
        let _guard = lock_user_dir(&user_dir)?;
        keychain.delete(&identity.keychain_account())?;
        let voided = EnvelopeCache::new(user_dir.join(RECORDS_DIR)).clear()?;
        remove_if_exists(&user_dir.join(MANIFEST))?;
        tracing::info!(user = %identity.label(), voided, "vault reset: old records voided");
        Self::create(keychain, identity, user_dir)
    }

    /// Makes a new salt, stores it in the keychain and records the new key id.
    /// Callers hold the user-dir lock.
    fn create(keychain: K, identity: UserIdentity, user_dir: PathBuf) -> Result<Self, VaultError> {
        let key = create_salt(&keychain, &identity)?;
        write_manifest(&user_dir, &identity, &key)?;
        tracing::info!(user = %identity.label(), key_id = %key.id(), "vault created");
        Ok(Self::assemble(
            keychain,
            identity,
            user_dir,
            key,
            VaultOpening::Created,
        ))
    }

    fn assemble(
        keychain: K,
        identity: UserIdentity,
        user_dir: PathBuf,
        key: VaultKey,
        opening: VaultOpening,
    ) -> Self {
        Self {
            keychain,
            identity,
            user_dir,
            key_id: key.id(),
            params: key.params(),
            key: Some(key),
            opening,
        }
    }

    /// Whether this open created the vault.
    pub fn opening(&self) -> VaultOpening {
        self.opening
    }

    /// The owner.
    pub fn identity(&self) -> &UserIdentity {
        &self.identity
    }

    /// The public id of the vault key (part of the remote store's slot).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// True after [`Vault::lock`].
    pub fn is_locked(&self) -> bool {
        self.key.is_none()
    }

    /// Wipes the key from memory. Sealing and opening fail until [`Vault::unlock`].
    pub fn lock(&mut self) {
        self.key = None;
    }

    /// Derives the key again from the keychain salt.
    pub fn unlock(&mut self) -> Result<(), VaultError> {
        if self.key.is_some() {
            return Ok(());
        }
        let salt =
            read_salt(&self.keychain, &self.identity)?.ok_or_else(|| VaultError::SaltMissing {
                user: self.identity.label(),
                keychain: self.keychain.describe().to_owned(),
            })?;
        let key = VaultKey::derive(&salt, &self.identity, self.params)?;
        if key.id() != self.key_id {
            return Err(VaultError::KeyChanged {
                user: self.identity.label(),
            });
        }
        self.key = Some(key);
        Ok(())
    }

    /// This user's encrypted cache.
    pub fn cache(&self) -> EnvelopeCache {
        EnvelopeCache::new(self.user_dir.join(RECORDS_DIR))
    }

    fn key(&self) -> Result<&VaultKey, VaultError> {
        self.key.as_ref().ok_or(VaultError::Locked)
    }

    fn context(&self, slot: &SlotId, version: u64) -> RecordContext {
        RecordContext::token_set(self.identity.clone(), slot.clone(), version)
    }

    /// Seals `tokens` as `version` of `slot`.
    pub fn seal_tokens(
        &self,
        slot: &SlotId,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<Vec<u8>, VaultError> {
        let plaintext = tokens.to_plaintext()?;
        envelope::seal(self.key()?, &self.context(slot, version), &plaintext)
    }

    /// Opens an envelope that claims to be `version` of `slot`.
    pub fn open_tokens(
        &self,
        slot: &SlotId,
        version: u64,
        sealed: &[u8],
    ) -> Result<TokenSet, VaultError> {
        let plaintext = envelope::open(self.key()?, &self.context(slot, version), sealed)?;
        TokenSet::from_plaintext(&plaintext)
    }

    /// Seals a widget's snapshot (widget number `widget`) for `slot`, so it can rest on
    /// disk and open instantly and offline.
    pub fn seal_snapshot(
        &self,
        slot: &SlotId,
        widget: u64,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        envelope::seal(self.key()?, &self.snapshot_context(slot, widget), plaintext)
    }

    /// Opens a snapshot sealed by [`Vault::seal_snapshot`] for the same slot and widget.
    pub fn open_snapshot(
        &self,
        slot: &SlotId,
        widget: u64,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
        envelope::open(self.key()?, &self.snapshot_context(slot, widget), sealed)
    }

    fn snapshot_context(&self, slot: &SlotId, widget: u64) -> RecordContext {
        RecordContext {
            identity: self.identity.clone(),
            slot: slot.clone(),
            kind: RecordKind::WidgetSnapshot,
            version: widget,
        }
    }

    /// Seals `tokens`, writes them to the local cache, and returns the
    /// envelope for the remote store.
    pub fn store_tokens(
        &self,
        slot: &SlotId,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<Vec<u8>, VaultError> {
        let sealed = self.seal_tokens(slot, version, tokens)?;
        self.cache().put(slot, version, &sealed)?;
        Ok(sealed)
    }

    /// Reads and opens `slot` from the local cache.
    pub fn load_tokens(&self, slot: &SlotId) -> Result<Option<(u64, TokenSet)>, VaultError> {
        match self.cache().get(slot)? {
            None => Ok(None),
            Some(record) => {
                let tokens = self.open_tokens(slot, record.version, &record.envelope)?;
                Ok(Some((record.version, tokens)))
            }
        }
    }

    /// Removes this user's vault from this machine: the keychain salt, the
    /// cache and the manifest (sign-out).
    pub fn forget(mut self) -> Result<(), VaultError> {
        self.lock();
        self.keychain.delete(&self.identity.keychain_account())?;
        self.cache().clear()?;
        remove_if_exists(&self.user_dir.join(MANIFEST))?;
        Ok(())
    }
}

fn user_dir(data_dir: &Path, identity: &UserIdentity) -> PathBuf {
    data_dir.join("vault").join(identity.dir_name())
}

/// Serialises vault setup between processes on this machine (the desktop app
/// and the CLI), so two first launches cannot make two salts.
fn lock_user_dir(user_dir: &Path) -> Result<fs::File, VaultError> {
    create_private_dir(user_dir)?;
    let path = user_dir.join(LOCK_FILE);
    let io = |action| {
        let path = path.clone();
        move |source| VaultError::CacheIo {
            action,
            path,
            source,
        }
    };
    let file = latchkey_private_files::open_lock_file(&path).map_err(io("open the lock file"))?;
    file.lock().map_err(io("lock"))?;
    Ok(file)
}

fn read_salt<K: Keychain>(
    keychain: &K,
    identity: &UserIdentity,
) -> Result<Option<SecretBytes<KEY_LEN>>, VaultError> {
    match keychain.get(&identity.keychain_account())? {
        None => Ok(None),
        Some(bytes) => SecretBytes::from_slice(bytes.expose())
            .map(Some)
            .ok_or_else(|| VaultError::SaltInvalid {
                user: identity.label(),
                keychain: keychain.describe().to_owned(),
                len: bytes.len(),
            }),
    }
}

fn create_salt<K: Keychain>(keychain: &K, identity: &UserIdentity) -> Result<VaultKey, VaultError> {
    let salt = SecretBytes::<KEY_LEN>::try_new_with(|buf| crate::random::fill(buf))?;
    keychain.set(&identity.keychain_account(), salt.expose())?;
    // Read it back: a keychain that accepts a write but does not keep it would
    // otherwise void every token at the next launch.
    let kept = read_salt(keychain, identity)?;
    if kept.as_ref().map(|k| k.expose()) != Some(salt.expose()) {
        return Err(VaultError::Keychain(KeychainError::Unavailable {
            keychain: keychain.describe().to_owned(),
            reason: "it accepted the vault key but did not keep it".to_owned(),
        }));
    }
    VaultKey::derive(&salt, identity, KdfParams::CURRENT)
}

fn read_manifest(user_dir: &Path) -> Result<Option<Manifest>, VaultError> {
    let path = user_dir.join(MANIFEST);
    let Some(bytes) = read_if_exists(&path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| VaultError::CacheCorrupt {
            path,
            reason: "the vault manifest is not valid",
        })
}

fn write_manifest(
    user_dir: &Path,
    identity: &UserIdentity,
    key: &VaultKey,
) -> Result<(), VaultError> {
    let manifest = Manifest {
        format: 1,
        server_origin: identity.server_origin().to_owned(),
        user_id: identity.user_id().to_owned(),
        key_id: key.id().to_hex(),
        kdf_params_id: key.params().id,
        created_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| VaultError::PlaintextInvalid {
        reason: e.to_string(),
    })?;
    write_atomically(&user_dir.join(MANIFEST), &bytes)
}
