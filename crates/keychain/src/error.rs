//! Keychain errors. They name the keychain and say what to do, and they never
//! carry secret bytes (keyring's `BadEncoding` payload is dropped on purpose).

/// Why a keychain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    /// No keychain service could be reached at all (no D-Bus session, no
    /// Secret Service provider, the platform store refused to start).
    #[error(
        "The system keychain ({keychain}) is not available ({reason}). Start or install a keychain service \
         (on Linux: GNOME Keyring or KWallet in your desktop session) and try again. \
         Latchkey never stores tokens without it."
    )]
    Unavailable { keychain: String, reason: String },

    /// The keychain is there but locked, and unlocking was refused or needs a
    /// prompt that could not be shown.
    #[error(
        "The system keychain ({keychain}) is locked ({reason}). Unlock it (for example by signing in to your \
         desktop session, or with your keychain app) and try again."
    )]
    Locked { keychain: String, reason: String },

    /// The keychain answered but refused this entry (name too long, invalid
    /// attribute, several matching entries).
    #[error(
        "The system keychain ({keychain}) refused the entry: {reason}. This is a bug in Latchkey; please report it."
    )]
    Rejected { keychain: String, reason: String },
}

impl KeychainError {
    /// A stable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "keychain.unavailable",
            Self::Locked { .. } => "keychain.locked",
            Self::Rejected { .. } => "keychain.rejected",
        }
    }
}
