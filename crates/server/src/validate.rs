//! Validation of the identifiers clients and admins send, and the seam where
//! the provider catalog plugs in.

use crate::error::ApiError;
use latchkey_protocol::ids::{EnvironmentName, IntegrationId, VaultKeyId};

/// Checks an integration id against the provider catalog. The server binary uses
/// the built-in catalog (`crate::catalog::ProviderCatalog`), which rejects unknown
/// providers and environments; [`WellFormedIds`], which accepts any well-formed id,
/// serves one-shot commands (admin, migrate) and tests that invent integrations.
/// What the catalog says of one placeholder, for asking a user its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderInfo {
    pub description: String,
    pub example: Option<String>,
    /// Filled by a custom environment's host (a Salesforce login host): the user's
    /// value is the connection's environment.
    pub custom_host: bool,
}

pub trait CatalogLookup: Send + Sync + 'static {
    /// `Err(message)` if the catalog has no such integration or it cannot run in `environment`.
    fn check(&self, integration_id: &str, environment: &str) -> Result<(), String>;

    /// The OAuth authorization server (issuer URL) of this integration in
    /// `environment`, for "test connection" (RFC 8414 discovery). Without a
    /// catalog only a custom login host is known: it is its own issuer.
    fn issuer(&self, _integration_id: &str, environment: &str) -> Option<String> {
        (environment != "production" && environment != "sandbox")
            .then(|| format!("https://{environment}"))
    }

    /// One of the provider's placeholders, for asking a user its value at connect.
    /// Without a catalog: none.
    fn placeholder(&self, _provider: &str, _name: &str) -> Option<PlaceholderInfo> {
        None
    }

    /// The connection `provider` in `environment` with `params` as the catalog's rules
    /// normalise it (hosts lower-cased): the environment and every placeholder's value.
    /// `Err(message)` when the rules refuse it (a missing value, a host outside the
    /// provider's domains, credentials in a host). Without a catalog: a custom host
    /// must parse, and the values are as given.
    fn check_connection(
        &self,
        _provider: &str,
        environment: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<(String, std::collections::BTreeMap<String, String>), String> {
        latchkey_catalog::Environment::parse(environment)
            .map(|env| (env.to_string(), params.clone()))
            .map_err(|e| e.to_string())
    }

    /// The provider's name in the catalog ("Salesforce"), what a connection the admin
    /// did not name is called. Without a catalog: none (the id stands in).
    fn name(&self, _provider: &str) -> Option<String> {
        None
    }

    /// Every integration the catalog offers, as the console's integrations page
    /// shows them (see `ProviderCatalog`). Without a catalog: none.
    fn entries(&self) -> Vec<latchkey_protocol::admin::CatalogEntry> {
        Vec::new()
    }

    /// How an API key is written into `header` for this provider, as the text
    /// before and after the key (PagerDuty: `Token token=` and nothing). `None`:
    /// the proxy's default (`Bearer <key>` in `authorization`, else the bare key).
    fn api_key_format(&self, _integration_id: &str, _header: &str) -> Option<(String, String)> {
        None
    }

    /// The host an API-key integration's base URL must have (the catalog's), or `None`
    /// when the catalog does not know the provider. Without a catalog: `None`.
    fn api_key_host(&self, _integration_id: &str) -> Option<String> {
        None
    }

    /// Whether the provider lets an admin register `localhost` instead of
    /// `127.0.0.1` in the loopback redirect URI. Without a catalog: no.
    fn allows_localhost_redirect(&self, _integration_id: &str) -> bool {
        false
    }

    /// Whether the provider is a development one (a local test server such as the
    /// demo OAuth provider), offered only where the deployment opts in
    /// (`allow_development_providers`). Without a catalog: no.
    fn is_development(&self, _integration_id: &str) -> bool {
        false
    }

    /// How many live authorizations the provider keeps per user and OAuth client
    /// before it silently revokes the oldest (Salesforce: 5). Without a catalog: no cap.
    fn approval_limit(&self, _provider: &str) -> Option<u32> {
        None
    }

    /// The home-screen widgets the catalog offers for this provider (widget ids).
    /// Without a catalog: none.
    fn widgets(&self, _integration_id: &str) -> Vec<String> {
        Vec::new()
    }

    /// The provider with every endpoint filled in for `environment` and `params`, for the
    /// OAuth flows the server runs itself (org connections). Without a catalog: `None`.
    fn resolve(
        &self,
        _provider: &str,
        _environment: &str,
        _params: &std::collections::BTreeMap<String, String>,
    ) -> Option<latchkey_catalog::ResolvedProvider> {
        None
    }
}

/// Accepts every syntactically valid integration id.
#[derive(Debug, Default, Clone, Copy)]
pub struct WellFormedIds;

impl CatalogLookup for WellFormedIds {
    fn check(&self, _integration_id: &str, _environment: &str) -> Result<(), String> {
        Ok(())
    }
}

/// `^[a-z0-9][a-z0-9-]{0,62}$` (the protocol's [`IntegrationId::parse`]).
pub fn integration_id(id: &str) -> Result<(), ApiError> {
    IntegrationId::parse(id).map(drop).map_err(ApiError::from)
}

/// `production`, `sandbox`, or a custom login hostname such as `acme.my.salesforce.com`
/// (the protocol's [`EnvironmentName::parse`]).
pub fn environment(env: &str) -> Result<(), ApiError> {
    EnvironmentName::parse(env)
        .map(drop)
        .map_err(ApiError::from)
}

/// `^[A-Za-z0-9_-]{1,128}$`: the id of the device-side vault key that sealed a record
/// (the protocol's [`VaultKeyId::parse`]).
pub fn vault_key_id(id: &str) -> Result<(), ApiError> {
    VaultKeyId::parse(id).map(drop).map_err(ApiError::from)
}

/// Bidirectional controls (embeddings, overrides, isolates, marks) that can make text
/// read differently from what it is (an email or name that displays as another).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Characters with no place in an email address shown to admins: controls (NUL,
/// terminal escapes), bidi controls, and invisible format characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
        )
}

/// The one form of an email address, so one person is one user: trimmed, Unicode NFC,
/// lower case; refused when it holds a control, bidi or invisible character or is not
/// a plausible address.
pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    if raw.chars().any(is_hidden) {
        return Err(ApiError::unprocessable(
            "invalid_email",
            "The email address holds a control or invisible character; type it again.",
        ));
    }
    let normal: String = raw.trim().nfc().collect::<String>().to_lowercase();
    email(&normal)?;
    Ok(normal)
}

/// A plausible email address (normalised by [`normalize_email`]).
pub fn email(email: &str) -> Result<(), ApiError> {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && !email.chars().any(is_hidden)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_email",
            "Give an email address such as ada@example.com.",
        ))
    }
}

/// A display or device name: 1-200 characters, no control characters and no bidi
/// controls (which can make a name read as another one in the console).
pub fn name(field: &'static str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty()
        || value.chars().count() > 200
        || value.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        Err(ApiError::unprocessable(
            "invalid_name",
            format!("{field} must be 1-200 printable characters, without direction overrides."),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_ids() {
        for ok in ["salesforce", "google-workspace", "x", "a1"] {
            assert!(integration_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "Salesforce", "a_b", "a/b", &"a".repeat(64)] {
            assert!(integration_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environments() {
        for ok in [
            "production",
            "sandbox",
            "acme.my.salesforce.com",
            "login.example.org",
        ] {
            assert!(environment(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "staging",
            "Acme.com",
            "a..b",
            "-a.com",
            "a.com/",
            "http://a.com",
            "a.com:443",
        ] {
            assert!(environment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_names() {
        assert!(email("ada@example.com").is_ok());
        assert!(email("ada@localhost").is_err());
        assert!(email("a b@example.com").is_err());
        assert!(name("display_name", "Ada Lovelace").is_ok());
        assert!(name("display_name", " ").is_err());
        assert!(name("display_name", "a\u{7}").is_err());
        assert!(name("display_name", "Ada \u{202E}ecalevoL").is_err());
        assert!(name("display_name", "Zoë 👩\u{200D}💻").is_ok());
        assert!(normalize_email("nul\u{0}@example.com").is_err());
        assert!(normalize_email("ada\u{1b}[31m@example.com").is_err());
        assert!(normalize_email("ada\u{200B}@example.com").is_err());
        assert_eq!(
            normalize_email("  José@Example.COM ").unwrap(),
            normalize_email("jose\u{301}@example.com").unwrap()
        );
    }
}
