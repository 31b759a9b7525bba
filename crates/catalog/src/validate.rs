//! The rules a provider's data file must follow beyond its shape: ids, placeholders used
//! and declared, environments, https templates, redirects, API paths and headers. Kept
//! apart from loading ([`crate::catalog`]) because it is most of the catalog's code and
//! every new field adds a rule here.

use std::collections::{BTreeMap, BTreeSet};

use url::Url;

use crate::environment::{EnvironmentKind, validate_host};
use crate::error::CatalogError;
use crate::model::{AuthType, ClientAuth, PlaceholderKind, Provider, RevocationMethod};
use crate::resolve::{check_value, path_under_any, resolve};
use crate::template::{Template, is_placeholder_name};

/// Authorization-request parameters the client sets itself; a data file may not override
/// them through `extra_authorization_params`.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
    "response_mode",
    "request",
    "request_uri",
];

/// The largest `approval_limit` a data file may declare: caps documented by providers are
/// small (Salesforce: 5); anything larger is a typo, not a limit worth asking about.
const MAX_APPROVAL_LIMIT: u32 = 100;

fn is_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && id.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_token_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// RFC 9110 token characters, for header names.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn check_https_link(id: &str, field: &str, value: &Option<String>) -> Result<(), CatalogError> {
    if let Some(v) = value {
        let ok = Url::parse(v).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
        if !ok {
            return Err(CatalogError::invalid(
                id,
                field,
                "must be an absolute https URL",
            ));
        }
    }
    Ok(())
}

/// A path under our control: `/` then `A-Z a-z 0-9 / _ - .`, no `//` or `..`.
fn check_path(id: &str, field: &str, path: &str) -> Result<(), CatalogError> {
    let ok = path.starts_with('/')
        && path.len() <= 100
        && !path.contains("//")
        && !path.split('/').any(|s| s == "." || s == "..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(CatalogError::invalid(
            id,
            field,
            format!(
                "{path:?} must start with / and hold only letters, digits, / _ - . (no // or ..)"
            ),
        ))
    }
}

pub(crate) fn validate(p: &Provider) -> Result<(), CatalogError> {
    let id = p.id.as_str();
    if !is_id(id) {
        return Err(CatalogError::invalid(
            id,
            "id",
            "must match ^[a-z0-9][a-z0-9-]*$ and be at most 64 characters",
        ));
    }
    for path in p.search.iter().flat_map(|s| &s.api_paths) {
        check_path(id, "search.api_paths", path)?;
    }
    if p.name.trim().is_empty() || p.name.trim() != p.name || p.name.len() > 80 {
        return Err(CatalogError::invalid(
            id,
            "name",
            "must be 1 to 80 characters, no outer spaces",
        ));
    }
    let icon_ok = !p.icon.is_empty()
        && !p.icon.contains("..")
        && p.icon.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'/')
        });
    if !icon_ok {
        return Err(CatalogError::invalid(
            id,
            "icon",
            "must be a lower-case name or relative path",
        ));
    }
    check_https_link(id, "docs_url", &p.docs_url)?;
    check_https_link(id, "manage_access_url", &p.manage_access_url)?;

    // Environments.
    if p.environments.is_empty() {
        return Err(CatalogError::invalid(
            id,
            "environments",
            "must list at least one",
        ));
    }
    let envs: BTreeSet<EnvironmentKind> = p.environments.iter().copied().collect();
    if envs.len() != p.environments.len() {
        return Err(CatalogError::invalid(id, "environments", "lists one twice"));
    }

    // Placeholders.
    let custom_hosts = p.placeholders.values().filter(|ph| ph.custom_host).count();
    if envs.contains(&EnvironmentKind::Custom) != (custom_hosts == 1) || custom_hosts > 1 {
        return Err(CatalogError::invalid(
            id,
            "placeholders",
            "exactly one placeholder must have custom_host = true when the custom environment is offered, and none otherwise",
        ));
    }
    for (name, ph) in &p.placeholders {
        let field = format!("placeholders.{name}");
        if !is_placeholder_name(name) {
            return Err(CatalogError::invalid(
                id,
                &field,
                "name must be a-z, 0-9, _",
            ));
        }
        if ph.description.trim().is_empty() {
            return Err(CatalogError::invalid(id, &field, "description is empty"));
        }
        if ph.production.is_some() && !envs.contains(&EnvironmentKind::Production) {
            return Err(CatalogError::invalid(
                id,
                &field,
                "has a production value but production is not offered",
            ));
        }
        if ph.sandbox.is_some() && !envs.contains(&EnvironmentKind::Sandbox) {
            return Err(CatalogError::invalid(
                id,
                &field,
                "has a sandbox value but sandbox is not offered",
            ));
        }
        if ph.custom_host && ph.kind != PlaceholderKind::Host {
            return Err(CatalogError::invalid(
                id,
                &field,
                "custom_host needs kind = \"host\"",
            ));
        }
        if !ph.allowed_suffixes.is_empty() && ph.kind != PlaceholderKind::Host {
            return Err(CatalogError::invalid(
                id,
                &field,
                "allowed_suffixes needs kind = \"host\"",
            ));
        }
        for suffix in &ph.allowed_suffixes {
            let ok = suffix
                .strip_prefix('.')
                .is_some_and(|rest| validate_host(rest).is_ok_and(|h| h == rest));
            if !ok {
                return Err(CatalogError::invalid(
                    id,
                    &field,
                    format!("allowed suffix {suffix:?} must be a dot then a lower-case host name"),
                ));
            }
        }
        for (what, value) in [
            ("example", Some(&ph.example)),
            ("production", ph.production.as_ref()),
            ("sandbox", ph.sandbox.as_ref()),
            ("default", ph.default.as_ref()),
        ] {
            if let Some(v) = value {
                let normal = check_value(id, name, ph, v).map_err(|e| {
                    CatalogError::invalid(id, &format!("{field}.{what}"), e.to_string())
                })?;
                if &normal != v {
                    return Err(CatalogError::invalid(
                        id,
                        &format!("{field}.{what}"),
                        format!("write it in normal form: {normal}"),
                    ));
                }
            }
        }
    }

    // Auth sections.
    let mut templates: Vec<(&str, &Template)> = Vec::new();
    match (p.auth, &p.oauth2, &p.api_key) {
        (AuthType::Oauth2, Some(o), None) => {
            templates.push(("oauth2.authorization_url", &o.authorization_url));
            templates.push(("oauth2.token_url", &o.token_url));
            if let Some(t) = &o.userinfo_url {
                templates.push(("oauth2.userinfo_url", t));
            }
            if let Some(t) = &o.introspection_url {
                templates.push(("oauth2.introspection_url", t));
            }
            if let Some(t) = &o.issuer {
                templates.push(("oauth2.issuer", t));
            }
            if let Some(r) = &o.revocation {
                templates.push(("oauth2.revocation.url", &r.url));
            }
            templates.push(("oauth2.whoami.url", &o.whoami.url));

            let mut seen = BTreeSet::new();
            for scope in &o.default_scopes {
                if !is_printable(scope)
                    || scope.contains([' ', ',', '"', '\\'])
                    || !seen.insert(scope)
                {
                    return Err(CatalogError::invalid(
                        id,
                        "oauth2.default_scopes",
                        format!(
                            "{scope:?} must be non-empty, unique, without spaces, commas, quotes or backslashes"
                        ),
                    ));
                }
            }
            if !is_placeholder_name(&o.scope_param) {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.scope_param",
                    "must be a-z, 0-9, _",
                ));
            }
            if o.client_auth == ClientAuth::None && o.client_secret_required {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.client_secret_required",
                    "a required secret needs client_auth client_secret_post or client_secret_basic",
                ));
            }
            for (field, name) in o
                .token_response_fields
                .iter()
                .map(|f| ("oauth2.token_response_fields", f))
                .chain(
                    o.token_response_object
                        .iter()
                        .map(|f| ("oauth2.token_response_object", f)),
                )
                .chain(
                    o.identity_token_field
                        .iter()
                        .map(|f| ("oauth2.identity_token_field", f)),
                )
            {
                if !is_token_name(name) {
                    return Err(CatalogError::invalid(
                        id,
                        field,
                        format!("{name:?} is not a field name"),
                    ));
                }
            }
            if let Some(f) = &o.identity_token_field
                && !o.token_response_fields.contains(f)
            {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.identity_token_field",
                    "must also be listed in token_response_fields",
                ));
            }
            for (key, value) in &o.extra_authorization_params {
                if !is_token_name(key)
                    || RESERVED_AUTH_PARAMS.contains(&key.as_str())
                    || key == &o.scope_param
                {
                    return Err(CatalogError::invalid(
                        id,
                        "oauth2.extra_authorization_params",
                        format!(
                            "{key:?} is not allowed (the client sets the protocol parameters itself)"
                        ),
                    ));
                }
                if !is_printable(value) {
                    return Err(CatalogError::invalid(
                        id,
                        "oauth2.extra_authorization_params",
                        format!("value of {key} must be printable ASCII"),
                    ));
                }
            }
            if o.revocation
                .as_ref()
                .is_some_and(|r| r.method == RevocationMethod::GithubGrant)
                && !o.client_secret_required
            {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.revocation.method",
                    "github_grant authenticates as the app: it needs client_secret_required = true",
                ));
            }
            if let Some(limit) = o.approval_limit
                && !(1..=MAX_APPROVAL_LIMIT).contains(&limit)
            {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.approval_limit",
                    format!(
                        "must be between 1 and {MAX_APPROVAL_LIMIT} (the provider's documented cap), or absent"
                    ),
                ));
            }
            check_headers(id, "oauth2.api_headers", &o.api_headers)?;
            check_path(id, "oauth2.redirect.path", &o.redirect.path)?;
            if let Some(port) = o.redirect.port
                && port < 1024
            {
                return Err(CatalogError::invalid(
                    id,
                    "oauth2.redirect.port",
                    "must be 1024 or above (no privileges needed)",
                ));
            }
        }
        (AuthType::ApiKey, None, Some(k)) => {
            templates.push(("api_key.base_url", &k.base_url));
            if !is_header_name(&k.header) {
                return Err(CatalogError::invalid(
                    id,
                    "api_key.header",
                    "is not a header name",
                ));
            }
            if !is_printable(&k.format)
                || k.format.matches("{key}").count() != 1
                || k.format.replace("{key}", "").contains(['{', '}'])
            {
                return Err(CatalogError::invalid(
                    id,
                    "api_key.format",
                    "must be printable ASCII holding {key} exactly once and no other braces",
                ));
            }
            check_headers(id, "api_key.headers", &k.headers)?;
            check_path(id, "api_key.test.path", &k.test.path)?;
            if k.allowed_path_prefixes.is_empty() {
                return Err(CatalogError::invalid(
                    id,
                    "api_key.allowed_path_prefixes",
                    "must list at least one",
                ));
            }
            for prefix in &k.allowed_path_prefixes {
                check_path(id, "api_key.allowed_path_prefixes", prefix)?;
            }
            if !path_under_any(&k.test.path, &k.allowed_path_prefixes) {
                return Err(CatalogError::invalid(
                    id,
                    "api_key.test.path",
                    "must be under one of allowed_path_prefixes",
                ));
            }
        }
        (AuthType::Oauth2, _, _) => {
            return Err(CatalogError::invalid(
                id,
                "oauth2",
                "auth = \"oauth2\" needs an [oauth2] table and no [api_key]",
            ));
        }
        (AuthType::ApiKey, _, _) => {
            return Err(CatalogError::invalid(
                id,
                "api_key",
                "auth = \"api_key\" needs an [api_key] table and no [oauth2]",
            ));
        }
    }

    // The API section: OAuth providers only; its base may also use token-response fields.
    let mut api_placeholders: Vec<&str> = Vec::new();
    if let Some(api) = &p.api {
        let Some(o) = &p.oauth2 else {
            return Err(CatalogError::invalid(
                id,
                "api",
                "is for OAuth providers (API-key calls go through the server's proxy)",
            ));
        };
        let mut from_token = false;
        for name in api.base_url.placeholders() {
            if p.placeholders.contains_key(name) {
                api_placeholders.push(name);
            } else if o.token_response_fields.iter().any(|f| f == name) {
                from_token = true;
            } else {
                return Err(CatalogError::invalid(
                    id,
                    "api.base_url",
                    format!(
                        "uses {{{name}}}, neither a placeholder nor a token_response_fields entry"
                    ),
                ));
            }
        }
        let starts_ok = api.base_url.as_str().starts_with("https://")
            || api.base_url.placeholders().next().is_some_and(|first| {
                api.base_url.starts_with_placeholder()
                    && (o.token_response_fields.iter().any(|f| f == first)
                        || p.placeholders
                            .get(first)
                            .is_some_and(|ph| ph.kind == PlaceholderKind::Origin))
            });
        if !starts_ok {
            return Err(CatalogError::invalid(
                id,
                "api.base_url",
                "must start with https://, an origin placeholder or a token-response URL field",
            ));
        }
        if from_token && api.allowed_hosts.is_empty() {
            return Err(CatalogError::invalid(
                id,
                "api.allowed_hosts",
                "must list the hosts a base URL taken from the token response may have",
            ));
        }
        for host in api.allowed_hosts.iter().chain(&api.git_hosts) {
            let bare = host.strip_prefix('.').unwrap_or(host);
            if !validate_host(bare).is_ok_and(|h| h == bare) || bare.contains(':') {
                return Err(CatalogError::invalid(
                    id,
                    "api.allowed_hosts",
                    format!("{host:?} must be a lower-case host name, or a dot then one"),
                ));
            }
        }
        for code in &api.rejected_errors {
            if !is_token_name(code) {
                return Err(CatalogError::invalid(
                    id,
                    "api.rejected_errors",
                    format!("{code:?} is not an error code"),
                ));
            }
        }
        for (var, source) in &api.env {
            let var_ok = var.len() <= 64
                && var.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                && var
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            let source_ok = matches!(source.as_str(), "access_token" | "api_base_url")
                || o.token_response_fields.iter().any(|f| f == source);
            if !var_ok || !source_ok {
                return Err(CatalogError::invalid(
                    id,
                    "api.env",
                    format!(
                        "{var} = {source:?}: names are A-Z 0-9 _; values are access_token, api_base_url or a token_response_fields entry"
                    ),
                ));
            }
        }
        if !api.env.is_empty() && !api.env.values().any(|s| s == "access_token") {
            return Err(CatalogError::invalid(
                id,
                "api.env",
                "must name the variable that holds the access_token",
            ));
        }
        if let Some(user) = &api.git_username
            && (!is_printable(user) || user.contains([':', ' ']) || user.len() > 64)
        {
            return Err(CatalogError::invalid(
                id,
                "api.git_username",
                "must be printable ASCII without spaces or colons",
            ));
        }
        if let Some(probe) = &api.probe_path
            && probe != "/"
        {
            check_path(id, "api.probe_path", probe)?;
        }
        if !api.git_hosts.is_empty() && api.git_username.is_none() {
            return Err(CatalogError::invalid(
                id,
                "api.git_username",
                "is needed when git_hosts is set",
            ));
        }
    }

    // Templates: https literal scheme, or start with an origin placeholder; placeholders
    // used are declared and declared ones are used.
    let mut used = BTreeSet::new();
    for (field, t) in &templates {
        let scheme_ok = t.as_str().starts_with("https://")
            || (t.starts_with_placeholder()
                && t.placeholders().next().is_some_and(|name| {
                    p.placeholders
                        .get(name)
                        .is_some_and(|ph| ph.kind == PlaceholderKind::Origin)
                }));
        if !scheme_ok {
            return Err(CatalogError::invalid(
                id,
                field,
                "must start with https:// (or with an origin placeholder for a local test server)",
            ));
        }
        for name in t.placeholders() {
            if !p.placeholders.contains_key(name) {
                return Err(CatalogError::invalid(
                    id,
                    field,
                    format!("uses {{{name}}}, which is not declared under [placeholders]"),
                ));
            }
            used.insert(name.to_owned());
        }
    }
    used.extend(api_placeholders.iter().map(|n| (*n).to_owned()));
    for (name, ph) in &p.placeholders {
        if !used.contains(name) {
            return Err(CatalogError::invalid(
                id,
                &format!("placeholders.{name}"),
                "is declared but no endpoint uses it",
            ));
        }
        if ph.kind == PlaceholderKind::Origin
            && templates.iter().any(|(_, t)| {
                t.placeholders()
                    .enumerate()
                    .any(|(i, n)| n == name && (i > 0 || !t.starts_with_placeholder()))
            })
        {
            return Err(CatalogError::invalid(
                id,
                &format!("placeholders.{name}"),
                "an origin may only start a URL",
            ));
        }
    }

    // Finally: every offered environment resolves with the example values.
    for kind in &p.environments {
        resolve(p, &p.sample_environment(*kind), &p.sample_params(*kind)).map_err(|e| {
            CatalogError::invalid(
                id,
                "environments",
                format!("{kind} does not resolve with the examples: {e}"),
            )
        })?;
    }
    Ok(())
}

fn check_headers(
    id: &str,
    field: &str,
    headers: &BTreeMap<String, String>,
) -> Result<(), CatalogError> {
    for (name, value) in headers {
        if !is_header_name(name) || !is_printable(value) {
            return Err(CatalogError::invalid(
                id,
                field,
                format!("{name:?} is not a valid header name and printable value"),
            ));
        }
    }
    Ok(())
}
