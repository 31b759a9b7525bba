//! Calls made with the user's token, and the token handed to scripts.
//!
//! [`Connector::call`] is the one function every caller uses: it attaches the
//! token, sends, and when the provider refuses the token (a 401, or the
//! provider's own signal from the catalog) refreshes once and retries once.
//! The refresh is keyed on the refused token, so ten callers refused with the
//! same token cause one refresh. A token only ever goes to a host the catalog
//! names for the provider.

use std::collections::BTreeMap;

use latchkey_keychain::Keychain;
use latchkey_secret::SecretString;
use latchkey_vault::TokenSet;

use crate::api::{self, ApiRequest, ApiResponse};
use crate::engine::{IDENTITY_KEY, Resolved, Seen};
use crate::http::HttpError;
use crate::oauth::unix_now;
use crate::{ConnectError, ConnectOptions, Connector, Integration};

/// Largest API answer read into memory (a Salesforce query page of 2,000
/// records fits many times over).
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// The token and what a script needs beside it (`latchkey token --json`).
/// `Debug` never shows the token.
pub struct TokenInfo {
    /// The bearer token.
    pub access_token: SecretString,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds since the epoch when it expires; `None` when the provider does
    /// not say (Salesforce): then `latchkey api` refreshes on a 401.
    pub expires_at: Option<u64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Where the provider's API lives for this user (Salesforce's org).
    pub instance_url: Option<String>,
    /// The API base calls are joined to, when the catalog describes the API.
    pub api_base_url: Option<String>,
    /// Other non-secret token-response fields the catalog keeps.
    pub fields: BTreeMap<String, String>,
    /// Who the tokens belong to, when the provider said.
    pub identity: Option<String>,
}

impl std::fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInfo")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

impl<K: Keychain> Connector<K> {
    /// The current tokens, refreshed first when they expire within the skew.
    async fn usable_tokens(
        &self,
        r: &Resolved,
        options: &ConnectOptions,
    ) -> Result<TokenSet, ConnectError> {
        let (version, tokens) = self.current(r)?;
        if tokens.needs_refresh(unix_now(), options.refresh_skew.as_secs()) {
            return Ok(self
                .refresh_slot(r, Seen::Version(version), options)
                .await?
                .1);
        }
        Ok(tokens)
    }

    /// Tokens for a program outside Latchkey (`token`, `exec`, Git), which cannot
    /// refresh on a 401 by itself. When the provider never said when the token
    /// expires (Salesforce), one cheap call (the catalog's who-am-I) checks it
    /// first, and a refused token is refreshed (single flight, keyed on it).
    async fn live_tokens(
        &self,
        r: &Resolved,
        options: &ConnectOptions,
    ) -> Result<TokenSet, ConnectError> {
        let tokens = self.usable_tokens(r, options).await?;
        if tokens.expires_at.is_some() || !self.refused(r, &tokens).await {
            return Ok(tokens);
        }
        tracing::info!(integration = %r.slot.integration(), "the saved token was refused; refreshing");
        Ok(self
            .refresh_slot(r, Seen::Token(tokens.access_token.duplicate()), options)
            .await?
            .1)
    }

    /// Whether the provider refuses `tokens` on the catalog's probe (or its
    /// who-am-I call). A failure to ask (network) is not a refusal: the token is
    /// handed over as it is.
    async fn refused(&self, r: &Resolved, tokens: &TokenSet) -> bool {
        if let Some(api) = &r.api
            && let Some(probe) = &api.probe_path
        {
            return match self.send(r, &ApiRequest::get(probe.clone()), tokens).await {
                Ok(answer) => api::is_rejection(api, answer.status, &answer.body),
                Err(_) => false,
            };
        }
        match r.client.whoami(tokens).await {
            Ok(answer) => match &r.api {
                Some(api) => api::is_rejection(api, answer.status().as_u16(), answer.body()),
                None => answer.status() == http::StatusCode::UNAUTHORIZED,
            },
            Err(_) => false,
        }
    }

    /// The access token with its non-secret details, checked with the provider
    /// when it carries no expiry. `force_refresh` refreshes first (single
    /// flight: callers that saw the same token share one refresh).
    pub async fn token_info(
        &self,
        integration: &Integration,
        options: &ConnectOptions,
        force_refresh: bool,
    ) -> Result<TokenInfo, ConnectError> {
        let r = self.resolve(integration)?;
        self.token_info_of(&r, options, force_refresh).await
    }

    async fn token_info_of(
        &self,
        r: &Resolved,
        options: &ConnectOptions,
        force_refresh: bool,
    ) -> Result<TokenInfo, ConnectError> {
        let tokens = if force_refresh {
            let (_, seen) = self.current(r)?;
            self.refresh_slot(r, Seen::Token(seen.access_token), options)
                .await?
                .1
        } else {
            self.live_tokens(r, options).await?
        };
        let api_base_url = r
            .api
            .as_ref()
            .map(|api| api.base_url_for(&r.name, &api::token_fields(&tokens)))
            .transpose()?
            .map(|u| u.as_str().trim_end_matches('/').to_owned());
        let mut fields = tokens.extras.clone();
        let identity = fields.remove(IDENTITY_KEY);
        Ok(TokenInfo {
            access_token: tokens.access_token.duplicate(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scopes: tokens.scopes.clone(),
            instance_url: tokens.instance_url.clone(),
            api_base_url,
            fields,
            identity,
        })
    }

    /// Sends `request` with the user's token. When the provider refuses the
    /// token, refreshes once (shared with every caller refused with the same
    /// token) and retries once. Any answer is returned, errors included; only
    /// failures to get one are `Err`.
    pub async fn call(
        &self,
        integration: &Integration,
        request: &ApiRequest,
        options: &ConnectOptions,
    ) -> Result<ApiResponse, ConnectError> {
        request.check()?;
        let r = self.resolve(integration)?;
        let Some(api) = &r.api else {
            return Err(ConnectError::NoApi {
                provider: r.name.clone(),
            });
        };
        let tokens = self.usable_tokens(&r, options).await?;
        let response = self.send(&r, request, &tokens).await?;
        if !api::is_rejection(api, response.status, &response.body) {
            return Ok(response);
        }
        tracing::info!(integration = %integration.id, status = response.status, "the provider refused the token; refreshing once");
        let (_, fresh) = self
            .refresh_slot(&r, Seen::Token(tokens.access_token.duplicate()), options)
            .await?;
        self.send(&r, request, &fresh).await
    }

    /// One send: the target checked against the catalog's hosts for these
    /// tokens (an `instance_url` may change on refresh), the token attached.
    async fn send(
        &self,
        r: &Resolved,
        request: &ApiRequest,
        tokens: &TokenSet,
    ) -> Result<ApiResponse, ConnectError> {
        let Some(api) = &r.api else {
            return Err(ConnectError::NoApi {
                provider: r.name.clone(),
            });
        };
        let base = api.base_url_for(&r.name, &api::token_fields(tokens))?;
        let url = api::resolve_target(&r.name, api, &base, &request.target)?;
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(url.as_str());
        let has = |name: &str| {
            request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        for (name, value) in &r.oauth.api_headers {
            if !has(name) {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        if !has("accept")
            && !r
                .oauth
                .api_headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("accept"))
        {
            builder = builder.header("Accept", "application/json");
        }
        if request.body.is_some() && !has("content-type") {
            builder = builder.header("Content-Type", "application/json");
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let authorization = crate::http::bearer_header(&tokens.access_token).map_err(|_| {
            ConnectError::InvalidRequest {
                reason: "the access token cannot be sent in a header".to_owned(),
            }
        })?;
        builder = builder.header(http::header::AUTHORIZATION, authorization);
        let outgoing = builder
            .body(request.body.clone().unwrap_or_default())
            .map_err(|e| ConnectError::InvalidRequest {
                reason: e.to_string(),
            })?;
        let answer = self
            .http
            .send_capped(outgoing, MAX_API_BODY)
            .await
            .map_err(|e| match e {
                HttpError::TooLarge => ConnectError::InvalidRequest {
                    reason: format!(
                        "{}'s answer is larger than {} MiB; ask for less (a smaller page size or fewer fields)",
                        r.name,
                        MAX_API_BODY / (1024 * 1024)
                    ),
                },
                other => ConnectError::Network {
                    provider: r.name.clone(),
                    maybe_sent: other.maybe_sent(),
                    reason: other.to_string(),
                },
            })?;
        let (parts, body) = answer.into_parts();
        Ok(ApiResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            url,
        })
    }

    /// The next page of `response` under the provider's scheme, as a request
    /// for [`Connector::call`]; `None` at the end. A link to a host the catalog
    /// does not name is refused (the token would go with it).
    pub fn next_page(
        &self,
        integration: &Integration,
        previous: &ApiRequest,
        response: &ApiResponse,
    ) -> Result<Option<ApiRequest>, ConnectError> {
        let r = self.resolve(integration)?;
        let Some(api) = &r.api else {
            return Ok(None);
        };
        let Some(next) = api::next_page(api.pagination, &response.url, response)? else {
            return Ok(None);
        };
        let tokens = self.current(&r)?.1;
        let base = api.base_url_for(&r.name, &api::token_fields(&tokens))?;
        if !api.allows(&base, &next) {
            return Err(ConnectError::HostNotAllowed {
                provider: r.name.clone(),
                url: next.origin().ascii_serialization(),
            });
        }
        Ok(Some(ApiRequest {
            method: previous.method.clone(),
            target: next.to_string(),
            headers: previous.headers.clone(),
            body: previous.body.clone(),
        }))
    }

    /// The environment `latchkey exec` gives a command: the catalog's variable
    /// names for this integration, with fresh values.
    pub async fn exec_env(
        &self,
        integration: &Integration,
        options: &ConnectOptions,
    ) -> Result<Vec<(String, SecretString)>, ConnectError> {
        let r = self.resolve(integration)?;
        let Some(api) = &r.api else {
            return Err(ConnectError::NoApi { provider: r.name });
        };
        let info = self.token_info_of(&r, options, false).await?;
        let mut out = Vec::new();
        for (name, source) in &api.env {
            let value = match source.as_str() {
                "access_token" => Some(info.access_token.duplicate()),
                "api_base_url" => info.api_base_url.clone().map(SecretString::new),
                "instance_url" => info.instance_url.clone().map(SecretString::new),
                field => info.fields.get(field).cloned().map(SecretString::new),
            };
            if let Some(value) = value {
                out.push((name.clone(), value));
            }
        }
        Ok(out)
    }

    /// The Git credential for `host`, when this integration's catalog entry
    /// declares that host: the user name and a fresh token as the password.
    pub async fn git_credential(
        &self,
        integration: &Integration,
        host: &str,
        options: &ConnectOptions,
    ) -> Result<Option<(String, SecretString)>, ConnectError> {
        let r = self.resolve(integration)?;
        let Some(api) = &r.api else {
            return Ok(None);
        };
        let host = host.to_ascii_lowercase();
        if !api.git_hosts.contains(&host) {
            return Ok(None);
        }
        let username = api
            .git_username
            .clone()
            .unwrap_or_else(|| "oauth2".to_owned());
        let tokens = self.live_tokens(&r, options).await?;
        Ok(Some((username, tokens.access_token.duplicate())))
    }
}
