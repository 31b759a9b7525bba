//! OpenID Connect Discovery: the identity provider's own description of its endpoints,
//! read from `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0,
//! §4). The document must name exactly the issuer it was fetched for, or anyone able to
//! serve a document at a lookalike address could stand in for the provider (§4.3).

use serde::Deserialize;
use url::Url;

use crate::SsoError;

/// The largest configuration document read: real ones are a few KiB.
const MAX_DOCUMENT: usize = 256 * 1024;

/// What the sign-in flows need from the provider's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// Empty when the provider does not say (PKCE is still sent).
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: the provider adds `iss` to its authorization responses, which must then
    /// be checked.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// Whether `url` may be used for the provider's endpoints: https, or http on this
/// computer (a development or test provider).
fn acceptable(url: &Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http"
            && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
}

/// Reads and checks the configuration of the provider whose issuer is `issuer`.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, SsoError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let failed = |reason: String| SsoError::Discovery {
        url: url.clone(),
        reason,
    };
    let parsed = Url::parse(&url).map_err(|e| failed(format!("not a URL ({e})")))?;
    if !acceptable(&parsed) {
        return Err(failed(
            "the issuer must be an https URL (http only on this computer)".to_owned(),
        ));
    }
    let response = http
        .get(parsed)
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
    let discovery: Discovery = serde_json::from_slice(&body)
        .map_err(|e| failed(format!("not an OpenID configuration ({e})")))?;
    if discovery.issuer != issuer {
        return Err(SsoError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: discovery.issuer,
        });
    }
    for (name, endpoint) in [
        ("authorization_endpoint", &discovery.authorization_endpoint),
        ("token_endpoint", &discovery.token_endpoint),
        ("jwks_uri", &discovery.jwks_uri),
    ] {
        if !acceptable(endpoint) {
            return Err(failed(format!("its {name} is not https ({endpoint})")));
        }
    }
    if !discovery.code_challenge_methods_supported.is_empty()
        && !discovery
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    {
        return Err(failed(
            "the provider does not support PKCE with S256, which Latchkey requires".to_owned(),
        ));
    }
    Ok(discovery)
}
