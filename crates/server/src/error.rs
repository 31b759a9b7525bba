//! The one error type of the HTTP API. Every failure reaches the client as the
//! protocol's [`ErrorBody`], `{"code": "...", "message": "..."}`, with a stable
//! `code` ([`ErrorCode`]) to branch on and a message saying what happened and
//! what to do next. Messages never carry secret material: they are built from
//! constants and validated identifiers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use latchkey_protocol::error::{ErrorBody, ErrorCode};
use latchkey_protocol::ids::IdError;
use latchkey_server_database::{CodeProblem, DbError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// For 412: the live version of the record (`None`: no live record).
    pub current_version: Option<Option<i64>>,
    /// For 429: seconds to wait.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            current_version: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// The same error with another message (one that says more about this case).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn too_many(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RATE_LIMITED,
                format!("Too many attempts. Wait {retry_after} seconds and try again."),
            )
        }
    }

    pub fn version_mismatch(current: Option<i64>) -> Self {
        let message = match current {
            Some(v) => format!(
                "The record changed since you read it: it is now at version {v}. Fetch it, merge, and retry with If-Match: {v}."
            ),
            None => {
                "The record no longer exists. Create it again with If-None-Match: *.".to_owned()
            }
        };
        Self {
            current_version: Some(current),
            ..Self::new(
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::VERSION_MISMATCH,
                message,
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::INTERNAL,
            "The server hit an internal error. Try again; if it persists, check the server logs.",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::not_found(ErrorCode::NOT_FOUND, "No such resource."),
            DbError::AlreadyExists(what) => {
                Self::conflict(ErrorCode::ALREADY_EXISTS, format!("{what} already exists."))
            }
            DbError::VersionMismatch { current } => Self::version_mismatch(current),
            DbError::Code(problem) => {
                let (code, message) = match problem {
                    CodeProblem::Unknown => (
                        ErrorCode::ENROLLMENT_CODE_INVALID,
                        "This enrollment code is not valid. Check it, or ask your admin for a new invitation.",
                    ),
                    CodeProblem::Expired => (
                        ErrorCode::ENROLLMENT_CODE_EXPIRED,
                        "This enrollment code has expired. Ask your admin for a new invitation.",
                    ),
                    CodeProblem::AlreadyUsed => (
                        ErrorCode::ENROLLMENT_CODE_USED,
                        "This enrollment code was already used. Ask your admin for a new invitation.",
                    ),
                    CodeProblem::UserInactive => (
                        ErrorCode::USER_INACTIVE,
                        "Your account was deactivated by your organisation's identity provider, so this computer cannot be enrolled. Ask your admin to reactivate it.",
                    ),
                };
                // 410 would also fit expired/used; 401 keeps "bad credential" uniform. A
                // deactivated user's code is a good credential of someone refused: 403.
                if problem == CodeProblem::UserInactive {
                    Self::forbidden(code, message)
                } else {
                    Self::unauthorized(code, message)
                }
            }
            DbError::Corrupt(_) | DbError::Backend(_) => {
                tracing::error!(error = %e, "storage failure");
                Self::internal()
            }
        }
    }
}

/// A caller's identifier refused by the protocol's rules: 400 with its code.
impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        Self::bad_request(e.code, e.message)
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        tracing::error!(error = %e, "crypto failure");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            current_version: self.current_version,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
