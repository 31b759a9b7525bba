//! Client errors, with stable codes and plain-language messages. The
//! server's own error body (`latchkey_protocol::error::ErrorBody`) is passed
//! through: its code to branch on, its message (never a secret) to show.

use latchkey_protocol::error::{ErrorBody, ErrorCode};

/// Why a call to the Latchkey server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server address is unusable.
    #[error("The Latchkey server address is not valid: {reason}.")]
    InvalidServer { reason: String },

    /// The enrollment link or code is malformed.
    #[error("This enrollment link is not valid: {reason}. Ask your admin for a new one.")]
    InvalidLink { reason: String },

    /// This device has no token yet.
    #[error("This computer is not enrolled yet. Enroll it with the link from your admin.")]
    NotEnrolled,

    /// The server could not be reached.
    #[error(
        "Could not reach the Latchkey server ({reason}). Your saved connections keep working; changes will sync when it is back."
    )]
    Network { reason: String },

    /// The device token was refused (revoked device, removed user).
    #[error(
        "The Latchkey server no longer accepts this computer ({message}). Enroll it again with a new link from your admin."
    )]
    Unauthorized { code: ErrorCode, message: String },

    /// A stale compare-and-swap write.
    #[error(
        "The record changed on the server (now version {current:?}); it was re-read instead of overwritten."
    )]
    Conflict { current: Option<u64> },

    /// Not found.
    #[error("{message}")]
    NotFound { code: ErrorCode, message: String },

    /// Too many requests.
    #[error("The Latchkey server asks to slow down; try again in {retry_after:?} seconds.")]
    RateLimited { retry_after: Option<u64> },

    /// Any other refusal, with the server's own words.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: ErrorCode,
        message: String,
    },

    /// The answer was not what the API promises.
    #[error(
        "The Latchkey server sent an unexpected answer ({reason}). Try again; if it persists, tell your admin."
    )]
    InvalidResponse { reason: String },
}

impl ClientError {
    pub(crate) fn from_status(status: u16, body: &[u8], retry_after: Option<u64>) -> ClientError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let (code, message, current) = match parsed {
            Some(b) => (
                b.code,
                b.message,
                b.current_version
                    .flatten()
                    .and_then(|v| u64::try_from(v).ok()),
            ),
            None => (
                ErrorCode::from(format!("http_{status}")),
                format!("The server answered HTTP {status}."),
                None,
            ),
        };
        match status {
            401 => ClientError::Unauthorized { code, message },
            404 => ClientError::NotFound { code, message },
            412 => ClientError::Conflict { current },
            429 => ClientError::RateLimited { retry_after },
            _ => ClientError::Rejected {
                status,
                code,
                message,
            },
        }
    }

    /// A stable code the UI can branch on.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidServer { .. } => "client.invalid_server",
            Self::InvalidLink { .. } => "client.invalid_link",
            Self::NotEnrolled => "client.not_enrolled",
            Self::Network { .. } => "client.network",
            Self::Unauthorized { .. } => "client.unauthorized",
            Self::Conflict { .. } => "client.conflict",
            Self::NotFound { .. } => "client.not_found",
            Self::RateLimited { .. } => "client.rate_limited",
            Self::Rejected { .. } => "client.rejected",
            Self::InvalidResponse { .. } => "client.invalid_response",
        }
    }

    /// True when an admin emptied the slot and the write was an old copy (410
    /// `revoked_by_admin`): wipe it, never retry.
    pub fn is_revoked_by_admin(&self) -> bool {
        matches!(self, Self::Rejected { status: 410, code, .. } if *code == ErrorCode::REVOKED_BY_ADMIN)
    }

    /// True when the server could not be reached (the write should be queued).
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Network { .. })
    }
}
