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
//! (see `token_response.rs`). Revocation is sent directly too, because
//! its outcome depends on the HTTP status and `Retry-After`. `plain` PKCE is
//! not even compiled in (oauth2's `pkce-plain` feature is off).
//!
//! This file holds the [`ProviderClient`] itself; each of its jobs lives in a
//! submodule that adds methods to it:
//!
//! - `authorization`: the authorization URL with PKCE and `state`.
//! - `token_request`: the code exchange and the refresh, sent as `oauth2` sent them.
//! - `wiped_bodies`: form, JSON and `Basic` buffers sized up front and wiped on drop.
//! - `token_validation`: a token endpoint's answer checked and turned into a [`TokenSet`].
//! - `revocation`: RFC 7009 and the providers' own revocation variants.
//! - `identity`: the catalog's "who am I" call, for "Connected as …".
//!
//! [`TokenSet`]: latchkey_vault::TokenSet

use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_catalog::ResolvedOAuth2;
use latchkey_secret::SecretString;
use oauth2::{AuthUrl, ClientId};

use crate::ConnectError;
use crate::http::HttpClient;

mod authorization;
mod identity;
mod revocation;
#[cfg(test)]
mod test_support;
mod token_request;
mod token_validation;
mod wiped_bodies;

pub use authorization::AuthorizationRequest;
use authorization::OAuthClient;
pub use revocation::RevocationOutcome;

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
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
