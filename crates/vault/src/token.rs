//! The token set an OAuth connection holds, and its sealed plaintext form.

use std::collections::BTreeMap;
use std::fmt;

use latchkey_secret::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::VaultError;

/// What a provider gave us for one connection.
///
/// Secret fields are [`SecretString`]s: `Debug` shows `[redacted]`, and the
/// type has no `Serialize`, so it cannot be written anywhere but into an
/// envelope (through `TokenSet::to_plaintext`, used only by the vault).
pub struct TokenSet {
    /// The bearer credential for API calls.
    pub access_token: SecretString,
    /// The long-lived credential; absent when the provider issued none.
    pub refresh_token: Option<SecretString>,
    /// The OpenID Connect ID token, when `openid` was granted.
    pub id_token: Option<SecretString>,
    /// Usually `Bearer`.
    pub token_type: String,
    /// Granted scopes, in the provider's order.
    pub scopes: Vec<String>,
    /// Seconds since the Unix epoch when the access token expires; `None` when
    /// the provider does not say (Salesforce), so a 401 triggers the refresh.
    pub expires_at: Option<u64>,
    /// Seconds since the Unix epoch when the tokens were issued.
    pub issued_at: u64,
    /// Where API calls go (Salesforce `instance_url`), when the provider says.
    pub instance_url: Option<String>,
    /// Other non-secret response fields the catalog asks to keep (Salesforce
    /// `id`, `signature`; Slack `team`), as strings.
    pub extras: BTreeMap<String, String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("token_type", &self.token_type)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("instance_url", &self.instance_url)
            .field("extras", &self.extras)
            .finish()
    }
}

/// The plaintext layout inside an envelope (JSON). Borrowed for sealing so the
/// secrets are not copied into intermediate `String`s.
#[derive(Serialize)]
struct PlainRef<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    token_type: &'a str,
    scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    issued_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_url: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extras: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainOwned {
    access_token: SecretString,
    #[serde(default)]
    refresh_token: Option<SecretString>,
    #[serde(default)]
    id_token: Option<SecretString>,
    token_type: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<u64>,
    issued_at: u64,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    extras: BTreeMap<String, String>,
}

/// Counts bytes so the plaintext buffer can be allocated once at its final size.
struct CountingWriter(usize);

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TokenSet {
    /// True when the access token is known to expire within `skew_secs` of
    /// `now`, or `now` is before `issued_at` (the clock moved backwards, so
    /// the expiry cannot be trusted).
    pub fn needs_refresh(&self, now: u64, skew_secs: u64) -> bool {
        if now < self.issued_at {
            return true;
        }
        match self.expires_at {
            Some(expires_at) => now.saturating_add(skew_secs) >= expires_at,
            None => false,
        }
    }

    fn as_plain(&self) -> PlainRef<'_> {
        PlainRef {
            access_token: self.access_token.expose(),
            refresh_token: self.refresh_token.as_ref().map(SecretString::expose),
            id_token: self.id_token.as_ref().map(SecretString::expose),
            token_type: &self.token_type,
            scopes: &self.scopes,
            expires_at: self.expires_at,
            issued_at: self.issued_at,
            instance_url: self.instance_url.as_deref(),
            extras: &self.extras,
        }
    }

    /// The JSON plaintext that gets sealed, in a buffer allocated once at its
    /// exact size and wiped on drop.
    pub(crate) fn to_plaintext(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let plain = self.as_plain();
        let mut counter = CountingWriter(0);
        serde_json::to_writer(&mut counter, &plain).map_err(|e| VaultError::PlaintextInvalid {
            reason: e.to_string(),
        })?;
        let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *buf, &plain).map_err(|e| VaultError::PlaintextInvalid {
            reason: e.to_string(),
        })?;
        Ok(buf)
    }

    /// Parses an opened envelope's plaintext.
    pub(crate) fn from_plaintext(bytes: &[u8]) -> Result<TokenSet, VaultError> {
        let plain: PlainOwned =
            serde_json::from_slice(bytes).map_err(|e| VaultError::PlaintextInvalid {
                // serde_json's message names the field and position, never the value.
                reason: format!("{} at column {}", classify(&e), e.column()),
            })?;
        Ok(TokenSet {
            access_token: plain.access_token,
            refresh_token: plain.refresh_token,
            id_token: plain.id_token,
            token_type: plain.token_type,
            scopes: plain.scopes,
            expires_at: plain.expires_at,
            issued_at: plain.issued_at,
            instance_url: plain.instance_url,
            extras: plain.extras,
        })
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected field or type",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TokenSet {
        TokenSet {
            access_token: "00D5g000004!AQ4AQ.secret-access".into(),
            refresh_token: Some("5Aep861secret-refresh".into()),
            id_token: None,
            token_type: "Bearer".into(),
            scopes: vec!["api".into(), "refresh_token".into()],
            expires_at: None,
            issued_at: 1_700_000_000,
            instance_url: Some("https://acme.my.salesforce.com".into()),
            extras: BTreeMap::from([(
                "id".into(),
                "https://login.salesforce.com/id/00D/005".into(),
            )]),
        }
    }

    #[test]
    fn debug_redacts_every_secret() {
        let printed = format!("{:?}", sample());
        assert!(!printed.contains("secret-access"), "{printed}");
        assert!(!printed.contains("secret-refresh"), "{printed}");
        assert!(printed.contains("acme.my.salesforce.com"));
    }

    #[test]
    fn plaintext_round_trip_is_exact_size() {
        let tokens = sample();
        let plain = tokens.to_plaintext().unwrap();
        assert_eq!(
            plain.len(),
            plain.capacity(),
            "allocated once at final size"
        );
        let back = TokenSet::from_plaintext(&plain).unwrap();
        assert_eq!(back.access_token.expose(), tokens.access_token.expose());
        assert_eq!(
            back.refresh_token.as_ref().map(SecretString::expose),
            Some("5Aep861secret-refresh")
        );
        assert_eq!(back.scopes, tokens.scopes);
        assert_eq!(back.instance_url, tokens.instance_url);
        assert_eq!(back.extras, tokens.extras);
    }

    #[test]
    fn plaintext_errors_do_not_echo_values() {
        let err = TokenSet::from_plaintext(br#"{"access_token":"LEAKME","bogus":1}"#).unwrap_err();
        assert!(!err.to_string().contains("LEAKME"), "{err}");
        assert_eq!(err.code(), "vault.plaintext_invalid");
    }

    #[test]
    fn refresh_decision_follows_expiry_skew_and_clock() {
        let mut t = sample();
        assert!(
            !t.needs_refresh(1_700_000_100, 30),
            "no expiry: refresh on 401 only"
        );
        t.expires_at = Some(1_700_003_600);
        assert!(!t.needs_refresh(1_700_000_100, 30));
        assert!(t.needs_refresh(1_700_003_580, 30), "inside the skew margin");
        assert!(t.needs_refresh(1_699_999_000, 30), "clock set backwards");
    }
}
