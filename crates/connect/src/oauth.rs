//! One provider's OAuth 2.0 endpoints: the authorization URL (PKCE S256 and a
//! 256-bit `state`), code exchange, refresh, RFC 7009 revocation and the
//! "who am I" call, all through the injected [`HttpClient`].
//!
//! `oauth2` builds the authorization URL (PKCE S256, `state`). The token
//! requests are built here, to the byte as `oauth2` 5 sent them, because
//! `oauth2` keeps the code, the verifier, the client secret and the answer in
//! plain `String`s and buffers it never wipes: here the form, the
//! `Authorization` header and the answer live in buffers wiped when dropped,
//! and the tokens move from the answer into [`SecretString`]s without a copy
//! (see [`crate::token_response`]). Revocation is sent directly too, because
//! its outcome depends on the HTTP status and `Retry-After`. `plain` PKCE is
//! not even compiled in (oauth2's `pkce-plain` feature is off).

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
    BasicTokenResponse,
};
use oauth2::{
    AuthUrl, ClientId, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardRevocableToken,
};
use url::Url;
use zeroize::Zeroizing;

use crate::ConnectError;
use crate::error::sanitize_provider_text;
use crate::http::{HttpClient, HttpError, MAX_BODY, bearer_header, secret_header};
use crate::token_response::{self, Answer, Json, TokenFields, take_member};

/// Largest token accepted from a provider (JWT access tokens can be long).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The longest `expires_in` believed: ten years.
const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// `oauth2`'s client, used for the authorization URL only: it holds neither the
/// token endpoint nor the client secret.
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
>;

/// The grant of one token request.
enum Grant<'a> {
    /// RFC 6749 §4.1.3 with RFC 7636's verifier.
    Code {
        code: &'a SecretString,
        verifier: &'a str,
        redirect_uri: &'a str,
    },
    /// RFC 6749 §6.
    Refresh { refresh_token: &'a SecretString },
}

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
    /// The object a token response nests its tokens in (Slack); empty for none.
    token_object: String,
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
        let client =
            oauth2::Client::new(ClientId::new(client_id.to_owned())).set_auth_uri(auth_url);
        Ok(Self {
            name: name.to_owned(),
            resolved: resolved.clone(),
            client,
            token_object: resolved.token_response_object.clone().unwrap_or_default(),
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
        if RedirectUrl::new(redirect_uri.to_owned()).is_err() {
            return Err(ConnectError::Misconfigured {
                provider: self.name.clone(),
                what: "the redirect URI is invalid".to_owned(),
            });
        }
        // oauth2's verifier is a plain String: moved (not copied) into one wiped on drop.
        let verifier = Zeroizing::new(verifier.into_secret());
        let request = self.token_request(&Grant::Code {
            code,
            verifier: &verifier,
            redirect_uri,
        })?;
        drop(verifier);
        self.token_call("sign-in code", request, None).await
    }

    /// Refreshes. A response without a refresh token keeps `previous`'s.
    pub async fn refresh(&self, previous: &TokenSet) -> Result<TokenSet, ConnectError> {
        let Some(refresh_token) = &previous.refresh_token else {
            return Err(ConnectError::NeedsReconnect {
                provider: self.name.clone(),
                reason: "the provider gave no refresh token".to_owned(),
            });
        };
        let request = self.token_request(&Grant::Refresh { refresh_token })?;
        let mut fresh = self
            .token_call("token refresh", request, Some(previous))
            .await?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = Some(refresh_token.duplicate());
        }
        if fresh.id_token.is_none() {
            fresh.id_token = previous.id_token.as_ref().map(SecretString::duplicate);
        }
        Ok(fresh)
    }

    /// The token request, as `oauth2` 5 sent it: a form POST accepting JSON, the
    /// grant's fields, then the client's authentication (RFC 6749 §2.3.1: HTTP Basic
    /// with the id and secret form-encoded, or both in the body, or the id alone for
    /// a public client), then the redirect URI. Form and header are wiped when dropped.
    fn token_request(
        &self,
        grant: &Grant<'_>,
    ) -> Result<http::Request<Zeroizing<Vec<u8>>>, ConnectError> {
        let mut fields: Vec<(&str, &str)> = match grant {
            Grant::Code { code, verifier, .. } => vec![
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("code_verifier", verifier),
            ],
            Grant::Refresh { refresh_token } => vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
        };
        let unbuildable = || ConnectError::Misconfigured {
            provider: self.name.clone(),
            what: "the token request could not be built".to_owned(),
        };
        let mut authorization = None;
        match (&self.client_secret, self.resolved.client_auth) {
            (Some(secret), ClientAuth::ClientSecretBasic) => {
                authorization =
                    Some(basic_auth(&self.client_id, secret).map_err(|_| unbuildable())?);
            }
            // A secret the admin configured is sent even for `none`, as oauth2 did.
            (secret, _) => {
                fields.push(("client_id", &self.client_id));
                if let Some(secret) = secret {
                    fields.push(("client_secret", secret.expose()));
                }
            }
        }
        if let Grant::Code { redirect_uri, .. } = grant {
            fields.push(("redirect_uri", redirect_uri));
        }
        let mut builder = http::Request::post(self.resolved.token_url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if let Some(authorization) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, authorization);
        }
        builder.body(form_body(&fields)).map_err(|_| unbuildable())
    }

    /// Sends a token request and reads the answer, which stays in a wiped buffer.
    async fn token_call(
        &self,
        request_name: &'static str,
        request: http::Request<Zeroizing<Vec<u8>>>,
        previous: Option<&TokenSet>,
    ) -> Result<TokenSet, ConnectError> {
        let provider = self.name.clone();
        let response = self
            .http
            .send_secret(request, MAX_BODY)
            .await
            .map_err(|e| match e {
                // An answer over the size cap is a bad answer, not a network failure: no retry.
                HttpError::TooLarge => ConnectError::InvalidTokenResponse {
                    provider,
                    request: request_name,
                    reason: format!(
                        "the answer is larger than {} KiB, far more than any token response",
                        MAX_BODY / 1024
                    ),
                },
                e => ConnectError::Network {
                    provider,
                    maybe_sent: e.maybe_sent(),
                    reason: e.to_string(),
                },
            })?;
        self.token_answer(
            request_name,
            response.status().as_u16(),
            response.headers().get(http::header::CONTENT_TYPE),
            response.body(),
            previous,
        )
    }

    /// Reads a token endpoint's answer: the provider's nesting undone, RFC 6749
    /// parsing, then every check. The one reader of token answers: the exchange,
    /// the refresh and the fuzzer all come here.
    fn token_answer(
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
        let unbuildable = || ConnectError::Misconfigured {
            provider: self.name.clone(),
            what: "the revocation request could not be built".to_owned(),
        };
        // Bodies and headers holding the token or the secret are wiped when dropped.
        let body = match revocation.method {
            RevocationMethod::Rfc7009 => {
                let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
                match (&self.client_secret, self.resolved.client_auth) {
                    (Some(secret), ClientAuth::ClientSecretBasic) => {
                        let authorization =
                            basic_auth(&self.client_id, secret).map_err(|_| unbuildable())?;
                        builder = builder.header("Authorization", authorization);
                    }
                    (Some(secret), _) => {
                        form.push(("client_id", &self.client_id));
                        form.push(("client_secret", secret.expose()));
                    }
                    (None, _) => {
                        form.push(("client_id", &self.client_id));
                    }
                }
                builder = builder.header("Content-Type", "application/x-www-form-urlencoded");
                form_body(&form)
            }
            RevocationMethod::Rfc7009Json => {
                builder = builder.header("Content-Type", "application/json").header(
                    "Authorization",
                    bearer_header(token).map_err(|_| unbuildable())?,
                );
                json_token_body("token", token).ok_or_else(unbuildable)?
            }
            RevocationMethod::BearerPost
            | RevocationMethod::BearerDelete
            | RevocationMethod::GithubGrant => {
                builder = builder.header(
                    "Authorization",
                    bearer_header(token).map_err(|_| unbuildable())?,
                );
                Zeroizing::new(Vec::new())
            }
        };
        if matches!(revocation.method, RevocationMethod::BearerDelete) {
            builder = builder.method(http::Method::DELETE);
        }
        let request = builder.body(body).map_err(|_| unbuildable())?;
        Ok(self.revocation_outcome(request, &[]).await)
    }

    /// Sends a revocation request and reads its outcome; `gone` lists statuses that mean
    /// the token is already dead (counted as revoked, as RFC 7009 does).
    async fn revocation_outcome(
        &self,
        request: http::Request<Zeroizing<Vec<u8>>>,
        gone: &[u16],
    ) -> RevocationOutcome {
        let response = match self.http.send_secret(request, MAX_BODY).await {
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
        let unbuildable = || ConnectError::Misconfigured {
            provider: self.name.clone(),
            what: "the revocation request could not be built".to_owned(),
        };
        let client_id: String =
            url::form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect();
        let body = json_token_body("access_token", token).ok_or_else(unbuildable)?;
        let authorization = basic_auth(&self.client_id, secret).map_err(|_| unbuildable())?;
        let request =
            http::Request::delete(format!("{}/{client_id}/grant", base.trim_end_matches('/')))
                .header("Accept", "application/vnd.github+json")
                .header("Content-Type", "application/json")
                .header("Authorization", authorization)
                .body(body)
                .map_err(|_| unbuildable())?;
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
            bearer_header(&tokens.access_token).map_err(|e| HttpError::NotSent(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(self.resolved.whoami.url.as_str())
            .header("Authorization", authorization)
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

/// An `application/x-www-form-urlencoded` body (the `url` crate's encoding),
/// written into one allocation sized up front: no reallocation leaves a copy of
/// a secret behind, and the body is wiped when dropped.
fn form_body(fields: &[(&str, &str)]) -> Zeroizing<Vec<u8>> {
    let length = fields
        .iter()
        .map(|(name, value)| form_encoded_len(name) + 1 + form_encoded_len(value))
        .sum::<usize>()
        + fields.len().saturating_sub(1);
    let mut body = Zeroizing::new(Vec::with_capacity(length));
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        form_encode_into(&mut body, name);
        body.push(b'=');
        form_encode_into(&mut body, value);
    }
    body
}

fn form_encoded_len(text: &str) -> usize {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum()
}

fn form_encode_into(out: &mut Vec<u8>, text: &str) {
    for piece in url::form_urlencoded::byte_serialize(text.as_bytes()) {
        out.extend_from_slice(piece.as_bytes());
    }
}

/// `{"<name>":"<token>"}`, as `serde_json` writes it, in a buffer sized for the
/// worst escaping up front (so it never reallocates) and wiped when dropped.
fn json_token_body(name: &str, token: &SecretString) -> Option<Zeroizing<Vec<u8>>> {
    let worst = 6usize
        .checked_mul(name.len() + token.len())?
        .checked_add(8)?;
    let mut body = Zeroizing::new(Vec::with_capacity(worst));
    body.push(b'{');
    serde_json::to_writer(&mut *body, name).ok()?;
    body.push(b':');
    serde_json::to_writer(&mut *body, token.expose()).ok()?;
    body.push(b'}');
    Some(body)
}

/// `Authorization: Basic …` with the client id and secret each form-encoded
/// first (RFC 6749 §2.3.1), built in buffers sized up front and wiped.
fn basic_auth(
    client_id: &str,
    secret: &SecretString,
) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    const PREFIX: &[u8] = b"Basic ";
    let mut raw = Zeroizing::new(Vec::with_capacity(
        form_encoded_len(client_id) + 1 + form_encoded_len(secret.expose()),
    ));
    form_encode_into(&mut raw, client_id);
    raw.push(b':');
    form_encode_into(&mut raw, secret.expose());
    let encoded = base64::encoded_len(raw.len(), true).unwrap_or(usize::MAX);
    let mut value = Zeroizing::new(vec![0u8; PREFIX.len().saturating_add(encoded)]);
    value[..PREFIX.len()].copy_from_slice(PREFIX);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(&raw[..], &mut value[PREFIX.len()..])
        .unwrap_or(0);
    value.truncate(PREFIX.len() + written);
    secret_header(value)
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
            basic_auth("client", &SecretString::from("s3cret")).unwrap(),
            "Basic Y2xpZW50OnMzY3JldA=="
        );
    }

    /// The demo provider, with the client authentication and secret under test.
    fn demo_client(auth: ClientAuth, secret: Option<&str>) -> ProviderClient {
        let mut resolved = latchkey_catalog::Catalog::builtin()
            .unwrap()
            .resolve(
                "demo-oauth",
                &latchkey_catalog::Environment::Production,
                &latchkey_catalog::Params::from([(
                    "issuer".to_owned(),
                    "http://127.0.0.1:9".to_owned(),
                )]),
            )
            .unwrap()
            .oauth2()
            .unwrap()
            .clone();
        resolved.client_auth = auth;
        resolved.client_secret_required = false;
        resolved.token_url = Url::parse("http://127.0.0.1:9/oauth/token?tenant=a%20b").unwrap();
        ProviderClient::new(
            "Demo OAuth",
            &resolved,
            "client id+1/é",
            secret.map(SecretString::from),
            HttpClient::new().unwrap(),
        )
        .unwrap()
    }

    /// What oauth2 5 put on the wire for the same grant, with the client set up
    /// as this crate used to set it up, caught by an injected HTTP client.
    fn oauth2_request(
        provider: &ProviderClient,
        secret: Option<&str>,
        refresh: Option<&str>,
    ) -> oauth2::HttpRequest {
        use oauth2::{AuthType, AuthorizationCode, ClientSecret, RefreshToken, TokenUrl};
        let mut client = oauth2::basic::BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(provider.resolved.token_url.clone()))
            .set_auth_type(match provider.resolved.client_auth {
                ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
                ClientAuth::None | ClientAuth::ClientSecretPost => AuthType::RequestBody,
            });
        if let Some(secret) = secret {
            client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        let seen = std::sync::Mutex::new(None);
        let record = |request: oauth2::HttpRequest| {
            *seen.lock().unwrap() = Some(request);
            Err::<oauth2::HttpResponse, _>(std::io::Error::other("recorded"))
        };
        let _ = match refresh {
            Some(token) => client
                .exchange_refresh_token(&RefreshToken::new(token.to_owned()))
                .request(&record),
            None => client
                .exchange_code(AuthorizationCode::new(CODE.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(VERIFIER.to_owned()))
                .set_redirect_uri(Cow::Owned(RedirectUrl::new(REDIRECT.to_owned()).unwrap()))
                .request(&record),
        };
        seen.into_inner().unwrap().unwrap()
    }

    const CODE: &str = "c/o+d=e&f%g h";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const REDIRECT: &str = "http://127.0.0.1:17171/callback/demo-oauth";
    const REFRESH: &str = "r t%+&=/x";

    /// Method, URI, headers in order, body: all of a request that reaches the wire.
    fn wire(
        request: &http::Request<impl AsRef<[u8]>>,
    ) -> (String, String, Vec<(String, String)>, String) {
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        (
            request.method().to_string(),
            request.uri().to_string(),
            request
                .headers()
                .iter()
                .map(|(name, value)| (name.to_string(), text(value.as_bytes())))
                .collect(),
            text(request.body().as_ref()),
        )
    }

    #[test]
    fn token_requests_are_byte_for_byte_what_oauth2_sent() {
        let secrets = [None, Some("s3cr&t:+/é %")];
        let modes = [
            ClientAuth::None,
            ClientAuth::ClientSecretPost,
            ClientAuth::ClientSecretBasic,
        ];
        for auth in modes {
            for secret in secrets {
                let provider = demo_client(auth, secret);
                let code = SecretString::from(CODE);
                let ours = provider
                    .token_request(&Grant::Code {
                        code: &code,
                        verifier: VERIFIER,
                        redirect_uri: REDIRECT,
                    })
                    .unwrap();
                let theirs = oauth2_request(&provider, secret, None);
                assert_eq!(wire(&ours), wire(&theirs), "code, {auth:?}, {secret:?}");

                let refresh_token = SecretString::from(REFRESH);
                let ours = provider
                    .token_request(&Grant::Refresh {
                        refresh_token: &refresh_token,
                    })
                    .unwrap();
                let theirs = oauth2_request(&provider, secret, Some(REFRESH));
                assert_eq!(wire(&ours), wire(&theirs), "refresh, {auth:?}, {secret:?}");
            }
        }
    }

    #[test]
    fn the_authorization_header_is_marked_sensitive() {
        let provider = demo_client(ClientAuth::ClientSecretBasic, Some("s3cret"));
        let refresh_token = SecretString::from(REFRESH);
        let request = provider
            .token_request(&Grant::Refresh {
                refresh_token: &refresh_token,
            })
            .unwrap();
        let authorization = request.headers().get(http::header::AUTHORIZATION).unwrap();
        assert!(authorization.is_sensitive());
    }

    #[test]
    fn a_form_body_is_sized_up_front_and_never_reallocated() {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", "a b+c/d%e&f=g é"),
            ("client_secret", "\u{0}\u{7f}~*-._"),
        ];
        let body = form_body(&fields);
        let mut expected = url::form_urlencoded::Serializer::new(String::new());
        expected.extend_pairs(fields);
        assert_eq!(body.as_slice(), expected.finish().as_bytes());
        // Exactly the allocation made before writing: it never had to grow.
        assert_eq!(body.capacity(), body.len());
    }

    #[test]
    fn a_json_token_body_is_what_serde_json_writes_without_reallocating() {
        for token in ["plain", "quo\"te\\back", "ctl\u{1}\n", "é✓"] {
            let body = json_token_body("token", &SecretString::from(token)).unwrap();
            assert_eq!(
                body.as_slice(),
                serde_json::json!({ "token": token }).to_string().as_bytes()
            );
            assert_eq!(body.capacity(), 6 * ("token".len() + token.len()) + 8);
        }
    }

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
