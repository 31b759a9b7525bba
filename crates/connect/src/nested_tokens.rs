//! Token responses that do not follow RFC 6749 §5.1, made to follow it before
//! `oauth2` parses them. Slack (the catalog's `token_response_object =
//! "authed_user"`) answers `oauth.v2.access` with HTTP 200 for every outcome:
//! errors are `{"ok": false, "error": "invalid_code"}`, and a user token sits
//! in the `authed_user` object while the top-level `access_token`, when there
//! is one, is a bot token this app must not take.

use crate::http::{HttpClient, HttpError};

/// Fields that make up the token itself; only the nested object's count.
const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "expires_in",
    "token_type",
    "scope",
    "id_token",
];

/// Rewrites one token-endpoint response. `object` names the nested token
/// object. Returns the new status and body; anything unexpected is passed on
/// unchanged so the ordinary validation refuses it.
pub(crate) fn normalize(status: u16, body: &[u8], object: &str) -> (u16, Vec<u8>) {
    let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (status, body.to_vec());
    };
    if top.get("ok") == Some(&serde_json::Value::Bool(false)) {
        let error = top
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("unknown_error");
        let original = error;
        // Slack's names for a dead code or refresh token are RFC 6749's invalid_grant.
        let error = match error {
            "invalid_code"
            | "code_already_used"
            | "code_expired"
            | "invalid_refresh_token"
            | "token_revoked"
            | "token_expired" => "invalid_grant",
            "invalid_client_id" | "bad_client_secret" => "invalid_client",
            other => other,
        };
        // Say why in Slack's words, so a dead refresh token reads "reconnect" with a reason.
        let description = match original {
            "invalid_refresh_token" | "token_expired" => Some(
                "Slack: the saved refresh token has expired (Slack expires the refresh tokens of \
                 apps that use PKCE and token rotation)",
            ),
            "token_revoked" => Some("Slack: access was revoked in Slack"),
            _ => None,
        };
        let mut answer = serde_json::json!({ "error": error });
        if let Some(d) = description {
            answer["error_description"] = d.into();
        }
        return (400, answer.to_string().into_bytes());
    }
    let Some(serde_json::Value::Object(inner)) = top.get(object) else {
        return (status, body.to_vec());
    };
    let mut out = inner.clone();
    for (k, v) in &top {
        if k != object && !TOKEN_FIELDS.contains(&k.as_str()) {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // Slack calls a user token's type "user"; it is used as a bearer token.
    if out.get("token_type").and_then(|t| t.as_str()) != Some("bearer") {
        out.insert("token_type".to_owned(), "bearer".into());
    }
    (
        status,
        serde_json::Value::Object(out).to_string().into_bytes(),
    )
}

/// The injected HTTP client, normalizing token responses for one provider
/// (`object` empty: passed through untouched).
#[derive(Debug, Clone)]
pub(crate) struct NestedTokenHttp {
    pub(crate) http: HttpClient,
    pub(crate) object: String,
}

impl<'c> oauth2::AsyncHttpClient<'c> for NestedTokenHttp {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.send(request).await?;
            if self.object.is_empty() {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let (status, body) = normalize(parts.status.as_u16(), &body, &self.object);
            let mut rebuilt = http::Response::from_parts(parts, body);
            *rebuilt.status_mut() =
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
            Ok(rebuilt)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_user_token_is_taken_from_authed_user_and_the_bot_token_is_left() {
        // The shape Slack documents for oauth.v2.access with user scopes.
        let body = br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxb-bot",
            "token_type":"bot","scope":"commands",
            "authed_user":{"id":"U1234","scope":"users:read","access_token":"xoxe.xoxp-user",
              "token_type":"user","refresh_token":"xoxe-1-refresh","expires_in":43200},
            "team":{"id":"T9TK3CUKW","name":"Acme"},"enterprise":null,"is_enterprise_install":false}"#;
        let (status, out) = normalize(200, body, "authed_user");
        let out = json(&out);
        assert_eq!(status, 200);
        assert_eq!(out["access_token"], "xoxe.xoxp-user");
        assert_eq!(out["refresh_token"], "xoxe-1-refresh");
        assert_eq!(out["expires_in"], 43200);
        assert_eq!(out["token_type"], "bearer");
        assert_eq!(out["scope"], "users:read");
        assert_eq!(out["team"]["name"], "Acme");
        assert!(!out.to_string().contains("xoxb-bot"));
    }

    #[test]
    fn slack_errors_become_rfc_6749_errors() {
        let (status, out) = normalize(
            200,
            br#"{"ok":false,"error":"invalid_refresh_token"}"#,
            "authed_user",
        );
        assert_eq!(
            (status, json(&out)["error"].clone()),
            (400, "invalid_grant".into())
        );
        let (status, out) = normalize(
            200,
            br#"{"ok":false,"error":"invalid_client_id"}"#,
            "authed_user",
        );
        assert_eq!(
            (status, json(&out)["error"].clone()),
            (400, "invalid_client".into())
        );
        let (_, out) = normalize(200, br#"{"ok":false}"#, "authed_user");
        assert_eq!(json(&out)["error"], "unknown_error");
    }

    #[test]
    fn anything_else_passes_unchanged_for_the_ordinary_checks() {
        for body in [&b"<html>"[..], br#"{"ok":true}"#, br#"[1,2]"#] {
            assert_eq!(normalize(200, body, "authed_user"), (200, body.to_vec()));
        }
    }
}
