//! One provider's OAuth 2.0 endpoints: the authorization URL (PKCE S256 and a
//! 256-bit `state`), code exchange, refresh, RFC 7009 revocation and the
//! "who am I" call, all through the injected [`HttpClient`].
//!
//! `oauth2` builds the authorization URL and runs the token requests (typed
//! errors, PKCE, the exact redirect URI). Revocation is sent directly because
//! its outcome depends on the HTTP status and `Retry-After`, which `oauth2`
//! does not surface. `plain` PKCE is not even compiled in (oauth2's
//! `pkce-plain` feature is off).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use latchkey_catalog::ResolvedOAuth2;
use latchkey_catalog::model::{ClientAuth, HttpMethod, RevocationMethod, ScopeSeparator};
use latchkey_secret::SecretString;
use latchkey_vault::TokenSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::ConnectError;
use crate::error::sanitize_provider_text;
use crate::http::{HttpClient, HttpError};
use crate::nested_tokens::NestedTokenHttp;

/// Largest token accepted from a provider (JWT access tokens can be long).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The longest `expires_in` believed: ten years.
const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// The token-response fields `oauth2` does not model, kept only when the
/// catalog names them. `Debug` prints the names, never the values (an
/// `id_token` can land here).
#[derive(Clone, Deserialize, Serialize)]
pub struct ProviderFields {
    #[serde(flatten)]
    fields: BTreeMap<String, serde_json::Value>,
}

impl std::fmt::Debug for ProviderFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.fields.keys()).finish()
    }
}

impl ExtraTokenFields for ProviderFields {}

type ProviderTokenResponse = StandardTokenResponse<ProviderFields, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A prepared authorization request: the URL to open, and the secrets the
/// callback and the exchange will need. Nothing here is ever logged.
pub struct AuthorizationRequest {
    /// The URL for the system browser.
    pub url: Url,
    /// The `state` the callback must return.
    pub state: SecretString,
    /// The PKCE verifier for the code exchange.
    pub verifier: PkceCodeVerifier,
    /// The redirect URI, repeated byte for byte in the token request.
    pub redirect_uri: String,
}

/// What happened when a token was sent to the revocation endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// The provider confirmed (RFC 7009: 200, also for an already-dead token).
    Revoked,
    /// The provider is unavailable; try again after the hinted delay.
    RetryLater {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// The provider refused for good (400 `unsupported_token_type` and the like).
    Refused { reason: String },
}

/// One provider, configured for one organisation's client.
pub struct ProviderClient {
    name: String,
    resolved: ResolvedOAuth2,
    client: OAuthClient,
    http: HttpClient,
    /// For token requests: normalizes nested responses for providers whose
    /// catalog entry names a token object (Slack).
    token_http: NestedTokenHttp,
    client_id: String,
    client_secret: Option<SecretString>,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.name)
            .finish()
    }
}

impl ProviderClient {
    /// Builds the client from the resolved catalog entry and the admin's
    /// configuration.
    pub fn new(
        name: &str,
        resolved: &ResolvedOAuth2,
        client_id: &str,
        client_secret: Option<SecretString>,
        http: HttpClient,
    ) -> Result<Self, ConnectError> {
        let misconfigured = |what: &str| ConnectError::Misconfigured {
            provider: name.to_owned(),
            what: what.to_owned(),
        };
        if client_id.trim().is_empty() || client_id.len() > 512 {
            return Err(misconfigured("the OAuth client id is missing"));
        }
        if resolved.client_secret_required && client_secret.is_none() {
            return Err(misconfigured("this provider requires a client secret"));
        }
        let auth_url = AuthUrl::from_url(resolved.authorization_url.clone());
        let token_url = TokenUrl::from_url(resolved.token_url.clone());
        let mut client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_auth_uri(auth_url)
            .set_token_uri(token_url)
            .set_auth_type(match resolved.client_auth {
                ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
                ClientAuth::None | ClientAuth::ClientSecretPost => AuthType::RequestBody,
            });
        if let Some(secret) = &client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            resolved: resolved.clone(),
            client,
            token_http: NestedTokenHttp {
                http: http.clone(),
                object: resolved.token_response_object.clone().unwrap_or_default(),
            },
            http,
            client_id: client_id.to_owned(),
            client_secret,
        })
    }

    /// The provider's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resolved catalog settings.
    pub fn resolved(&self) -> &ResolvedOAuth2 {
        &self.resolved
    }

    /// Prepares the authorization URL with a fresh PKCE verifier (S256) and a
    /// fresh 256-bit `state`.
    pub fn authorization_request(
        &self,
        redirect_uri: &str,
        scopes: &[String],
    ) -> Result<AuthorizationRequest, ConnectError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| ConnectError::Misconfigured {
                provider: self.name.clone(),
                what: "the redirect URI is invalid".to_owned(),
            })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new_random_len(32))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_challenge(challenge);
        let scopes: Vec<String> = if scopes.is_empty() {
            self.resolved.default_scopes.clone()
        } else {
            scopes.to_vec()
        };
        if self.resolved.scope_param == "scope"
            && matches!(self.resolved.scope_separator, ScopeSeparator::Space)
        {
            request = request.add_scopes(scopes.into_iter().map(Scope::new));
        } else if !scopes.is_empty() {
            request = request.add_extra_param(
                self.resolved.scope_param.clone(),
                self.resolved.join_scopes(&scopes),
            );
        }
        for (key, value) in &self.resolved.extra_authorization_params {
            request = request.add_extra_param(key.clone(), value.clone());
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url,
            state: SecretString::new(state.into_secret()),
            verifier,
            redirect_uri: redirect_uri.to_owned(),
        })
    }

    /// Exchanges the authorization code (with the PKCE verifier and the exact
    /// redirect URI) for tokens.
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
    ) -> Result<TokenSet, ConnectError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| ConnectError::Misconfigured {
                provider: self.name.clone(),
                what: "the redirect URI is invalid".to_owned(),
            })?;
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&self.token_http)
            .await
            .map_err(|e| self.token_error("sign-in code", e))?;
        self.to_token_set(response, None, "sign-in code")
    }

    /// Refreshes. A response without a refresh token keeps `previous`'s.
    pub async fn refresh(&self, previous: &TokenSet) -> Result<TokenSet, ConnectError> {
        let Some(refresh_token) = &previous.refresh_token else {
            return Err(ConnectError::NeedsReconnect {
                provider: self.name.clone(),
                reason: "the provider gave no refresh token".to_owned(),
            });
        };
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.token_http)
            .await
            .map_err(|e| self.token_error("token refresh", e))?;
        let mut fresh = self.to_token_set(response, Some(previous), "token refresh")?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = Some(refresh_token.duplicate());
        }
        if fresh.id_token.is_none() {
            fresh.id_token = previous.id_token.as_ref().map(SecretString::duplicate);
        }
        Ok(fresh)
    }

    /// Sends one token to the revocation endpoint (RFC 7009 form POST with
    /// the client's authentication, or the provider's variant).
    pub async fn revoke(
        &self,
        token: &SecretString,
        hint: &str,
    ) -> Result<RevocationOutcome, ConnectError> {
        let Some(revocation) = &self.resolved.revocation else {
            return Ok(RevocationOutcome::Refused {
                reason: "this provider has no revocation endpoint".to_owned(),
            });
        };
        let mut builder =
            http::Request::post(revocation.url.as_str()).header("Accept", "application/json");
        if matches!(revocation.method, RevocationMethod::GithubGrant) {
            return self
                .revoke_github_grant(revocation.url.as_str(), token)
                .await;
        }
        let body = match revocation.method {
            RevocationMethod::Rfc7009 => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("token", token.expose());
                form.append_pair("token_type_hint", hint);
                match (&self.client_secret, self.resolved.client_auth) {
                    (Some(secret), ClientAuth::ClientSecretBasic) => {
                        builder =
                            builder.header("Authorization", basic_auth(&self.client_id, secret));
                    }
                    (Some(secret), _) => {
                        form.append_pair("client_id", &self.client_id);
                        form.append_pair("client_secret", secret.expose());
                    }
                    (None, _) => {
                        form.append_pair("client_id", &self.client_id);
                    }
                }
                builder = builder.header("Content-Type", "application/x-www-form-urlencoded");
                form.finish().into_bytes()
            }
            RevocationMethod::Rfc7009Json => {
                builder = builder
                    .header("Content-Type", "application/json")
                    .header("Authorization", format!("Bearer {}", token.expose()));
                serde_json::json!({ "token": token.expose() })
                    .to_string()
                    .into_bytes()
            }
            RevocationMethod::BearerPost
            | RevocationMethod::BearerDelete
            | RevocationMethod::GithubGrant => {
                builder = builder.header("Authorization", format!("Bearer {}", token.expose()));
                Vec::new()
            }
        };
        if matches!(revocation.method, RevocationMethod::BearerDelete) {
            builder = builder.method(http::Method::DELETE);
        }
        let request = builder
            .body(body)
            .map_err(|_| ConnectError::Misconfigured {
                provider: self.name.clone(),
                what: "the revocation request could not be built".to_owned(),
            })?;
        Ok(self.revocation_outcome(request, &[]).await)
    }

    /// Sends a revocation request and reads its outcome; `gone` lists statuses that mean
    /// the token is already dead (counted as revoked, as RFC 7009 does).
    async fn revocation_outcome(
        &self,
        request: http::Request<Vec<u8>>,
        gone: &[u16],
    ) -> RevocationOutcome {
        let response = match self.http.send(request).await {
            Ok(response) => response,
            Err(e) => {
                return RevocationOutcome::RetryLater {
                    retry_after: None,
                    reason: format!("{} could not be reached ({e})", self.name),
                };
            }
        };
        let status = response.status();
        if status.is_success() || gone.contains(&status.as_u16()) {
            return RevocationOutcome::Revoked;
        }
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
            return RevocationOutcome::RetryLater {
                retry_after,
                reason: format!("{} answered {}", self.name, status.as_u16()),
            };
        }
        let error = serde_json::from_slice::<serde_json::Value>(response.body())
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(|e| e.as_str())
                    .map(sanitize_provider_text)
            })
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        RevocationOutcome::Refused {
            reason: format!("{} refused: {error}", self.name),
        }
    }

    /// GitHub's revocation: `DELETE {base}/{client_id}/grant`, authenticated as the app.
    /// 204 ends the grant; 404 means GitHub no longer knows the token (already dead).
    async fn revoke_github_grant(
        &self,
        base: &str,
        token: &SecretString,
    ) -> Result<RevocationOutcome, ConnectError> {
        let Some(secret) = &self.client_secret else {
            return Ok(RevocationOutcome::Refused {
                reason: format!(
                    "{} revokes only with the app's client secret, which is not configured",
                    self.name
                ),
            });
        };
        let client_id: String =
            url::form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect();
        let body = zeroize::Zeroizing::new(
            serde_json::json!({ "access_token": token.expose() }).to_string(),
        );
        let request =
            http::Request::delete(format!("{}/{client_id}/grant", base.trim_end_matches('/')))
                .header("Accept", "application/vnd.github+json")
                .header("Content-Type", "application/json")
                .header("Authorization", basic_auth(&self.client_id, secret))
                .body(body.as_bytes().to_vec())
                .map_err(|_| ConnectError::Misconfigured {
                    provider: self.name.clone(),
                    what: "the revocation request could not be built".to_owned(),
                })?;
        Ok(self.revocation_outcome(request, &[404]).await)
    }

    /// The catalog's "who am I" call with `tokens`, answered as it came.
    pub(crate) async fn whoami(
        &self,
        tokens: &TokenSet,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        // Dropbox's get_current_account and Slack's auth.test are POST-only RPC calls.
        let method = match self.resolved.whoami.method {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Post => http::Method::POST,
        };
        let authorization =
            zeroize::Zeroizing::new(format!("Bearer {}", tokens.access_token.expose()));
        let mut request = http::Request::builder()
            .method(method)
            .uri(self.resolved.whoami.url.as_str())
            .header("Authorization", authorization.as_str())
            .header("Accept", "application/json");
        for (name, value) in &self.resolved.api_headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| HttpError::NotSent(e.to_string()))?;
        self.http.send(request).await
    }

    /// Asks the provider who the tokens belong to, for "Connected as …".
    /// Failures are not fatal: the connection works without a label.
    pub async fn identity(&self, tokens: &TokenSet) -> Option<String> {
        let response = self.whoami(tokens).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(response.body()).ok()?;
        [
            "email",
            "preferred_username",
            "username",
            "login",
            "name",
            "sub",
            // Slack's auth.test
            "user",
        ]
        .iter()
        .find_map(|k| json.get(*k).and_then(|v| v.as_str()))
        .map(sanitize_provider_text)
        .filter(|s| !s.is_empty())
    }

    fn token_error(
        &self,
        request: &'static str,
        error: RequestTokenError<HttpError, BasicErrorResponse>,
    ) -> ConnectError {
        let provider = self.name.clone();
        match error {
            RequestTokenError::ServerResponse(response) => {
                let code = response.error().as_ref().to_owned();
                let description = response
                    .error_description()
                    .map(|d| sanitize_provider_text(d));
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
                        error: sanitize_provider_text(&code),
                        description,
                    }
                }
            }
            // An answer over the size cap is a bad answer, not a network failure: no retry.
            RequestTokenError::Request(HttpError::TooLarge) => ConnectError::InvalidTokenResponse {
                provider,
                request,
                reason: format!(
                    "the answer is larger than {} KiB, far more than any token response",
                    crate::http::MAX_BODY / 1024
                ),
            },
            RequestTokenError::Request(e) => ConnectError::Network {
                provider,
                maybe_sent: e.maybe_sent(),
                reason: e.to_string(),
            },
            // The body may hold tokens: report only where parsing failed.
            RequestTokenError::Parse(e, _body) => ConnectError::InvalidTokenResponse {
                provider,
                request,
                reason: format!("malformed JSON at {}", e.path()),
            },
            RequestTokenError::Other(reason) => ConnectError::InvalidTokenResponse {
                provider,
                request,
                reason: sanitize_provider_text(&reason),
            },
        }
    }

    /// The token-response normalizer and validator on raw bytes, as the token
    /// endpoint's answer would reach them (for the fuzzer and tests): the
    /// provider's nesting undone, RFC 6749 parsing, then every check.
    #[doc(hidden)]
    pub fn parse_token_response(&self, status: u16, body: &[u8]) -> Result<TokenSet, ConnectError> {
        let (status, body) = if self.token_http.object.is_empty() {
            (status, body.to_vec())
        } else {
            crate::nested_tokens::normalize(status, body, &self.token_http.object)
        };
        let body = zeroize::Zeroizing::new(body);
        if !(200..300).contains(&status) {
            return Err(ConnectError::TokenRequestRejected {
                provider: self.name.clone(),
                request: "sign-in code",
                error: format!("HTTP {status}"),
                description: None,
            });
        }
        let response: ProviderTokenResponse =
            serde_json::from_slice(&body).map_err(|e| ConnectError::InvalidTokenResponse {
                provider: self.name.clone(),
                request: "sign-in code",
                reason: format!("malformed JSON at line {} column {}", e.line(), e.column()),
            })?;
        self.to_token_set(response, None, "sign-in code")
    }

    /// Validates a token response and turns it into a [`TokenSet`].
    fn to_token_set(
        &self,
        response: ProviderTokenResponse,
        previous: Option<&TokenSet>,
        request: &'static str,
    ) -> Result<TokenSet, ConnectError> {
        let invalid = |reason: &str| ConnectError::InvalidTokenResponse {
            provider: self.name.clone(),
            request,
            reason: reason.to_owned(),
        };
        if !matches!(response.token_type(), BasicTokenType::Bearer) {
            return Err(invalid("the token type is not Bearer"));
        }
        let access = response.access_token().secret();
        if access.is_empty()
            || access.len() > MAX_TOKEN_LEN
            || access.chars().any(char::is_whitespace)
        {
            return Err(invalid("the access token is empty, too long or malformed"));
        }
        let refresh = response.refresh_token().map(|r| r.secret().as_str());
        if refresh.is_some_and(|r| r.is_empty() || r.len() > MAX_TOKEN_LEN) {
            return Err(invalid("the refresh token is empty or too long"));
        }
        let now = unix_now();
        let fields = &response.extra_fields().fields;
        let mut extras = BTreeMap::new();
        for name in &self.resolved.token_response_fields {
            match fields.get(name) {
                Some(serde_json::Value::String(s)) if s.len() <= 2048 => {
                    extras.insert(name.clone(), s.clone());
                }
                Some(serde_json::Value::Number(n)) => {
                    extras.insert(name.clone(), n.to_string());
                }
                Some(serde_json::Value::Bool(b)) => {
                    extras.insert(name.clone(), b.to_string());
                }
                // Small objects the catalog names (Slack's `team`) are kept as compact JSON.
                Some(v @ serde_json::Value::Object(_)) if v.to_string().len() <= 2048 => {
                    extras.insert(name.clone(), v.to_string());
                }
                Some(serde_json::Value::Null) | None => {}
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
        let expires_at = match response.expires_in().map(|d| d.as_secs()) {
            Some(secs) if secs > MAX_LIFETIME_SECS => {
                return Err(invalid("expires_in is out of range"));
            }
            Some(secs) => Some(issued_at.max(now).saturating_add(secs)),
            None => None,
        };
        let id_token = match fields.get("id_token") {
            Some(serde_json::Value::String(t)) if !t.is_empty() && t.len() <= MAX_TOKEN_LEN => {
                Some(SecretString::new(t.clone()))
            }
            _ => None,
        };
        let scopes = response
            .scopes()
            .map(|s| {
                s.iter()
                    .flat_map(|scope| scope.split(self.resolved.scope_separator.as_str()))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .or_else(|| previous.map(|p| p.scopes.clone()))
            .unwrap_or_default();
        Ok(TokenSet {
            access_token: SecretString::new(access.clone()),
            refresh_token: refresh.map(|r| SecretString::new(r.to_owned())),
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

fn basic_auth(client_id: &str, secret: &SecretString) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(client_id), encode(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier =
            PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        assert_eq!(
            challenge.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(challenge.method().as_str(), "S256");
    }

    #[test]
    fn basic_auth_encodes_like_rfc_6749() {
        assert_eq!(
            basic_auth("client", &SecretString::from("s3cret")),
            "Basic Y2xpZW50OnMzY3JldA=="
        );
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
