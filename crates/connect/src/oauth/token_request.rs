//! The code exchange and the refresh: token requests built here, to the byte as
//! `oauth2` 5 sent them, so that the code, the verifier and the client secret
//! only ever sit in buffers wiped when dropped.

use latchkey_catalog::model::ClientAuth;
use latchkey_secret::SecretString;
use latchkey_vault::TokenSet;
use oauth2::{PkceCodeVerifier, RedirectUrl};
use zeroize::Zeroizing;

use super::ProviderClient;
use super::wiped_bodies::{basic_auth, form_body};
use crate::ConnectError;
use crate::http::{HttpError, MAX_BODY};

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

impl ProviderClient {
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
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use oauth2::ClientId;

    use super::super::test_support::demo_client;
    use super::*;

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
}
