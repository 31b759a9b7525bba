//! Turning a provider and an environment into concrete, checked endpoints.

use std::collections::BTreeMap;

use url::Url;

use crate::environment::{
    Environment, EnvironmentKind, check_label, check_origin, check_segment, check_url_security,
    validate_host,
};
use crate::error::{CatalogError, shorten};
use crate::model::{
    Api, ApiErrors, ApiKey, AuthType, BodyFormat, ClientAuth, ExpiresIn, HttpMethod, OAuth2,
    Pagination, Pkce, Placeholder, PlaceholderKind, Provider, Redirect, RefreshRotation,
    RevocationMethod, ScopeSeparator,
};
use crate::template::Template;

/// Parameters for placeholders, by name (`{"subdomain": "acme"}`).
pub type Params = BTreeMap<String, String>;

/// A provider with every endpoint filled in for one environment and checked: absolute,
/// https (or http to a loopback IP literal), no `localhost`, no leftover placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProvider {
    /// The provider id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The icon name.
    pub icon: String,
    /// A development-only provider.
    pub development: bool,
    /// The environment resolved for (custom hosts normalised to lower case).
    pub environment: Environment,
    /// The value used for each placeholder.
    pub values: BTreeMap<String, String>,
    /// The authentication settings with concrete URLs.
    pub auth: ResolvedAuth,
    /// Calls made with the user's token, when the catalog describes them.
    pub api: Option<ResolvedApi>,
}

/// Calls made with the user's token, resolved for one environment; field meanings as in
/// [`Api`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedApi {
    /// The base URL with the declared placeholders filled in; token-response fields are
    /// still `{name}` (see [`ResolvedApi::base_url_for`]).
    pub base_url: Template,
    /// Extra hosts a token may be sent to (exact, or `.suffix`).
    pub allowed_hosts: Vec<String>,
    /// The error body shape.
    pub errors: ApiErrors,
    /// Error codes that mean the token was refused.
    pub rejected_errors: Vec<String>,
    /// The pagination scheme.
    pub pagination: Pagination,
    /// `latchkey exec` variables: name -> source.
    pub env: BTreeMap<String, String>,
    /// Git hosts the token answers for.
    pub git_hosts: Vec<String>,
    /// The Git user name.
    pub git_username: Option<String>,
    /// The path that checks a token without expiry.
    pub probe_path: Option<String>,
}

impl ResolvedApi {
    /// Whether the base URL's host is fixed by the catalog and the admin (not taken from
    /// the token response).
    pub fn base_is_fixed(&self) -> bool {
        self.base_url.placeholders().next().is_none()
    }

    /// The base URL, completed with the token-response fields (`instance_url`) and checked:
    /// https (or loopback http), and a host from the token response must be allowed.
    pub fn base_url_for(
        &self,
        provider: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<Url, CatalogError> {
        let fixed = self.base_is_fixed();
        let text = self
            .base_url
            .fill(fields)
            .map_err(|name| CatalogError::InvalidUrl {
                provider: provider.to_owned(),
                field: "api.base_url".to_owned(),
                reason: format!("the token response has no {name}; reconnect to get one"),
            })?;
        let url = Url::parse(text.trim_end_matches('/')).map_err(|e| CatalogError::InvalidUrl {
            provider: provider.to_owned(),
            field: "api.base_url".to_owned(),
            reason: e.to_string(),
        })?;
        check_url_security(&url).map_err(|reason| CatalogError::InsecureUrl {
            provider: provider.to_owned(),
            field: "api.base_url".to_owned(),
            url: url.to_string(),
            reason,
        })?;
        if !fixed && !self.host_listed(&url) {
            return Err(CatalogError::InsecureUrl {
                provider: provider.to_owned(),
                field: "api.base_url".to_owned(),
                url: url.origin().ascii_serialization(),
                reason: "the host is not one the catalog allows for this provider".to_owned(),
            });
        }
        Ok(url)
    }

    /// Whether a token may be sent to `url`, given the completed base URL: secure, and the
    /// base's own origin when the catalog fixes it, or a host the catalog lists.
    pub fn allows(&self, base: &Url, url: &Url) -> bool {
        if check_url_security(url).is_err()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        (self.base_is_fixed() && url.origin() == base.origin()) || self.host_listed(url)
    }

    fn host_listed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        self.allowed_hosts
            .iter()
            .any(|pattern| host_matches(&host, pattern))
    }
}

/// `pattern` is an exact host, or `.suffix` matching the suffix's subdomains and the suffix
/// itself without its dot.
pub fn host_matches(host: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('.') {
        Some(bare) => host == bare || host.ends_with(pattern),
        None => host == pattern,
    }
}

impl ResolvedProvider {
    /// The OAuth 2.0 settings, if this is an OAuth provider.
    pub fn oauth2(&self) -> Option<&ResolvedOAuth2> {
        match &self.auth {
            ResolvedAuth::OAuth2(o) => Some(o),
            ResolvedAuth::ApiKey(_) => None,
        }
    }

    /// The API-key settings, if this is an API-key provider.
    pub fn api_key(&self) -> Option<&ResolvedApiKey> {
        match &self.auth {
            ResolvedAuth::ApiKey(k) => Some(k),
            ResolvedAuth::OAuth2(_) => None,
        }
    }
}

/// Resolved authentication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedAuth {
    /// OAuth 2.0.
    OAuth2(Box<ResolvedOAuth2>),
    /// API key.
    ApiKey(Box<ResolvedApiKey>),
}

/// OAuth 2.0 settings with concrete URLs; field meanings as in [`OAuth2`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOAuth2 {
    /// Authorization endpoint.
    pub authorization_url: Url,
    /// Token endpoint.
    pub token_url: Url,
    /// OpenID Connect userinfo endpoint.
    pub userinfo_url: Option<Url>,
    /// RFC 7662 introspection endpoint.
    pub introspection_url: Option<Url>,
    /// Issuer identifier, exactly as it must compare (no normalisation).
    pub issuer: Option<String>,
    /// The provider always sends RFC 9207 `iss`.
    pub iss_in_authorization_response: bool,
    /// Default scopes.
    pub default_scopes: Vec<String>,
    /// Scope separator.
    pub scope_separator: ScopeSeparator,
    /// Query parameter for scopes.
    pub scope_param: String,
    /// PKCE support.
    pub pkce: Pkce,
    /// Client authentication method.
    pub client_auth: ClientAuth,
    /// Whether a client secret is required.
    pub client_secret_required: bool,
    /// Token request body encoding.
    pub token_request_body: BodyFormat,
    /// Object holding the tokens in the token response.
    pub token_response_object: Option<String>,
    /// Extra token-response fields to keep.
    pub token_response_fields: Vec<String>,
    /// Token-response field with the identity URL.
    pub identity_token_field: Option<String>,
    /// Whether `expires_in` is given.
    pub expires_in: ExpiresIn,
    /// Refresh-token rotation.
    pub refresh_rotation: RefreshRotation,
    /// Extra authorization parameters.
    pub extra_authorization_params: BTreeMap<String, String>,
    /// Extra API headers.
    pub api_headers: BTreeMap<String, String>,
    /// Revocation endpoint.
    pub revocation: Option<ResolvedRevocation>,
    /// The "who am I" call.
    pub whoami: ResolvedEndpoint,
    /// The loopback redirect.
    pub redirect: Redirect,
}

impl ResolvedOAuth2 {
    /// Joins scopes with this provider's separator.
    pub fn join_scopes<S: AsRef<str>>(&self, scopes: &[S]) -> String {
        scopes
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(self.scope_separator.as_str())
    }
}

/// A resolved revocation endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRevocation {
    /// The URL.
    pub url: Url,
    /// How it is called.
    pub method: RevocationMethod,
}

/// A resolved HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEndpoint {
    /// The URL.
    pub url: Url,
    /// The method.
    pub method: HttpMethod,
}

/// API-key settings with concrete URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedApiKey {
    /// Header name.
    pub header: String,
    /// Header value format, with `{key}`.
    pub format: String,
    /// Base URL.
    pub base_url: Url,
    /// The test call, with its full URL.
    pub test: ResolvedEndpoint,
    /// Path prefixes a proxy may forward to.
    pub allowed_path_prefixes: Vec<String>,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
}

impl ResolvedApiKey {
    /// The text before and after `{key}` in the header value, so the caller can build the
    /// header around a secret it keeps in its own zeroizing type.
    pub fn format_parts(&self) -> (&str, &str) {
        self.format
            .split_once("{key}")
            .unwrap_or((&self.format, ""))
    }

    /// Whether a server proxy may forward a request for `path` (the path part only, no
    /// query). Refuses anything that could climb out of an allowed prefix: `..` or `.`
    /// segments, encoded dots or slashes, backslashes, empty segments.
    pub fn allows_path(&self, path: &str) -> bool {
        if !path.starts_with('/') || path.contains(['\\', '?', '#']) || path.contains("//") {
            return false;
        }
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
            return false;
        }
        if path.split('/').any(|seg| seg == "." || seg == "..") {
            return false;
        }
        path_under_any(path, &self.allowed_path_prefixes)
    }
}

/// Whether `path` is one of `prefixes` or under one by whole segments (`/v1/` covers
/// `/v1/models`; `/abilities` covers `/abilities/x` but not `/abilitiesx`): how an API
/// key's calls, the server's proxies' allow-lists and search's `api_paths` are checked.
pub fn path_under_any(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|prefix| path_has_prefix(path, prefix))
}

/// `prefix` matches whole segments: `/v1/` matches `/v1/models`, `/abilities` matches
/// `/abilities` and `/abilities/x` but not `/abilitiesx`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Fills in a provider's endpoints for `environment` and checks every result.
///
/// `params` gives values for placeholders the environment does not fix (a Zendesk
/// subdomain, a Microsoft tenant); unknown names are refused so a typo is caught.
pub fn resolve(
    provider: &Provider,
    environment: &Environment,
    params: &Params,
) -> Result<ResolvedProvider, CatalogError> {
    let kind = environment.kind();
    if !provider.environments.contains(&kind) {
        return Err(CatalogError::UnsupportedEnvironment {
            provider: provider.id.clone(),
            environment: kind.to_string(),
            supported: provider
                .environments
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if let Some(unknown) = params
        .keys()
        .find(|name| !provider.placeholders.contains_key(*name))
    {
        return Err(CatalogError::UnknownParam {
            provider: provider.id.clone(),
            name: shorten(unknown),
            expected: provider
                .placeholders
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }

    // A custom host is checked (and lower-cased) before anything else uses it.
    let environment = match environment {
        Environment::Custom(host) => Environment::Custom(validate_host(host)?),
        other => other.clone(),
    };
    let mut values = BTreeMap::new();
    for (name, placeholder) in &provider.placeholders {
        let fixed = match (&environment, placeholder) {
            (Environment::Custom(host), p) if p.custom_host => Some(host.clone()),
            (Environment::Production, p) => p.production.clone(),
            (Environment::Sandbox, p) => p.sandbox.clone(),
            _ => None,
        };
        let value = match (fixed, params.get(name)) {
            (Some(_), Some(_)) => {
                return Err(CatalogError::ParamFixedByEnvironment {
                    provider: provider.id.clone(),
                    name: name.clone(),
                    environment: kind.to_string(),
                });
            }
            (Some(v), None) => v,
            (None, Some(v)) => v.clone(),
            (None, None) => match &placeholder.default {
                Some(v) => v.clone(),
                None => {
                    return Err(CatalogError::MissingParam {
                        provider: provider.id.clone(),
                        name: name.clone(),
                        description: placeholder.description.clone(),
                        example: placeholder.example.clone(),
                    });
                }
            },
        };
        let value = check_value(&provider.id, name, placeholder, &value)?;
        values.insert(name.clone(), value);
    }

    let auth = match provider.auth {
        AuthType::Oauth2 => {
            let o = provider
                .oauth2
                .as_ref()
                .ok_or_else(|| CatalogError::invalid(&provider.id, "oauth2", "missing"))?;
            ResolvedAuth::OAuth2(Box::new(resolve_oauth2(&provider.id, o, &values)?))
        }
        AuthType::ApiKey => {
            let k = provider
                .api_key
                .as_ref()
                .ok_or_else(|| CatalogError::invalid(&provider.id, "api_key", "missing"))?;
            ResolvedAuth::ApiKey(Box::new(resolve_api_key(&provider.id, k, &values)?))
        }
    };

    let api = provider.api.as_ref().map(|a| resolve_api(a, &values));
    Ok(ResolvedProvider {
        api,
        id: provider.id.clone(),
        name: provider.name.clone(),
        icon: provider.icon.clone(),
        development: provider.development,
        environment,
        values,
        auth,
    })
}

/// Validates one placeholder value by its kind and suffix rule; returns it normalised.
pub(crate) fn check_value(
    provider: &str,
    name: &str,
    placeholder: &Placeholder,
    value: &str,
) -> Result<String, CatalogError> {
    let invalid = |reason: String| CatalogError::InvalidParam {
        provider: provider.to_owned(),
        name: name.to_owned(),
        value: shorten(value),
        reason,
    };
    let value = match placeholder.kind {
        PlaceholderKind::Host => validate_host(value)?,
        PlaceholderKind::Label => {
            let lower = value.to_ascii_lowercase();
            check_label(&lower).map_err(invalid)?;
            lower
        }
        PlaceholderKind::Segment => {
            check_segment(value).map_err(invalid)?;
            value.to_owned()
        }
        PlaceholderKind::Origin => check_origin(value).map_err(invalid)?,
    };
    if !placeholder.allowed_suffixes.is_empty()
        && !placeholder
            .allowed_suffixes
            .iter()
            .any(|s| value.ends_with(s.as_str()) || s.strip_prefix('.') == Some(value.as_str()))
    {
        return Err(CatalogError::InvalidParam {
            provider: provider.to_owned(),
            name: name.to_owned(),
            value: shorten(&value),
            reason: format!(
                "it must end with {}",
                placeholder.allowed_suffixes.join(" or ")
            ),
        });
    }
    Ok(value)
}

fn render_url(
    provider: &str,
    field: &str,
    template: &Template,
    values: &BTreeMap<String, String>,
) -> Result<Url, CatalogError> {
    let text = render_text(provider, field, template, values)?;
    let url = Url::parse(&text).map_err(|e| CatalogError::InvalidUrl {
        provider: provider.to_owned(),
        field: field.to_owned(),
        reason: e.to_string(),
    })?;
    if url.fragment().is_some() {
        return Err(CatalogError::InvalidUrl {
            provider: provider.to_owned(),
            field: field.to_owned(),
            reason: "it has a #fragment".to_owned(),
        });
    }
    check_url_security(&url).map_err(|reason| CatalogError::InsecureUrl {
        provider: provider.to_owned(),
        field: field.to_owned(),
        url: url.to_string(),
        reason,
    })?;
    Ok(url)
}

fn render_text(
    provider: &str,
    field: &str,
    template: &Template,
    values: &BTreeMap<String, String>,
) -> Result<String, CatalogError> {
    let text = template
        .render(values)
        .map_err(|name| CatalogError::InvalidUrl {
            provider: provider.to_owned(),
            field: field.to_owned(),
            reason: format!("placeholder {{{name}}} is not declared"),
        })?;
    if text.contains(['{', '}']) {
        return Err(CatalogError::InvalidUrl {
            provider: provider.to_owned(),
            field: field.to_owned(),
            reason: "a placeholder is left unresolved".to_owned(),
        });
    }
    Ok(text)
}

fn resolve_oauth2(
    id: &str,
    o: &OAuth2,
    values: &BTreeMap<String, String>,
) -> Result<ResolvedOAuth2, CatalogError> {
    let url = |field: &str, t: &Template| render_url(id, field, t, values);
    let issuer = match &o.issuer {
        Some(t) => {
            // Checked as a URL, kept as the exact text.
            url("oauth2.issuer", t)?;
            Some(render_text(id, "oauth2.issuer", t, values)?)
        }
        None => None,
    };
    Ok(ResolvedOAuth2 {
        authorization_url: url("oauth2.authorization_url", &o.authorization_url)?,
        token_url: url("oauth2.token_url", &o.token_url)?,
        userinfo_url: o
            .userinfo_url
            .as_ref()
            .map(|t| url("oauth2.userinfo_url", t))
            .transpose()?,
        introspection_url: o
            .introspection_url
            .as_ref()
            .map(|t| url("oauth2.introspection_url", t))
            .transpose()?,
        issuer,
        iss_in_authorization_response: o.iss_in_authorization_response,
        default_scopes: o.default_scopes.clone(),
        scope_separator: o.scope_separator,
        scope_param: o.scope_param.clone(),
        pkce: o.pkce,
        client_auth: o.client_auth,
        client_secret_required: o.client_secret_required,
        token_request_body: o.token_request_body,
        token_response_object: o.token_response_object.clone(),
        token_response_fields: o.token_response_fields.clone(),
        identity_token_field: o.identity_token_field.clone(),
        expires_in: o.expires_in,
        refresh_rotation: o.refresh_rotation,
        extra_authorization_params: o.extra_authorization_params.clone(),
        api_headers: o.api_headers.clone(),
        revocation: o
            .revocation
            .as_ref()
            .map(|r| {
                Ok::<_, CatalogError>(ResolvedRevocation {
                    url: url("oauth2.revocation.url", &r.url)?,
                    method: r.method,
                })
            })
            .transpose()?,
        whoami: ResolvedEndpoint {
            url: url("oauth2.whoami.url", &o.whoami.url)?,
            method: o.whoami.method,
        },
        redirect: o.redirect.clone(),
    })
}

fn resolve_api(a: &Api, values: &BTreeMap<String, String>) -> ResolvedApi {
    let partial = a.base_url.render_partial(values);
    ResolvedApi {
        // A partial render of a valid template is a valid template (values hold no braces).
        base_url: Template::parse(&partial).unwrap_or_else(|_| a.base_url.clone()),
        allowed_hosts: a.allowed_hosts.clone(),
        errors: a.errors,
        rejected_errors: a.rejected_errors.clone(),
        pagination: a.pagination,
        env: a.env.clone(),
        git_hosts: a.git_hosts.clone(),
        git_username: a.git_username.clone(),
        probe_path: a.probe_path.clone(),
    }
}

fn resolve_api_key(
    id: &str,
    k: &ApiKey,
    values: &BTreeMap<String, String>,
) -> Result<ResolvedApiKey, CatalogError> {
    let base_url = render_url(id, "api_key.base_url", &k.base_url, values)?;
    let base = base_url.as_str().trim_end_matches('/');
    let test_url =
        Url::parse(&format!("{base}{}", k.test.path)).map_err(|e| CatalogError::InvalidUrl {
            provider: id.to_owned(),
            field: "api_key.test.path".to_owned(),
            reason: e.to_string(),
        })?;
    Ok(ResolvedApiKey {
        header: k.header.clone(),
        format: k.format.clone(),
        base_url,
        test: ResolvedEndpoint {
            url: test_url,
            method: k.test.method,
        },
        allowed_path_prefixes: k.allowed_path_prefixes.clone(),
        headers: k.headers.clone(),
    })
}

impl Provider {
    /// The environment used to try out `kind` in tests and examples: for custom, the
    /// example value of the custom-host placeholder.
    pub fn sample_environment(&self, kind: EnvironmentKind) -> Environment {
        match kind {
            EnvironmentKind::Production => Environment::Production,
            EnvironmentKind::Sandbox => Environment::Sandbox,
            EnvironmentKind::Custom => Environment::Custom(
                self.placeholders
                    .values()
                    .find(|p| p.custom_host)
                    .map(|p| p.example.clone())
                    .unwrap_or_default(),
            ),
        }
    }

    /// Example parameters for `kind`: the example of every placeholder that the
    /// environment does not fix and that has no default.
    pub fn sample_params(&self, kind: EnvironmentKind) -> Params {
        self.placeholders
            .iter()
            .filter(|(_, p)| {
                let fixed = match kind {
                    EnvironmentKind::Production => p.production.is_some(),
                    EnvironmentKind::Sandbox => p.sandbox.is_some(),
                    EnvironmentKind::Custom => p.custom_host,
                };
                !fixed && p.default.is_none()
            })
            .map(|(name, p)| (name.clone(), p.example.clone()))
            .collect()
    }

    /// The placeholders a caller must give a value for in `kind` (no environment value,
    /// no default). What an admin form asks for.
    pub fn required_params(&self, kind: EnvironmentKind) -> Vec<&str> {
        let sample = self.sample_params(kind);
        self.placeholders
            .keys()
            .filter(|name| sample.contains_key(*name))
            .map(String::as_str)
            .collect()
    }
}
