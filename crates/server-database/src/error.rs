//! The one error type storage returns.

/// Why an enrollment code could not be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    Unknown,
    Expired,
    AlreadyUsed,
    /// The code's user was deactivated by the identity provider (SCIM `active: false`).
    UserInactive,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A compare-and-swap lost; `current` is the live version (`None`: no live record).
    #[error("version mismatch")]
    VersionMismatch { current: Option<i64> },
    #[error("enrollment code rejected: {0:?}")]
    Code(CodeProblem),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type DbResult<T> = Result<T, DbError>;
