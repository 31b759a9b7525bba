//! Request authentication: device tokens for the client API; admin API tokens
//! (Bearer) or a console session cookie plus CSRF header for the admin API.
//!
//! Tokens are looked up by their SHA-256 hash and the stored hash is compared
//! again in constant time. Failed attempts count against the caller's IP, and
//! past the limit the answer becomes 429.

use crate::crypto::{TokenKind, token_hash, token_matches};
use crate::error::ApiError;
use crate::extract::client_ip;
use crate::state::{AppState, now_millis};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use latchkey_server_database::{Admin, AdminCredential, CredentialKind, DbResult, Device, User};
use std::future::Future;

pub const SESSION_COOKIE: &str = "latchkey_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Turns an authentication failure into 401, or 429 once this IP failed too often.
pub(crate) fn failed(state: &AppState, parts: &Parts, err: ApiError) -> ApiError {
    match state
        .auth_limiter
        .check(&format!("authfail:{}", client_ip(state, parts)))
    {
        Ok(()) => err,
        Err(wait) => ApiError::too_many(wait),
    }
}

/// An authenticated, non-revoked device and its user.
pub struct DeviceAuth {
    pub device: Device,
    pub user: User,
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (auth, ()) = Self::with(parts, state, |hash| async move {
            Ok(state
                .db
                .device_and_user_by_token_hash(&hash)
                .await?
                .map(|(device, user)| (device, user, ())))
        })
        .await?;
        Ok(auth)
    }
}

impl DeviceAuth {
    /// Authenticates the request's device token with `lookup`, which finds the device
    /// and its user by the token's hash and may read `T` in the same round trip (a
    /// record route reads the device with what it needs next). `T` is returned only
    /// for a device that passed every check.
    pub async fn with<T, F, Fut>(
        parts: &Parts,
        state: &AppState,
        lookup: F,
    ) -> Result<(Self, T), ApiError>
    where
        F: FnOnce(Vec<u8>) -> Fut,
        Fut: Future<Output = DbResult<Option<(Device, User, T)>>>,
    {
        let Some(token) = bearer(&parts.headers) else {
            return Err(failed(
                state,
                parts,
                ApiError::unauthorized(
                    "missing_token",
                    "Send the device token as 'Authorization: Bearer <token>'. Enroll the device to get one.",
                ),
            ));
        };
        let invalid = || {
            ApiError::unauthorized(
                "invalid_token",
                "This device token is not valid. Enroll the device again with a new code from your admin.",
            )
        };
        if !TokenKind::Device.matches(token) {
            return Err(failed(state, parts, invalid()));
        }
        let found = lookup(token_hash(token)).await?;
        let Some((device, user, with)) =
            found.filter(|(d, _, _)| token_matches(token, &d.token_hash))
        else {
            return Err(failed(state, parts, invalid()));
        };
        if device.revoked_at.is_some() || device.org_id != state.org.id {
            return Err(failed(
                state,
                parts,
                ApiError::unauthorized(
                    "device_revoked",
                    "This device was revoked by an admin. Enroll it again with a new code.",
                ),
            ));
        }
        // Last-seen is kept to the minute: no write on most requests.
        let now = now_millis();
        if device.last_seen_at.is_none_or(|seen| now - seen > 60_000)
            && let Err(e) = state.db.touch_device(&device.id, now).await
        {
            tracing::warn!(error = %e, "could not record device last-seen time");
        }
        Ok((Self { device, user }, with))
    }
}

/// A device that may fetch and answer its revocation orders (the kill switch): a live
/// device, one an admin revoked, or one removed with its user. Orders keep the hash of
/// the device's token, so a token that opens nothing else still opens these two routes,
/// and only for its own orders.
pub struct RevocationAuth {
    pub device_id: String,
    pub user_id: String,
}

impl FromRequestParts<AppState> for RevocationAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::unauthorized(
                "invalid_token",
                "This device token is not valid. Enroll the device again with a new code from your admin.",
            )
        };
        // No token at all is not a guess: it does not count against this address.
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "Send the device token as 'Authorization: Bearer <token>'.",
            ));
        };
        if !TokenKind::Device.matches(token) {
            return Err(failed(state, parts, invalid()));
        }
        let hash = token_hash(token);
        if let Some((device, user)) = state
            .db
            .device_and_user_by_token_hash(&hash)
            .await?
            .filter(|(d, _)| token_matches(token, &d.token_hash) && d.org_id == state.org.id)
        {
            return Ok(Self {
                device_id: device.id,
                user_id: user.id,
            });
        }
        match state.db.device_by_order_token(&state.org.id, &hash).await? {
            Some((device_id, user_id)) => Ok(Self { device_id, user_id }),
            None => Err(failed(state, parts, invalid())),
        }
    }
}

/// An authenticated admin, by API token or by console session (+ CSRF).
pub struct AdminAuth {
    pub admin: Admin,
    pub credential: AdminCredential,
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::unauthorized(
                "invalid_credentials",
                "Sign in again, or send a valid admin API token as 'Authorization: Bearer <token>'.",
            )
        };
        let (token, kind) = if let Some(token) = bearer(&parts.headers) {
            // A device token is a known credential of the wrong kind: forbidden,
            // not "sign in again". Decided by its prefix alone (no lookup), so the
            // answer says nothing about whether the token is valid.
            if TokenKind::Device.matches(token) {
                return Err(ApiError::forbidden(
                    "not_an_admin",
                    "Device tokens cannot call the admin API. Use an admin API token or sign in to the console.",
                ));
            }
            if TokenKind::Scim.matches(token) {
                return Err(ApiError::forbidden(
                    "not_an_admin",
                    "SCIM tokens can only call /scim/v2. Use an admin API token or sign in to the console.",
                ));
            }
            if !TokenKind::AdminApi.matches(token) {
                return Err(failed(state, parts, invalid()));
            }
            (token.to_owned(), CredentialKind::ApiToken)
        } else if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
            if !TokenKind::Session.matches(token) {
                return Err(failed(state, parts, invalid()));
            }
            (token.to_owned(), CredentialKind::Session)
        } else {
            return Err(failed(
                state,
                parts,
                ApiError::unauthorized(
                    "missing_credentials",
                    "Sign in to the console, or send an admin API token as 'Authorization: Bearer <token>'.",
                ),
            ));
        };
        let credential = state
            .db
            .admin_credential_by_hash(&token_hash(&token), now_millis())
            .await?
            .filter(|c| {
                c.kind == kind && c.org_id == state.org.id && token_matches(&token, &c.token_hash)
            });
        let Some(credential) = credential else {
            return Err(failed(state, parts, invalid()));
        };
        if kind == CredentialKind::Session
            && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            let ok = match (presented, &credential.csrf_hash) {
                (Some(csrf), Some(stored)) => token_matches(csrf, stored),
                _ => false,
            };
            if !ok {
                return Err(ApiError::forbidden(
                    "csrf_failed",
                    "This console request lacks a valid X-CSRF-Token header. Reload the console and try again.",
                ));
            }
        }
        let Some(admin) = state.db.admin_by_id(&credential.admin_id).await? else {
            return Err(failed(state, parts, invalid()));
        };
        // Last use is kept to the minute: no write on most requests.
        let now = now_millis();
        if credential
            .last_used_at
            .is_none_or(|used| now - used > 60_000)
            && let Err(e) = state.db.touch_admin_credential(&credential.id, now).await
        {
            tracing::warn!(error = %e, "could not record an admin credential's last use");
        }
        Ok(Self { admin, credential })
    }
}
