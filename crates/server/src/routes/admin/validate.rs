//! Every check the admin API makes on what an admin sends, in one place: the
//! shared identifier checks (re-exported from [`crate::validate`]) and the
//! admin-only ones (integration settings, audit filters). Handlers call them in
//! a fixed order, and that order decides which error an admin sees first.

use crate::error::ErrorCode;
use crate::error::{ApiError, ApiResult};
use crate::routes::proxy;
use crate::state::Shared;
use latchkey_server_database::{Integration, ScimGroup, User};
use std::collections::{BTreeMap, HashSet};

pub use crate::validate::{environment, integration_id, name, normalize_email};

/// The catalog knows the integration in this environment, and the deployment
/// offers it (development providers only where allowed).
pub fn offered_provider(state: &Shared, id: &str, environment: &str) -> ApiResult<()> {
    state
        .catalog
        .check(id, environment)
        .map_err(|m| ApiError::unprocessable("unknown_integration", m))?;
    if !state.offers(id) {
        return Err(ApiError::unprocessable(
            "development_provider",
            format!(
                "{id} is a development provider (a test server on this computer), not offered in production. Set allow_development_providers = true (LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS=true) only on a development server."
            ),
        ));
    }
    Ok(())
}

/// The catalog provider of the connection `id`: what the admin sent, else the one it
/// already has, else `id` itself (a provider's first connection is named after it). A
/// connection's provider never changes: its records were sealed for that provider.
pub fn connection_provider(
    id: &str,
    sent: Option<&str>,
    stored: Option<&str>,
) -> ApiResult<String> {
    let provider = sent.or(stored).unwrap_or(id);
    integration_id(provider).map_err(|_| {
        ApiError::unprocessable(
            ErrorCode::UNKNOWN_INTEGRATION,
            format!(
                "provider {provider:?} is not a catalog id. List them with GET /v1/admin/catalog."
            ),
        )
    })?;
    match stored {
        Some(stored) if stored != provider => Err(ApiError::conflict(
            ErrorCode::CONNECTION_PROVIDER_FIXED,
            format!(
                "Connection {id:?} is a {stored} connection and stays one. To connect {provider}, create another connection with its own id."
            ),
        )),
        _ => Ok(provider.to_owned()),
    }
}

/// A connection's display name, when given: trimmed, 1-80 characters, no control
/// characters. `None` (or only spaces): the catalog's name.
pub fn display_name(name: Option<&str>) -> ApiResult<Option<String>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            ErrorCode::INVALID_DISPLAY_NAME,
            "A connection's name is 1-80 characters without control characters, such as \"Salesforce — UAT sandbox\".",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// `candidate` is a system and a name of its own among the org's connections `others`
/// (itself, by id, excluded): the same provider, environment and placeholder values
/// under another id would be two cards for one account, and two cards of one name could
/// not be told apart.
pub fn distinct_connection(
    state: &Shared,
    candidate: &Integration,
    others: &[Integration],
) -> ApiResult<()> {
    let others = || others.iter().filter(|o| o.id != candidate.id);
    if let Some(twin) = others().find(|o| {
        o.provider == candidate.provider
            && o.environment == candidate.environment
            && o.params == candidate.params
    }) {
        return Err(ApiError::conflict(
            ErrorCode::CONNECTION_EXISTS,
            format!(
                "\"{}\" ({}) already connects to this system in this environment. Edit that connection, or choose another environment, login host or parameter values for this one.",
                state.display_name(twin),
                twin.id
            ),
        ));
    }
    let name = state.display_name(candidate);
    if let Some(namesake) = others().find(|o| state.display_name(o).eq_ignore_ascii_case(&name)) {
        return Err(ApiError::conflict(
            ErrorCode::CONNECTION_NAME_TAKEN,
            format!(
                "Connection {} is already called \"{name}\". Give this one a name of its own, such as \"{name} — sandbox\".",
                namesake.id
            ),
        ));
    }
    Ok(())
}

/// The placeholders a connection asks each user at connect: the provider's, not also
/// given a value in `params`, each once; a login host (a custom-host placeholder) only
/// where the connection's environment is production or sandbox, which it then replaces
/// for the user.
pub fn asked_at_connect(
    state: &Shared,
    provider: &str,
    input: &latchkey_protocol::admin::IntegrationInput,
) -> ApiResult<()> {
    let invalid = |m: String| ApiError::unprocessable(ErrorCode::INVALID_ASKED_AT_CONNECT, m);
    let mut seen = HashSet::new();
    for name in &input.asked_at_connect {
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!("asked_at_connect names {name:?} twice.")));
        }
        let Some(placeholder) = state.catalog.placeholder(provider, name) else {
            return Err(invalid(format!(
                "{provider} has no value called {name:?} to ask users for. The catalog (GET /v1/admin/catalog) lists its placeholders."
            )));
        };
        if input.params.contains_key(name) {
            return Err(invalid(format!(
                "{name:?} has a value in params and is asked of users too: keep one."
            )));
        }
        if placeholder.custom_host
            && !matches!(input.environment.as_str(), "production" | "sandbox")
        {
            return Err(invalid(format!(
                "Users can give their own {name} only where the connection's environment is production or sandbox (their value replaces it), not a login host of its own."
            )));
        }
    }
    Ok(())
}

/// OAuth scopes: each 1-256 characters without whitespace.
pub fn scopes(scopes: &[String]) -> ApiResult<()> {
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.len() > 256 || s.chars().any(char::is_whitespace))
    {
        return Err(ApiError::unprocessable(
            "invalid_scopes",
            "Each scope is 1-256 characters without spaces.",
        ));
    }
    Ok(())
}

/// Values for the catalog's placeholders: at most 16, names of lowercase letters
/// and `_`, values 1-256 characters without whitespace or controls.
pub fn params(params: &BTreeMap<String, String>) -> ApiResult<()> {
    if params.len() > 16
        || params.iter().any(|(k, v)| {
            k.is_empty()
                || k.len() > 32
                || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                || v.is_empty()
                || v.len() > 256
                || v.chars().any(|c| c.is_whitespace() || c.is_control())
        })
    {
        return Err(ApiError::unprocessable(
            "invalid_params",
            "params maps placeholder names (lowercase letters and _) to 1-256 characters without spaces, at most 16 of them.",
        ));
    }
    Ok(())
}

/// An OAuth client id, when given: 1-512 printable characters.
pub fn client_id(client_id: Option<&str>) -> ApiResult<()> {
    if let Some(cid) = client_id
        && (cid.is_empty() || cid.len() > 512 || cid.chars().any(char::is_control))
    {
        return Err(ApiError::unprocessable(
            "invalid_client_id",
            "The client id is 1-512 printable characters.",
        ));
    }
    Ok(())
}

/// Every user an allow-list names exists among `users` (the org's users).
pub fn allowed_users(allowed: &[String], users: &[User]) -> ApiResult<()> {
    let known: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
    for u in allowed {
        if !known.contains(u.as_str()) {
            return Err(ApiError::unprocessable(
                "unknown_user",
                format!(
                    "allowed_users names user {u:?}, who does not exist. List users with GET /v1/admin/users."
                ),
            ));
        }
    }
    Ok(())
}

/// Every group an allow-list names exists among `groups` (the org's SCIM groups).
pub fn allowed_groups(allowed: &[String], groups: &[ScimGroup]) -> ApiResult<()> {
    let known: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    for g in allowed {
        if !known.contains(g.as_str()) {
            return Err(ApiError::unprocessable(
                "unknown_group",
                format!(
                    "allowed_groups names group {g:?}, which does not exist. Groups come from your identity provider over SCIM; list them with GET /v1/admin/groups."
                ),
            ));
        }
    }
    Ok(())
}

/// An API-key integration's base URL: a valid proxy target, and on the provider's
/// own API host when the catalog knows it, because the key may only ever go
/// there (a loopback stand-in is allowed where plain http is, in tests).
pub fn api_base_url(state: &Shared, id: &str, url: &str) -> ApiResult<()> {
    proxy::validate_base_url(url, state.config.proxy_allow_http)?;
    if let Some(host) = state.catalog.api_key_host(id) {
        let given = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let loopback_test = state.config.proxy_allow_http
            && given
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if given != host && !loopback_test {
            return Err(ApiError::unprocessable(
                "invalid_api_base_url",
                format!("api_base_url must be on {host}, this provider's API host."),
            ));
        }
    }
    Ok(())
}

/// The proxy's allowed path prefixes under the base URL.
pub fn api_paths(paths: &[String]) -> ApiResult<()> {
    for p in paths {
        proxy::validate_path_prefix(p)?;
    }
    Ok(())
}

/// The header carrying the API key, when given.
pub fn api_key_header(header: Option<&str>) -> ApiResult<()> {
    if let Some(h) = header {
        proxy::validate_key_header(h)?;
    }
    Ok(())
}

/// The host in the OAuth loopback callback: `127.0.0.1` (the default, RFC 8252)
/// or `localhost` where the catalog allows it.
pub fn redirect_host(state: &Shared, id: &str, given: Option<&str>) -> ApiResult<&'static str> {
    match given {
        None | Some("127.0.0.1") => Ok("127.0.0.1"),
        Some("localhost") if state.catalog.allows_localhost_redirect(id) => Ok("localhost"),
        Some("localhost") => Err(ApiError::unprocessable(
            "invalid_redirect_host",
            "This provider's callback must name 127.0.0.1 (RFC 8252); register http://127.0.0.1 at the provider.",
        )),
        Some(_) => Err(ApiError::unprocessable(
            "invalid_redirect_host",
            "redirect_host is \"127.0.0.1\" or, for providers that allow it, \"localhost\".",
        )),
    }
}

/// Home-screen widgets chosen by default: each one the catalog offers for this
/// provider. Returns the list without consecutive repeats.
pub fn default_widgets(state: &Shared, id: &str, list: Vec<String>) -> ApiResult<Vec<String>> {
    let offered = state.catalog.widgets(id);
    if let Some(unknown) = list.iter().find(|w| !offered.contains(w)) {
        return Err(ApiError::unprocessable(
            "unknown_widget",
            format!(
                "{id} offers no widget {unknown:?}; it offers {}.",
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                }
            ),
        ));
    }
    let mut list = list;
    list.dedup();
    Ok(list)
}

/// An audit filter naming an action or an actor/target id: 1-128 characters of
/// ASCII letters, digits, `-` and `.`.
pub fn audit_filter(name: &str, value: Option<&str>) -> ApiResult<()> {
    let id_like = |v: &str| {
        !v.is_empty()
            && v.len() <= 128
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    match value {
        Some(v) if !id_like(v) => Err(ApiError::bad_request(
            "invalid_query",
            format!("The {name} filter holds characters no {name} has."),
        )),
        _ => Ok(()),
    }
}
