//! The authorization request: the URL for the system browser with a fresh PKCE
//! S256 challenge and a 256-bit `state`, built by `oauth2`'s client. Kept apart
//! because it is the one step `oauth2` still does for us, and it sends nothing.

use std::borrow::Cow;

use latchkey_catalog::model::ScopeSeparator;
use latchkey_secret::SecretString;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenResponse,
};
use oauth2::{
    CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, StandardRevocableToken,
};
use url::Url;

use super::ProviderClient;
use crate::ConnectError;

/// `oauth2`'s client, used for the authorization URL only: it holds neither the
/// token endpoint nor the client secret.
pub(super) type OAuthClient = oauth2::Client<
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

impl ProviderClient {
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
}
