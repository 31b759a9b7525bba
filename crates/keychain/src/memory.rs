//! An in-memory keychain for tests, with failure injection.
//!
//! It exists so the error paths of everything above the keychain (unavailable,
//! locked, an entry that vanished) can be exercised without a real store. It is
//! not a fallback: nothing in Latchkey's binaries constructs it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Keychain, KeychainError, SecretVec};

/// Which failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFailure {
    Unavailable,
    Locked,
    Rejected,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Vec<u8>>,
    fail_next: Option<InjectedFailure>,
    fail_next_write: Option<InjectedFailure>,
    fail_always: Option<InjectedFailure>,
    calls: usize,
}

/// A keychain held in process memory; see the module docs.
#[derive(Default)]
pub struct MemoryKeychain {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryKeychain")
    }
}

impl MemoryKeychain {
    /// An empty keychain that works until told otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call (of any kind) fails with `failure`; later calls work.
    pub fn fail_next(&self, failure: InjectedFailure) {
        self.with_state(|s| s.fail_next = Some(failure));
    }

    /// The next `set` or `delete` fails with `failure`; reads are unaffected.
    pub fn fail_next_write(&self, failure: InjectedFailure) {
        self.with_state(|s| s.fail_next_write = Some(failure));
    }

    /// Every call fails with `failure` until cleared with `None`.
    pub fn fail_always(&self, failure: Option<InjectedFailure>) {
        self.with_state(|s| s.fail_always = failure);
    }

    /// How many calls have been made, to assert that a path used the keychain once.
    pub fn calls(&self) -> usize {
        self.with_state(|s| s.calls)
    }

    /// Removes an entry behind the caller's back, as a user or another app might.
    pub fn remove_externally(&self, account: &str) {
        self.with_state(|s| {
            s.entries.remove(account);
        });
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means a test panicked mid-call; the map is still usable.
        let mut guard = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    fn begin_call(&self, write: bool) -> Result<(), KeychainError> {
        let failure = self.with_state(|s| {
            s.calls += 1;
            let write_failure = if write {
                s.fail_next_write.take()
            } else {
                None
            };
            write_failure
                .or_else(|| s.fail_next.take())
                .or(s.fail_always)
        });
        match failure {
            None => Ok(()),
            Some(kind) => Err(injected(kind)),
        }
    }
}

fn injected(kind: InjectedFailure) -> KeychainError {
    let keychain = "in-memory test keychain".to_owned();
    let reason = "injected failure".to_owned();
    match kind {
        InjectedFailure::Unavailable => KeychainError::Unavailable { keychain, reason },
        InjectedFailure::Locked => KeychainError::Locked { keychain, reason },
        InjectedFailure::Rejected => KeychainError::Rejected { keychain, reason },
    }
}

impl Keychain for MemoryKeychain {
    fn describe(&self) -> &str {
        "in-memory test keychain"
    }

    fn get(&self, account: &str) -> Result<Option<SecretVec>, KeychainError> {
        self.begin_call(false)?;
        Ok(self.with_state(|s| s.entries.get(account).map(|v| SecretVec::new(v.clone()))))
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        self.begin_call(true)?;
        crate::check_secret_len(self.describe(), secret)?;
        self.with_state(|s| s.entries.insert(account.to_owned(), secret.to_vec()));
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        self.begin_call(true)?;
        Ok(self.with_state(|s| s.entries.remove(account).is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_over_windows_credential_manager_limit_is_refused_on_every_os() {
        let kc = MemoryKeychain::new();
        kc.set("fits", &[7u8; crate::MAX_SECRET_LEN]).unwrap();
        let err = kc
            .set("too-long", &[7u8; crate::MAX_SECRET_LEN + 1])
            .unwrap_err();
        assert_eq!(err.code(), "keychain.rejected");
        assert!(err.to_string().contains("2561 bytes"), "{err}");
        assert!(kc.get("too-long").unwrap().is_none());
    }

    #[test]
    fn round_trip_and_delete() {
        let kc = MemoryKeychain::new();
        assert!(kc.get("a").unwrap().is_none());
        kc.set("a", b"salt").unwrap();
        assert_eq!(kc.get("a").unwrap().unwrap().expose(), b"salt");
        assert!(kc.delete("a").unwrap());
        assert!(!kc.delete("a").unwrap());
    }

    #[test]
    fn fail_next_fails_exactly_one_call() {
        let kc = MemoryKeychain::new();
        kc.fail_next(InjectedFailure::Locked);
        let err = kc.get("a").unwrap_err();
        assert_eq!(err.code(), "keychain.locked");
        assert!(kc.get("a").is_ok());
    }

    #[test]
    fn fail_next_write_spares_reads() {
        let kc = MemoryKeychain::new();
        kc.fail_next_write(InjectedFailure::Rejected);
        assert!(kc.get("a").unwrap().is_none());
        assert_eq!(kc.set("a", b"x").unwrap_err().code(), "keychain.rejected");
        kc.set("a", b"x").unwrap();
        assert_eq!(kc.get("a").unwrap().unwrap().expose(), b"x");
    }

    #[test]
    fn fail_always_until_cleared() {
        let kc = MemoryKeychain::new();
        kc.fail_always(Some(InjectedFailure::Unavailable));
        assert_eq!(
            kc.set("a", b"x").unwrap_err().code(),
            "keychain.unavailable"
        );
        assert_eq!(kc.get("a").unwrap_err().code(), "keychain.unavailable");
        kc.fail_always(None);
        assert!(
            kc.get("a").unwrap().is_none(),
            "a failed set must store nothing"
        );
    }
}
