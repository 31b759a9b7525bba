//! Request and answer pieces several adapters share, beyond `mod.rs`'s: a JSON `POST`,
//! the `Retry-After` header and a provider's refusal for a missing permission.

use latchkey_connect::{ApiRequest, ApiResponse};
use serde_json::Value;

use crate::error::SearchError;

/// A `POST` of `body` as JSON to `target`.
pub(crate) fn post_json(target: impl Into<String>, body: &Value) -> ApiRequest {
    ApiRequest {
        method: http::Method::POST,
        target: target.into(),
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body: Some(body.to_string().into_bytes()),
    }
}

/// The `Retry-After` header in seconds, when sent as a number.
pub(crate) fn retry_after(response: &ApiResponse) -> Option<u64> {
    response
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The answer's body as JSON, when it is JSON (errors included).
pub(crate) fn body_json(response: &ApiResponse) -> Value {
    response.json().unwrap_or(Value::Null)
}

/// "Searching needs `scopes`".
pub(crate) fn missing_scope(provider: &str, scopes: impl Into<String>) -> SearchError {
    SearchError::MissingScope {
        provider: provider.to_owned(),
        scopes: scopes.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_post_says_so() {
        let r = post_json("search", &serde_json::json!({"q": "a\"b"}));
        assert_eq!(r.method, http::Method::POST);
        assert_eq!(r.body.as_deref(), Some(br#"{"q":"a\"b"}"#.as_slice()));
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "Content-Type" && v == "application/json")
        );
    }
}
