//! Token responses that do not follow RFC 6749 §5.1, made to follow it before
//! they are read. Slack (the catalog's `token_response_object =
//! "authed_user"`) answers `oauth.v2.access` with HTTP 200 for every outcome:
//! errors are `{"ok": false, "error": "invalid_code"}`, and a user token sits
//! in the `authed_user` object while the top-level `access_token`, when there
//! is one, is a bot token this app must not take.
//!
//! Members are moved, never copied, and what is left out (the bot token) is
//! wiped when dropped, as every string of a [`Json`] is.

use crate::token_response::{Json, member};

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
pub(crate) fn normalize(status: u16, body: Json, object: &str) -> (u16, Json) {
    let Json::Object(mut top) = body else {
        return (status, body);
    };
    if matches!(member(&top, "ok"), Some(Json::Bool(false))) {
        let error = member(&top, "error")
            .and_then(Json::as_str)
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
        let mut answer = vec![("error".to_owned(), Json::string(error))];
        if let Some(d) = description {
            answer.push(("error_description".to_owned(), Json::string(d)));
        }
        return (400, Json::Object(answer));
    }
    let Some(at) = top.iter().position(|(name, _)| name == object) else {
        return (status, Json::Object(top));
    };
    let (name, inner) = top.remove(at);
    let Json::Object(mut out) = inner else {
        top.insert(at, (name, inner));
        return (status, Json::Object(top));
    };
    for (name, value) in top {
        if !TOKEN_FIELDS.contains(&name.as_str()) && member(&out, &name).is_none() {
            out.push((name, value));
        }
    }
    // Slack calls a user token's type "user"; it is used as a bearer token.
    match out.iter_mut().find(|(name, _)| name == "token_type") {
        Some((_, value)) if value.as_str() == Some("bearer") => {}
        Some((_, value)) => *value = Json::string("bearer"),
        None => out.push(("token_type".to_owned(), Json::string("bearer"))),
    }
    (status, Json::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    /// `normalize` on raw bytes, as the token path applies it: only a body that
    /// parses as JSON is rewritten; anything else reaches the checks as it came.
    fn normalized(status: u16, body: &[u8], object: &str) -> (u16, Vec<u8>) {
        match serde_json::from_slice::<Json>(body) {
            Ok(parsed) => {
                let (status, out) = normalize(status, parsed, object);
                (status, serde_json::to_vec(&out.to_value()).unwrap())
            }
            Err(_) => (status, body.to_vec()),
        }
    }

    #[test]
    fn the_user_token_is_taken_from_authed_user_and_the_bot_token_is_left() {
        // The shape Slack documents for oauth.v2.access with user scopes.
        let body = br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxb-bot",
            "token_type":"bot","scope":"commands",
            "authed_user":{"id":"U1234","scope":"users:read","access_token":"xoxe.xoxp-user",
              "token_type":"user","refresh_token":"xoxe-1-refresh","expires_in":43200},
            "team":{"id":"T9TK3CUKW","name":"Acme"},"enterprise":null,"is_enterprise_install":false}"#;
        let (status, out) = normalized(200, body, "authed_user");
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
        let (status, out) = normalized(
            200,
            br#"{"ok":false,"error":"invalid_refresh_token"}"#,
            "authed_user",
        );
        assert_eq!(
            (status, json(&out)["error"].clone()),
            (400, "invalid_grant".into())
        );
        let (status, out) = normalized(
            200,
            br#"{"ok":false,"error":"invalid_client_id"}"#,
            "authed_user",
        );
        assert_eq!(
            (status, json(&out)["error"].clone()),
            (400, "invalid_client".into())
        );
        let (_, out) = normalized(200, br#"{"ok":false}"#, "authed_user");
        assert_eq!(json(&out)["error"], "unknown_error");
    }

    #[test]
    fn anything_else_passes_unchanged_for_the_ordinary_checks() {
        for body in [&b"<html>"[..], br#"{"ok":true}"#, br#"[1,2]"#] {
            assert_eq!(normalized(200, body, "authed_user"), (200, body.to_vec()));
        }
    }
}
