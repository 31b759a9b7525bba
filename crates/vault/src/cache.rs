//! The local encrypted cache: sealed envelopes on disk so the menu works
//! offline. It only ever holds envelopes; it never sees a key or a token.
//!
//! Writes are atomic: a new version goes to a temporary file in the same
//! directory, is flushed to disk (fsync), renamed over the old file, and the
//! directory is flushed. A crash at any point leaves either the old file or
//! the new one, never a mix; stray temporary files are ignored and cleaned.
//!
//! File format (`<integration>@<environment>.lkc`): `LKC1` | record version
//! (u64 big-endian) | envelope length (u32 big-endian) | envelope.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::envelope::MAX_LEN;
use crate::{SlotId, VaultError};

const MAGIC: &[u8; 4] = b"LKC1";
const PREFIX_LEN: usize = 4 + 8 + 4;
const SUFFIX: &str = ".lkc";
const TMP_MARK: &str = ".tmp-";

/// A cached record: the sealed envelope and the record version it was sealed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRecord {
    /// The record version (bound into the envelope's associated data).
    pub version: u64,
    /// The sealed bytes.
    pub envelope: Vec<u8>,
}

/// One user's cache directory.
#[derive(Debug, Clone)]
pub struct EnvelopeCache {
    dir: PathBuf,
}

impl EnvelopeCache {
    /// A cache rooted at `dir` (created on first write, mode 0700 on Unix).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory holding the cache files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, slot: &SlotId) -> PathBuf {
        self.dir.join(format!(
            "{}@{}{SUFFIX}",
            slot.integration(),
            slot.environment()
        ))
    }

    /// Stores `envelope` as `version` of `slot`, atomically.
    pub fn put(&self, slot: &SlotId, version: u64, envelope: &[u8]) -> Result<(), VaultError> {
        if envelope.len() > MAX_LEN {
            return Err(VaultError::TooLarge {
                len: envelope.len(),
                max: MAX_LEN,
            });
        }
        let mut bytes = Vec::with_capacity(PREFIX_LEN + envelope.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
        bytes.extend_from_slice(envelope);
        write_atomically(&self.path_for(slot), &bytes)
    }

    /// Reads `slot`, or `None` if nothing is cached for it.
    pub fn get(&self, slot: &SlotId) -> Result<Option<CachedRecord>, VaultError> {
        let path = self.path_for(slot);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        parse_record(&bytes)
            .map(Some)
            .map_err(|reason| VaultError::CacheCorrupt { path, reason })
    }

    /// Deletes `slot`'s file. `Ok(false)` if there was none.
    pub fn remove(&self, slot: &SlotId) -> Result<bool, VaultError> {
        let removed = remove_if_exists(&self.path_for(slot))?;
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Every cached slot with its version, sorted. Temporary files left by a
    /// crash are removed on the way.
    pub fn list(&self) -> Result<Vec<(SlotId, u64)>, VaultError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(VaultError::CacheIo {
                    action: "list",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut slots = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(TMP_MARK) {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(stem) = name.strip_suffix(SUFFIX) else {
                continue;
            };
            let Some((integration, environment)) = stem.split_once('@') else {
                continue;
            };
            let Ok(slot) = SlotId::new(integration, environment) else {
                continue;
            };
            if let Some(record) = self.get(&slot)? {
                slots.push((slot, record.version));
            }
        }
        slots.sort();
        Ok(slots)
    }

    /// Deletes every cached record (used when the vault key is replaced and
    /// the old envelopes are void).
    pub fn clear(&self) -> Result<usize, VaultError> {
        let slots = self.list()?;
        for (slot, _) in &slots {
            self.remove(slot)?;
        }
        Ok(slots.len())
    }
}

fn parse_record(bytes: &[u8]) -> Result<CachedRecord, &'static str> {
    if bytes.len() < PREFIX_LEN || &bytes[..4] != MAGIC {
        return Err("it is not a Latchkey cache file");
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&bytes[4..12]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[12..16]);
    let len = u32::from_be_bytes(len) as usize;
    if bytes.len() - PREFIX_LEN != len {
        return Err("its length does not match its header (it may be truncated)");
    }
    Ok(CachedRecord {
        version: u64::from_be_bytes(version),
        envelope: bytes[PREFIX_LEN..].to_vec(),
    })
}

/// Reads a whole file; `None` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, VaultError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(VaultError::CacheIo {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Deletes a file; `Ok(false)` if it did not exist.
pub(crate) fn remove_if_exists(path: &Path) -> Result<bool, VaultError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(VaultError::CacheIo {
            action: "delete",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new
/// content, even across a crash or power loss.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut suffix = [0u8; 8];
    crate::random::fill(&mut suffix)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}{TMP_MARK}{}", hex::encode(suffix)));
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| VaultError::CacheIo {
            action,
            path,
            source,
        }
    };
    let result = (|| {
        let mut file = open_private(&tmp).map_err(io("create", &tmp))?;
        file.write_all(bytes).map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("flush", &tmp))?;
        drop(file);
        // Retries a moment on Windows while another process holds the file.
        latchkey_private_files::replace(&tmp, path).map_err(io("replace", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    latchkey_private_files::create_dir(dir).map_err(|source| VaultError::CacheIo {
        action: "create the directory",
        path: dir.to_path_buf(),
        source,
    })
}

fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    // Flushing the directory makes the rename itself durable. Windows has no
    // directory handles to flush; its rename is already durable (MoveFileEx).
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| VaultError::CacheIo {
                action: "flush the directory",
                path: dir.to_path_buf(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotId {
        SlotId::new("salesforce", "sandbox").unwrap()
    }

    #[test]
    fn put_get_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = EnvelopeCache::new(tmp.path().join("records"));
        assert_eq!(cache.get(&slot()).unwrap(), None);
        assert!(cache.list().unwrap().is_empty());
        cache.put(&slot(), 3, b"sealed-bytes").unwrap();
        cache.put(&slot(), 4, b"newer-sealed").unwrap();
        let got = cache.get(&slot()).unwrap().unwrap();
        assert_eq!(got.version, 4);
        assert_eq!(got.envelope, b"newer-sealed");
        assert_eq!(cache.list().unwrap(), vec![(slot(), 4)]);
        assert!(cache.remove(&slot()).unwrap());
        assert!(!cache.remove(&slot()).unwrap());
        assert_eq!(cache.get(&slot()).unwrap(), None);
    }

    #[test]
    fn truncated_file_is_reported_as_corrupt_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = EnvelopeCache::new(tmp.path());
        cache.put(&slot(), 1, b"0123456789").unwrap();
        let path = cache.path_for(&slot());
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = cache.get(&slot()).unwrap_err();
        assert_eq!(err.code(), "vault.cache_corrupt");
        assert!(err.needs_reconnect());
    }

    #[test]
    fn leftover_temp_files_are_ignored_and_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = EnvelopeCache::new(tmp.path());
        cache.put(&slot(), 1, b"good").unwrap();
        let stray = tmp.path().join(".salesforce@sandbox.lkc.tmp-deadbeef");
        fs::write(&stray, b"LKC1half").unwrap();
        assert_eq!(cache.list().unwrap(), vec![(slot(), 1)]);
        assert!(!stray.exists());
        assert_eq!(cache.get(&slot()).unwrap().unwrap().envelope, b"good");
    }

    #[cfg(unix)]
    #[test]
    fn files_and_dirs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("records");
        let cache = EnvelopeCache::new(&dir);
        cache.put(&slot(), 1, b"x").unwrap();
        let file_mode = fs::metadata(cache.path_for(&slot()))
            .unwrap()
            .permissions()
            .mode();
        let dir_mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(file_mode & 0o777, 0o600);
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn oversized_envelopes_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = EnvelopeCache::new(tmp.path());
        let err = cache.put(&slot(), 1, &vec![0u8; MAX_LEN + 1]).unwrap_err();
        assert_eq!(err.code(), "vault.too_large");
        assert_eq!(cache.get(&slot()).unwrap(), None);
    }
}
