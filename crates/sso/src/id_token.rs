//! ID token validation (OpenID Connect Core 1.0, §3.1.3.7): the signature with the
//! provider's published key, then every claim with this crate's own clock, so each
//! refusal has its own error and tests can move time.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::{KeySet, SsoError};

/// Seconds since the epoch; injected so tests can move time.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The signing algorithms accepted: asymmetric only. `none` and the HMAC family (keyed
/// with the client secret, which the server shares with whoever can read its config)
/// are refused.
const ACCEPTED: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How far the provider's clock and ours may disagree.
const SKEW_SECS: i64 = 60;

/// Who signed in, from a validated ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdClaims {
    /// The provider's stable id for the person (`sub`).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the email (`email_verified`; absent: false).
    pub email_verified: bool,
    pub name: Option<String>,
    /// The `groups` claim, when the provider sends one.
    pub groups: Vec<String>,
    /// Every claim, for an admin's claim mapping.
    pub claims: Value,
}

/// Validates ID tokens from one provider for one client.
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    keys: Arc<KeySet>,
    clock: Arc<dyn Clock>,
}

impl IdTokenValidator {
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        keys: Arc<KeySet>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            keys,
            clock,
        }
    }

    /// The claims of `id_token` when it is signed by the provider, is for this client,
    /// is current, and carries `nonce` (the one this sign-in sent).
    pub async fn validate(&self, id_token: &str, nonce: &str) -> Result<IdClaims, SsoError> {
        let malformed = |reason: &str| SsoError::Malformed {
            reason: reason.to_owned(),
        };
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| malformed("it is not a signed JWT"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(SsoError::Algorithm {
                alg: format!("{:?}", header.alg),
            });
        }
        let key = self.keys.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Value>(id_token, &key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                    | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => SsoError::BadSignature,
                    _ => malformed("its claims cannot be read"),
                }
            })?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);

        let iss = text("iss").ok_or_else(|| malformed("it has no issuer (iss)"))?;
        if iss != self.issuer {
            return Err(SsoError::WrongIssuer {
                expected: self.issuer.clone(),
                found: iss,
            });
        }
        let audiences: Vec<String> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let wrong_audience = || SsoError::WrongAudience {
            expected: self.client_id.clone(),
        };
        if !audiences.contains(&self.client_id) {
            return Err(wrong_audience());
        }
        // Several audiences: the authorized party must be this client (Core §3.1.3.7.5).
        if audiences.len() > 1 && text("azp").as_deref() != Some(self.client_id.as_str()) {
            return Err(wrong_audience());
        }
        let now = self.clock.now();
        let exp = number("exp").ok_or_else(|| malformed("it has no expiry (exp)"))?;
        if now > exp + SKEW_SECS {
            return Err(SsoError::Expired);
        }
        let iat = number("iat").ok_or_else(|| malformed("it has no issue time (iat)"))?;
        if iat > now + SKEW_SECS || number("nbf").is_some_and(|nbf| nbf > now + SKEW_SECS) {
            return Err(SsoError::IssuedInFuture);
        }
        if text("nonce").as_deref() != Some(nonce) || nonce.is_empty() {
            return Err(SsoError::Nonce);
        }
        let subject = text("sub").ok_or_else(|| malformed("it has no subject (sub)"))?;
        Ok(IdClaims {
            subject,
            email: text("email"),
            email_verified: claims
                .get("email_verified")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            name: text("name"),
            groups: claims
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| {
                    g.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            claims,
        })
    }
}
