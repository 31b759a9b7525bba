//! Request and answer pieces several adapters share, beyond `mod.rs`'s: a JSON `POST`,
//! the `Retry-After` header, a provider's refusal for a missing permission, and lists of
//! hits from several requests merged fairly under one limit.

use latchkey_connect::{ApiRequest, ApiResponse};
use serde_json::Value;

use crate::error::SearchError;
use crate::hit::Hit;

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

/// Takes from each list in turn until `limit`, so that one source's results (Jira's, or
/// HubSpot's contacts) do not crowd out another's.
pub(crate) fn interleave(lists: Vec<Vec<Hit>>, limit: usize) -> Vec<Hit> {
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    while out.len() < limit {
        let mut took = false;
        for it in &mut iters {
            if out.len() >= limit {
                break;
            }
            if let Some(hit) = it.next() {
                out.push(hit);
                took = true;
            }
        }
        if !took {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str) -> Hit {
        Hit {
            native_id: id.to_owned(),
            title: id.to_owned(),
            subtitle: None,
            kind: "x".to_owned(),
            url: format!("https://example.com/{id}"),
            updated_at: None,
        }
    }

    #[test]
    fn interleaving_takes_turns_up_to_the_limit() {
        let a = vec![hit("a1"), hit("a2"), hit("a3")];
        let b = vec![hit("b1")];
        let ids: Vec<String> = interleave(vec![a, b, Vec::new()], 4)
            .into_iter()
            .map(|h| h.native_id)
            .collect();
        assert_eq!(ids, ["a1", "b1", "a2", "a3"]);
        assert!(interleave(vec![vec![hit("a")]], 0).is_empty());
    }

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
