//! A token endpoint's answer, read: the provider's nesting undone and RFC 6749
//! parsing (both in [`crate::token_response`]), then every check before the
//! tokens become a [`TokenSet`], or the provider's refusal becomes an error the
//! user can act on. The exchange, the refresh and the fuzzer all read answers here.

use std::collections::BTreeMap;

use latchkey_vault::TokenSet;
use url::Url;

use super::{ProviderClient, unix_now};
use crate::ConnectError;
use crate::error::sanitize_provider_text;
use crate::token_response::{self, Answer, Json, TokenFields, take_member};

/// Largest token accepted from a provider (JWT access tokens can be long).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The longest `expires_in` believed: ten years.
const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

impl ProviderClient {
    /// Reads a token endpoint's answer: the provider's nesting undone, RFC 6749
    /// parsing, then every check. The one reader of token answers: the exchange,
    /// the refresh and the fuzzer all come here.
    pub(super) fn token_answer(
        &self,
        request: &'static str,
        status: u16,
        content_type: Option<&http::HeaderValue>,
        body: &[u8],
        previous: Option<&TokenSet>,
    ) -> Result<TokenSet, ConnectError> {
        match token_response::read(status, content_type, body, &self.token_object) {
            Answer::Tokens(fields) => self.to_token_set(fields, previous, request),
            Answer::Refused { error, description } => {
                Err(self.refusal(request, &error, description.as_deref()))
            }
            Answer::Unusable(reason) => Err(ConnectError::InvalidTokenResponse {
                provider: self.name.clone(),
                request,
                reason,
            }),
        }
    }

    /// The provider's RFC 6749 §5.2 refusal, for the user.
    fn refusal(
        &self,
        request: &'static str,
        code: &str,
        description: Option<&str>,
    ) -> ConnectError {
        let provider = self.name.clone();
        let description = description.map(sanitize_provider_text);
        if code == "invalid_grant" && request == "token refresh" {
            ConnectError::NeedsReconnect {
                provider,
                reason: format!(
                    "{} no longer accepts the saved sign-in (invalid_grant{})",
                    self.name,
                    description.map(|d| format!(": {d}")).unwrap_or_default()
                ),
            }
        } else {
            ConnectError::TokenRequestRejected {
                provider,
                request,
                error: sanitize_provider_text(code),
                description,
            }
        }
    }

    /// The token-response reader on raw bytes, as the token endpoint's answer
    /// would reach it (for the fuzzer and tests): the same path as a real
    /// exchange's answer, without its Content-Type.
    #[doc(hidden)]
    pub fn parse_token_response(&self, status: u16, body: &[u8]) -> Result<TokenSet, ConnectError> {
        self.token_answer("sign-in code", status, None, body, None)
    }

    /// Validates a token response and turns it into a [`TokenSet`].
    fn to_token_set(
        &self,
        response: TokenFields,
        previous: Option<&TokenSet>,
        request: &'static str,
    ) -> Result<TokenSet, ConnectError> {
        let invalid = |reason: &str| ConnectError::InvalidTokenResponse {
            provider: self.name.clone(),
            request,
            reason: reason.to_owned(),
        };
        let TokenFields {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            scope,
            id_token,
            mut rest,
        } = response;
        // RFC 6749 §5.1: the type is case-insensitive.
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid("the token type is not Bearer"));
        }
        let access = access_token.expose();
        if access.is_empty()
            || access.len() > MAX_TOKEN_LEN
            || access.chars().any(char::is_whitespace)
        {
            return Err(invalid("the access token is empty, too long or malformed"));
        }
        if refresh_token
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.len() > MAX_TOKEN_LEN)
        {
            return Err(invalid("the refresh token is empty or too long"));
        }
        let now = unix_now();
        let mut extras = BTreeMap::new();
        for name in &self.resolved.token_response_fields {
            match take_member(&mut rest, name) {
                Some(Json::String(mut s)) if s.len() <= 2048 => {
                    extras.insert(name.clone(), std::mem::take(&mut *s));
                }
                Some(Json::Number(n)) => {
                    extras.insert(name.clone(), n.to_string());
                }
                Some(Json::Bool(b)) => {
                    extras.insert(name.clone(), b.to_string());
                }
                // Small objects the catalog names (Slack's `team`) are kept as compact JSON.
                Some(v @ Json::Object(_)) if v.to_value().to_string().len() <= 2048 => {
                    extras.insert(name.clone(), v.to_value().to_string());
                }
                Some(Json::Null) | None => {}
                Some(_) => {
                    return Err(invalid(&format!("the field {name} has an unexpected type")));
                }
            }
        }
        let instance_url = match extras.remove("instance_url") {
            Some(u) => Some(
                checked_https_url(&u).ok_or_else(|| invalid("instance_url is not an https URL"))?,
            ),
            None => previous.and_then(|p| p.instance_url.clone()),
        };
        // Salesforce: issued_at is milliseconds since the epoch, as a string.
        let issued_at = extras
            .get("issued_at")
            .and_then(|s| s.parse::<u64>().ok())
            .map(|ms| if ms > 100_000_000_000 { ms / 1000 } else { ms })
            .filter(|t| *t <= now + 300)
            .unwrap_or(now);
        // A lifetime beyond ten years is no real token's: refuse it rather than overflow.
        let expires_at = match expires_in {
            Some(secs) if secs > MAX_LIFETIME_SECS => {
                return Err(invalid("expires_in is out of range"));
            }
            Some(secs) => Some(issued_at.max(now).saturating_add(secs)),
            None => None,
        };
        let id_token = id_token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN);
        // RFC 6749 §3.3: space-separated; some providers use their own separator.
        let scopes = scope
            .map(|s| {
                s.split(' ')
                    .flat_map(|scope| scope.split(self.resolved.scope_separator.as_str()))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .or_else(|| previous.map(|p| p.scopes.clone()))
            .unwrap_or_default();
        Ok(TokenSet {
            access_token,
            refresh_token,
            id_token,
            token_type: "Bearer".to_owned(),
            scopes,
            expires_at,
            issued_at: now,
            instance_url,
            extras,
        })
    }
}

/// Accepts https URLs, or http on a loopback IP literal (local test servers),
/// by the catalog's own rule for endpoints.
/// Only a URL already in its plain form is kept, exactly as the parser reads it:
/// the parser forgives `https:host`, surrounding spaces and embedded tabs, and a
/// stored value must not differ from what was checked (fuzzing found this).
fn checked_https_url(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    latchkey_catalog::check_url_security(&url).ok()?;
    let normal = url.as_str();
    let plain = normal == text || normal.strip_suffix('/') == Some(text);
    plain.then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use latchkey_catalog::model::ClientAuth;

    use super::super::test_support::demo_client;
    use super::*;

    #[test]
    fn the_fuzzed_reader_and_the_exchange_share_one_path() {
        // `parse_token_response` is `token_answer` without a Content-Type: a body
        // the exchange would refuse for its Content-Type is otherwise read alike.
        let provider = demo_client(ClientAuth::None, None);
        let body = br#"{"access_token":"at","token_type":"bearer","expires_in":60}"#;
        let text_html = http::HeaderValue::from_static("text/html");
        let refused = provider
            .token_answer("sign-in code", 200, Some(&text_html), body, None)
            .unwrap_err();
        assert_eq!(refused.code(), "connect.invalid_token_response");
        assert!(refused.to_string().contains("Content-Type"), "{refused}");
        let json = http::HeaderValue::from_static("application/json; charset=utf-8");
        let read = provider
            .token_answer("sign-in code", 200, Some(&json), body, None)
            .unwrap();
        let fuzzed = provider.parse_token_response(200, body).unwrap();
        assert_eq!(read.access_token, fuzzed.access_token);
        assert_eq!(read.access_token.expose(), "at");
    }

    #[test]
    fn instance_urls_must_be_https_or_loopback() {
        assert!(checked_https_url("https://acme.my.salesforce.com").is_some());
        assert!(checked_https_url("http://127.0.0.1:9000").is_some());
        assert!(checked_https_url("http://acme.my.salesforce.com").is_none());
        assert!(checked_https_url("https://user:pw@acme.example").is_none());
        assert!(checked_https_url("javascript:alert(1)").is_none());
        // Forms the parser forgives are not stored (found by fuzzing).
        assert!(checked_https_url("https:acme.my.salesforce.com").is_none());
        assert!(checked_https_url("\thttps://acme.my.salesforce.com\n").is_none());
        assert!(checked_https_url("https://acme.my.\tsalesforce.com").is_none());
        assert!(checked_https_url("https://acme.my.salesforce.com/").is_some());
    }
}
