//! Folders and files under this computer's Latchkey data dir are the user's alone:
//! folders 0700, files 0600 on Unix, whatever the umask, and also when a folder already
//! existed with looser rights (a data dir made by hand, or by an older release). Nothing
//! in them is a plaintext secret, but their names, timings and sealed envelopes are
//! nobody else's business. On Windows the user's profile folder already keeps them to
//! the user; these functions then only create and write.
//!
//! One place for this, so every crate that writes there (device, connect, menu, vault)
//! gets it right the same way. It also names that data dir ([`default_data_dir`]), so
//! the desktop app, the CLI and the vault's own tool agree on it on every OS.
//!
//! Replacing a file ([`replace`]) retries for a moment on Windows, where another
//! Latchkey process (the CLI) or a virus scanner holding the file open can make the
//! rename fail with a sharing violation for a few milliseconds.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The folder name under the OS's per-user data folder.
const APP_DIR: &str = "latchkey";

/// Latchkey's per-user data folder on this computer, by each OS's convention:
///
/// - Linux and BSD: `$XDG_DATA_HOME/latchkey`, else `~/.local/share/latchkey`
/// - macOS: `~/Library/Application Support/latchkey`
/// - Windows: `%LOCALAPPDATA%\latchkey` (the local, not the roaming, AppData: the
///   enrollment, the vault's salt and its cache belong to this computer, and a roaming
///   profile would copy one computer's device identity to the next)
///
/// Everything Latchkey keeps on a device lives here, the sealed offline copies of
/// records included: they are what the menu shows offline, so they are data, not a
/// cache the OS may purge. `.` when the OS reports no home folder.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(APP_DIR)
}

/// Creates `dir` and its missing parents, and makes `dir` itself private (0700), also
/// when it already existed.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Sets Unix permission bits (a no-op elsewhere).
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = fs::metadata(path)?.permissions().mode() & 0o777;
        if current != mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Opens (creating if needed) a private file for writing without truncating it: lock
/// files.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    restrict(path, 0o600)?;
    Ok(file)
}

/// Writes `bytes` to `path` atomically (a private temporary file in the same folder,
/// flushed, then renamed over the old one), creating the folder privately. A crash
/// leaves the old file or the new one, never half of either.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no folder"))?;
    create_dir(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    // Unique per process and per write: two threads saving the same file each write
    // their own temporary file, and the last rename wins whole.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let _ = fs::remove_file(&tmp);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        replace(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// How long [`replace`] waits before each new try: about 1.3 s in all, so a reader
/// that holds the file for a moment is waited out, and a file held for good fails
/// quickly with the OS's own error.
const REPLACE_BACKOFF: [Duration; 7] = [
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(850),
];

/// Renames `from` over `to`, replacing it. On Windows a rename over a file that another
/// process has open without delete sharing (an antivirus scan, an older reader) fails
/// with a sharing violation or access denied until that handle closes; those are tried
/// again with a short, bounded backoff. Rust's own file handles share delete access, so
/// a Latchkey reader never blocks the replace by itself. Elsewhere a rename never fails
/// that way, and this is one rename.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    retry_while_shared(
        || fs::rename(from, to),
        is_sharing_violation,
        &REPLACE_BACKOFF,
        std::thread::sleep,
    )
}

/// Runs `attempt` until it succeeds, fails with an error `transient` does not accept, or
/// `backoff` runs out (then the last error is returned). `sleep` is injected so tests
/// need not wait.
fn retry_while_shared(
    mut attempt: impl FnMut() -> io::Result<()>,
    transient: impl Fn(&io::Error) -> bool,
    backoff: &[Duration],
    mut sleep: impl FnMut(Duration),
) -> io::Result<()> {
    let mut delays = backoff.iter();
    loop {
        match attempt() {
            Err(error) if transient(&error) => match delays.next() {
                Some(delay) => sleep(*delay),
                None => return Err(error),
            },
            other => return other,
        }
    }
}

/// Windows' errors for a file that another handle keeps from being replaced:
/// ERROR_ACCESS_DENIED (5, also what a pending delete gives), ERROR_SHARING_VIOLATION
/// (32) and ERROR_LOCK_VIOLATION (33).
#[cfg(windows)]
fn is_sharing_violation(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(5 | 32 | 33))
}

/// A rename on Unix replaces a file whoever has it open: nothing to wait for.
#[cfg(not(windows))]
fn is_sharing_violation(_error: &io::Error) -> bool {
    false
}

#[cfg(test)]
mod replace_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    /// What Windows returns while another handle keeps the file (ERROR_SHARING_VIOLATION).
    fn sharing_violation() -> io::Error {
        io::Error::from_raw_os_error(32)
    }

    /// Threads saving one file at once each leave a whole version: never an error from
    /// a temporary file another thread removed, never a mix, no temporary file left.
    #[test]
    fn concurrent_writes_of_one_file_each_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let versions: Vec<Vec<u8>> = (0..8u8).map(|t| vec![b'a' + t; 4096]).collect();
        std::thread::scope(|scope| {
            for version in &versions {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..50 {
                        write(path, version).unwrap();
                    }
                });
            }
        });
        let last = fs::read(&path).unwrap();
        assert!(versions.contains(&last), "a whole version");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["settings.json"], "no temporary file left");
    }

    #[test]
    fn a_write_succeeds_while_another_process_has_the_file_open() {
        // The CLI reading the cache while the menu app writes it: the write must not fail.
        // Under Wine (and Windows without POSIX rename semantics) the rename waits until
        // the reader lets go; on Unix it replaces the file at once.
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("records/salesforce@prod.lkc");
        write(&path, b"old").unwrap();
        let mut reader = File::open(&path).unwrap();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut held = Vec::new();
            reader.read_to_end(&mut held).unwrap();
            held
        });

        write(&path, b"new").unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"new");
        // The reader read the file it opened, whole.
        assert_eq!(holder.join().unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(root.path().join("records"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_replace_blocked_for_a_moment_is_tried_again_until_the_reader_lets_go() {
        let mut tries = 0;
        let mut slept = Vec::new();
        let result = retry_while_shared(
            || {
                tries += 1;
                if tries < 4 {
                    Err(sharing_violation())
                } else {
                    Ok(())
                }
            },
            |e| e.raw_os_error() == Some(32),
            &REPLACE_BACKOFF,
            |d| slept.push(d),
        );
        assert!(result.is_ok());
        assert_eq!(tries, 4);
        assert_eq!(slept, REPLACE_BACKOFF[..3]);
    }

    #[test]
    fn a_file_held_for_good_fails_after_the_bounded_backoff_with_the_os_error() {
        let mut tries = 0;
        let mut waited = Duration::ZERO;
        let error = retry_while_shared(
            || {
                tries += 1;
                Err(sharing_violation())
            },
            |e| e.raw_os_error() == Some(32),
            &REPLACE_BACKOFF,
            |d| waited += d,
        )
        .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(32));
        assert_eq!(tries, REPLACE_BACKOFF.len() + 1);
        assert!(waited < Duration::from_secs(2), "bounded: {waited:?}");
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut tries = 0;
        let error = retry_while_shared(
            || {
                tries += 1;
                Err(io::Error::from(io::ErrorKind::NotFound))
            },
            |e| e.raw_os_error() == Some(32),
            &REPLACE_BACKOFF,
            |_| panic!("no wait for an error that is not a sharing violation"),
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(tries, 1);
    }

    #[test]
    fn the_data_dir_is_latchkeys_folder_in_the_os_local_data_folder() {
        let dir = default_data_dir();
        assert!(dir.ends_with(APP_DIR));
        if let Some(base) = dirs::data_local_dir() {
            assert_eq!(dir, base.join(APP_DIR));
        }
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_private_even_when_they_existed_looser() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        let file = data.join("state/x.json");
        write(&file, b"{}").unwrap();
        create_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("state")), 0o700);
        assert_eq!(mode(&file), 0o600);
        // A file that existed world-readable is replaced by a private one.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"{\"a\":1}").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read(&file).unwrap(), b"{\"a\":1}");
        let lock = open_lock_file(&data.join("locks/a.lock")).unwrap();
        drop(lock);
        assert_eq!(mode(&data.join("locks/a.lock")), 0o600);
        assert_eq!(mode(&data.join("locks")), 0o700);
        // Nothing left behind.
        let names: Vec<_> = fs::read_dir(data.join("state"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
