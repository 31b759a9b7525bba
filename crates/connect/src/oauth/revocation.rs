//! Revocation: RFC 7009's form POST, the JSON and bearer variants some providers
//! use, and GitHub's grant deletion. Sent directly rather than through `oauth2`
//! because the outcome (revoked, retry later, refused) depends on the HTTP
//! status and `Retry-After`.

use std::time::Duration;

use latchkey_catalog::model::{ClientAuth, RevocationMethod};
use latchkey_secret::SecretString;
use zeroize::Zeroizing;

use super::ProviderClient;
use super::wiped_bodies::{basic_auth, form_body, json_token_body};
use crate::ConnectError;
use crate::error::sanitize_provider_text;
use crate::http::{MAX_BODY, bearer_header};

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

impl ProviderClient {
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
}
