//! Request extractors that fail with the API's JSON error bodies.

use std::net::{IpAddr, SocketAddr};

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// JSON body extractor: strict types (request structs deny unknown fields), and
/// errors as `{"code","message"}` with 400 (malformed), 413 (too large),
/// 415 (not JSON) or 422 (wrong shape).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::unprocessable(
            "invalid_body",
            format!(
                "The request body does not have the expected fields: {}",
                e.body_text()
            ),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with 'Content-Type: application/json'.",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The request body is larger than this server accepts.",
        ),
        _ => ApiError::bad_request("bad_body", "The request body could not be read."),
    }
}

/// `Option<Option<T>>` for PATCH-like fields: absent → `None` (keep),
/// `null` → `Some(None)` (clear), value → `Some(Some(v))` (set).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// A JSON body that may be left out entirely (an empty body is `None`); a body that
/// is present follows [`ApiJson`]'s rules.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (req
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .is_none()
                && req
                    .headers()
                    .get(axum::http::header::TRANSFER_ENCODING)
                    .is_none()
                && req
                    .headers()
                    .get(axum::http::header::CONTENT_LENGTH)
                    .is_none());
        if empty {
            return Ok(Self(None));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| Self(Some(v)))
    }
}

/// The caller's IP as an extractor: the direct peer, or what `X-Forwarded-For` says when
/// the peer is a trusted proxy (see [`crate::client_ip`]).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(state, parts)))
    }
}

/// The caller's IP for a request (unspecified when the transport gave none).
pub fn client_ip(state: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    state.config.trusted_proxies.client_ip(peer, &parts.headers)
}
