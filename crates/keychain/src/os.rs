//! The real OS keychain through `keyring`, one credential type per platform.

use keyring::{Credential, Entry};

use crate::{Keychain, KeychainError, SecretVec};

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
const DESCRIPTION: &str = "Secret Service: GNOME Keyring or KWallet";
#[cfg(target_os = "macos")]
const DESCRIPTION: &str = "macOS Keychain";
#[cfg(target_os = "windows")]
const DESCRIPTION: &str = "Windows Credential Manager";

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "windows"
)))]
compile_error!("Latchkey has no OS keychain for this platform; it will not fall back to a mock.");

/// The operating system's keychain, with entries under one service name.
#[derive(Debug, Clone)]
pub struct OsKeychain {
    service: String,
}

impl OsKeychain {
    /// Entries live under `service` (Latchkey uses `app.latchkey.vault`; tests
    /// use a random name so they never touch a real user's entries).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    /// The service name entries are stored under.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str) -> Result<Entry, KeychainError> {
        let credential = platform_credential(&self.service, account).map_err(map_error)?;
        Ok(Entry::new_with_credential(credential))
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn platform_credential(service: &str, account: &str) -> keyring::Result<Box<Credential>> {
    Ok(Box::new(
        keyring::secret_service::SsCredential::new_with_target(None, service, account)?,
    ))
}

#[cfg(target_os = "macos")]
fn platform_credential(service: &str, account: &str) -> keyring::Result<Box<Credential>> {
    Ok(Box::new(keyring::macos::MacCredential::new_with_target(
        None, service, account,
    )?))
}

#[cfg(target_os = "windows")]
fn platform_credential(service: &str, account: &str) -> keyring::Result<Box<Credential>> {
    Ok(Box::new(keyring::windows::WinCredential::new_with_target(
        None, service, account,
    )?))
}

/// Maps `keyring` errors to ours. Payloads that could hold secret bytes
/// (`BadEncoding`) or credentials (`Ambiguous`) are never formatted.
fn map_error(error: keyring::Error) -> KeychainError {
    let keychain = DESCRIPTION.to_owned();
    match error {
        keyring::Error::NoStorageAccess(inner) => KeychainError::Locked {
            keychain,
            reason: inner.to_string(),
        },
        keyring::Error::PlatformFailure(inner) => KeychainError::Unavailable {
            keychain,
            reason: inner.to_string(),
        },
        keyring::Error::TooLong(attribute, limit) => KeychainError::Rejected {
            keychain,
            reason: format!("the {attribute} is longer than {limit}"),
        },
        keyring::Error::Invalid(attribute, why) => KeychainError::Rejected {
            keychain,
            reason: format!("invalid {attribute}: {why}"),
        },
        keyring::Error::Ambiguous(matches) => KeychainError::Rejected {
            keychain,
            reason: format!("{} entries match one name", matches.len()),
        },
        keyring::Error::BadEncoding(_) => KeychainError::Rejected {
            keychain,
            reason: "the entry is not in the expected encoding".to_owned(),
        },
        keyring::Error::NoEntry => KeychainError::Rejected {
            keychain,
            reason: "the entry does not exist".to_owned(),
        },
        other => KeychainError::Unavailable {
            keychain,
            reason: other.to_string(),
        },
    }
}

impl Keychain for OsKeychain {
    fn describe(&self) -> &str {
        DESCRIPTION
    }

    fn get(&self, account: &str) -> Result<Option<SecretVec>, KeychainError> {
        match self.entry(account)?.get_secret() {
            Ok(bytes) => Ok(Some(SecretVec::new(bytes))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(map_error(error)),
        }
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        crate::check_secret_len(DESCRIPTION, secret)?;
        self.entry(account)?.set_secret(secret).map_err(map_error)
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(error) => Err(map_error(error)),
        }
    }
}
