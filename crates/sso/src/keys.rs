//! The identity provider's signing keys (its JWKS), fetched when first needed and again
//! when a token names a key id not seen yet: providers rotate keys by publishing the new
//! one before signing with it. A refetch happens at most once a minute, so tokens with
//! made-up key ids cannot turn the server into a JWKS hammer.

use std::sync::Arc;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use url::Url;

use crate::{Clock, SsoError};

/// The largest JWKS read: real ones hold a handful of keys.
const MAX_DOCUMENT: usize = 256 * 1024;
/// The shortest time between two fetches caused by unknown key ids.
const REFETCH_AFTER_SECS: i64 = 60;

struct Fetched {
    keys: Vec<Jwk>,
    at: i64,
}

/// One provider's signing keys.
pub struct KeySet {
    http: reqwest::Client,
    url: Url,
    clock: Arc<dyn Clock>,
    fetched: tokio::sync::Mutex<Option<Fetched>>,
}

impl KeySet {
    pub fn new(http: reqwest::Client, url: Url, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            url,
            clock,
            fetched: tokio::sync::Mutex::new(None),
        }
    }

    /// The key that verifies a token whose header names `kid` (or, with no `kid`, the
    /// provider's only signing key).
    pub async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, SsoError> {
        let mut fetched = self.fetched.lock().await;
        let now = self.clock.now();
        let stale = fetched
            .as_ref()
            .is_none_or(|f| find(&f.keys, kid).is_none() && now - f.at >= REFETCH_AFTER_SECS);
        if stale {
            *fetched = Some(Fetched {
                keys: self.fetch().await?,
                at: now,
            });
        }
        let keys = fetched.as_ref().map(|f| f.keys.as_slice()).unwrap_or(&[]);
        let jwk = find(keys, kid).ok_or_else(|| SsoError::UnknownKey {
            kid: kid.unwrap_or("(none)").to_owned(),
        })?;
        DecodingKey::from_jwk(jwk).map_err(|e| SsoError::Keys {
            url: self.url.to_string(),
            reason: format!("the key {} cannot be used ({e})", kid.unwrap_or("(none)")),
        })
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, SsoError> {
        let failed = |reason: String| SsoError::Keys {
            url: self.url.to_string(),
            reason,
        };
        let response = self
            .http
            .get(self.url.clone())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| failed(format!("no answer ({e})")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP {}", status.as_u16())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(format!("the answer broke off ({e})")))?;
        if body.len() > MAX_DOCUMENT {
            return Err(failed("the document is too large".to_owned()));
        }
        // Keys of kinds this build cannot read are skipped, not fatal: a provider may
        // publish several.
        let raw: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| failed(format!("not JSON ({e})")))?;
        let keys: Vec<Jwk> = raw
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| failed("no keys in it".to_owned()))?
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| {
                !matches!(
                    k.common.public_key_use,
                    Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
                )
            })
            .collect();
        Ok(keys)
    }
}

/// The key named `kid`, or with no `kid` the only key there is.
fn find<'a>(keys: &'a [Jwk], kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}
