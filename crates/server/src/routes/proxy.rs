//! The API-key proxy: `/v1/proxy/{integration}/{path}`. The key never leaves
//! the server: an enrolled device asks, the server injects the key and
//! forwards to the integration's one configured base URL. Not an open relay:
//! the host is fixed per integration, only allow-listed path prefixes pass,
//! redirects are not followed, and requests, responses and time are bounded.

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::routes::client::secret_context;
use crate::state::{AppState, UserGroups};
use crate::validate;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use latchkey_protocol::admin::ConnectionTest;
use latchkey_protocol::device::{IntegrationKind, UPSTREAM_URL_HEADER};

/// An https URL with a host and an optional path prefix; nothing else.
pub fn validate_base_url(url: &str, allow_http: bool) -> ApiResult<()> {
    let bad = |why: &str| {
        ApiError::unprocessable(
            ErrorCode::INVALID_API_BASE_URL,
            format!("api_base_url {why}."),
        )
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("is not a URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(bad("must use https")),
    }
    if parsed.host_str().is_none() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("needs a host and no user info"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(())
}

/// A path prefix such as `/v1/models`: starts with '/', printable ASCII, no dot segments.
pub fn validate_path_prefix(prefix: &str) -> ApiResult<()> {
    if prefix.starts_with('/') && is_clean_path(prefix) && prefix.len() <= 256 {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            ErrorCode::INVALID_API_PATHS,
            "Each api_paths entry is a path prefix such as /v1/models (no '..', '//', '?', '#', '%' or '\\').",
        ))
    }
}

/// A header name for the key, lower case; not one that frames the request.
pub fn validate_key_header(name: &str) -> ApiResult<()> {
    let forbidden = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "cookie",
        "te",
        "upgrade",
    ];
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !forbidden.contains(&name)
    {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            ErrorCode::INVALID_API_KEY_HEADER,
            "api_key_header is a lower-case header name such as x-api-key (or authorization for Bearer).",
        ))
    }
}

/// No dot segments, empty segments, encodings or characters that could change
/// where the request lands.
pub(crate) fn is_clean_path(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'%' | b'\\'))
        && !path.contains("//")
        && !path.split('/').any(|seg| seg == "." || seg == "..")
}

pub(crate) fn path_not_allowed() -> ApiError {
    ApiError::forbidden(
        ErrorCode::PATH_NOT_ALLOWED,
        "This path is not on the integration's allow-list. Ask your admin to allow it.",
    )
}

/// A device's proxied call, checked before anything goes out: the path clean and under
/// one of the connection's allowed prefixes, the query of a sane size. Answers the path
/// with its leading `/`.
pub(crate) fn checked_path(
    api_paths: &[String],
    path: &str,
    query: Option<&str>,
) -> ApiResult<String> {
    let path = format!("/{path}");
    if !is_clean_path(&path) {
        return Err(ApiError::bad_request(
            ErrorCode::INVALID_PATH,
            "The proxied path must not contain '..', '//', '%', '\\', '?' or '#'.",
        ));
    }
    if !latchkey_catalog::path_under_any(&path, api_paths) {
        return Err(path_not_allowed());
    }
    if let Some(q) = query
        && (q.len() > 4096 || q.contains('#'))
    {
        return Err(ApiError::bad_request(
            ErrorCode::INVALID_QUERY,
            "The query string is too long or malformed.",
        ));
    }
    Ok(path)
}

/// A provider that did not answer, as the device hears it (the kind only: reqwest's
/// error text holds the URL and its query).
pub(crate) fn upstream_error(e: &reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::UPSTREAM_TIMEOUT,
            "The provider did not answer in time. Try again later.",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::UPSTREAM_UNREACHABLE,
            "The provider could not be reached. Try again later.",
        )
    }
}

/// Puts a proxied call on the record: who, what, and what it answered (the path only:
/// a query can hold search terms). `detail` names the integration, method, path and
/// status.
pub(crate) async fn audit_call(state: &AppState, auth: &DeviceAuth, detail: serde_json::Value) {
    let journal = state.journal(
        &crate::state::Actor::Device(auth.device.id.clone()),
        "proxy.request",
        Some(&auth.user.id),
        detail,
        vec![],
    );
    if let Err(e) = state.db.append_audit(&journal.audit).await {
        tracing::warn!(error = %e, "could not record a proxy request in the audit log");
    }
}

pub async fn forward(
    State(state): State<AppState>,
    auth: DeviceAuth,
    method: Method,
    Path((integration, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    validate::integration_id(&integration)?;
    let not_configured = || {
        ApiError::not_found(
            ErrorCode::PROXY_NOT_CONFIGURED,
            "This integration has no API key or base URL for the proxy. Ask your admin to configure it.",
        )
    };
    let Some(i) = state
        .db
        .get_integration(&state.org.id, &integration)
        .await?
    else {
        return Err(not_configured());
    };
    if !state
        .usable_by(&i, &mut UserGroups::new(&auth.user.id))
        .await?
    {
        return Err(ApiError::forbidden(
            ErrorCode::INTEGRATION_NOT_ENABLED,
            "Your admin has not enabled this integration for you.",
        ));
    }
    if i.org_wide {
        let call = super::org_proxy::Call {
            method,
            path,
            query,
            headers,
            body,
        };
        return super::org_proxy::forward(&state, &auth, &i, call).await;
    }
    let (Some(sealed), Some(base)) = (&i.api_key_sealed, &i.api_base_url) else {
        return Err(not_configured());
    };
    let path = checked_path(&i.api_paths, &path, query.as_deref())?;
    let mut url = format!("{base}{path}");
    if let Some(q) = &query {
        url.push('?');
        url.push_str(q);
    }
    let key = state
        .key
        .open(&secret_context(&i.org_id, &i.id, "api_key"), sealed)?;
    let header_name = i.api_key_header.as_deref().unwrap_or("authorization");
    let key_value = key_header(
        header_name,
        &key,
        state.catalog.api_key_format(&i.provider, header_name),
    )?;

    let method_name = method.as_str().to_owned();
    let mut request = state
        .http
        .request(method, &url)
        .header(header_name, key_value)
        .header(
            header::USER_AGENT,
            concat!("latchkey-server/", env!("CARGO_PKG_VERSION")),
        );
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&name) {
            request = request.header(name, v.clone());
        }
    }
    if !body.is_empty() {
        request = request.body(body);
    }
    let upstream = request.send().await.map_err(|e| {
        // Log the kind only: reqwest's error text holds the URL and its query.
        tracing::warn!(integration = %integration, timeout = e.is_timeout(), connect = e.is_connect(), "proxy request failed");
        upstream_error(&e)
    })?;
    let status = upstream.status();
    // Every use of an admin's key is on the record.
    audit_call(
        &state,
        &auth,
        serde_json::json!({
            "integration_id": integration,
            "method": method_name,
            "path": path,
            "status": status.as_u16(),
        }),
    )
    .await;
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
    let from = upstream.url().clone();
    let max = state.config.proxy_max_response_bytes;
    let collected = read_capped(upstream, max).await?;
    Ok(proxied(status, content_type, collected, &from))
}

/// A provider's answer as the proxy passes it on: its status, content type and body,
/// and the provider URL it came from ([`UPSTREAM_URL_HEADER`], without the query).
pub(crate) fn proxied(
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Vec<u8>,
    from: &reqwest::Url,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    let mut from = from.clone();
    from.set_query(None);
    from.set_fragment(None);
    if let Ok(v) = HeaderValue::from_str(from.as_str()) {
        response.headers_mut().insert(UPSTREAM_URL_HEADER, v);
    }
    response
}

/// Reads a provider's answer, refusing more than `max` bytes.
pub(crate) async fn read_capped(upstream: reqwest::Response, max: usize) -> ApiResult<Vec<u8>> {
    if upstream.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let mut collected = Vec::new();
    let mut stream = upstream.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::UPSTREAM_UNREACHABLE,
                "The provider's answer broke off. Try again.",
            )
        })?;
        if collected.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected)
}

/// The header value carrying an API key: the provider's format from the
/// catalog when it has one (PagerDuty: `Token token=<key>`), else
/// `authorization` means `Bearer <key>` and any other header the bare key.
fn key_header(
    name: &str,
    key: &latchkey_secret::SecretString,
    format: Option<(String, String)>,
) -> ApiResult<HeaderValue> {
    let mut value = match format {
        Some((before, after)) => HeaderValue::from_str(&format!("{before}{}{after}", key.expose())),
        None if name == "authorization" => {
            HeaderValue::from_str(&format!("Bearer {}", key.expose()))
        }
        None => HeaderValue::from_str(key.expose()),
    }
    .map_err(|_| ApiError::internal())?;
    value.set_sensitive(true);
    Ok(value)
}

/// "Test connection" for an integration: for an API key, one GET through the
/// same path as the proxy (its first allowed path); for OAuth, the
/// authorization server's RFC 8414 metadata (or OpenID discovery) must be
/// reachable and well formed. Answers 200 with `ok` and what was found.
pub async fn test_connection(
    State(state): State<AppState>,
    auth: crate::auth::AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ConnectionTest>> {
    use serde_json::json;
    validate::integration_id(&id)?;
    let Some(i) = state.db.get_integration(&state.org.id, &id).await? else {
        return Err(ApiError::not_found(
            ErrorCode::INTEGRATION_NOT_FOUND,
            "This integration is not configured. Configure it with PUT first.",
        ));
    };
    let result = if i.org_wide {
        super::org_proxy::test(&state, &i).await
    } else if let Some(sealed) = &i.api_key_sealed {
        let (Some(base), Some(path)) = (&i.api_base_url, i.api_paths.first()) else {
            return Err(ApiError::unprocessable(
                ErrorCode::PROXY_NOT_CONFIGURED,
                "Set api_base_url and at least one api_paths entry to test this API key.",
            ));
        };
        let key = state
            .key
            .open(&secret_context(&i.org_id, &i.id, "api_key"), sealed)?;
        let header_name = i.api_key_header.as_deref().unwrap_or("authorization");
        let value = key_header(
            header_name,
            &key,
            state.catalog.api_key_format(&i.provider, header_name),
        )?;
        match state
            .http
            .get(format!("{base}{path}"))
            .header(header_name, value)
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status();
                let message = if status.is_success() {
                    "The provider accepted the API key.".to_owned()
                } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    "The provider rejected the API key: check it and save it again.".to_owned()
                } else {
                    format!("The provider answered HTTP {}.", status.as_u16())
                };
                ConnectionTest {
                    status: Some(status.as_u16()),
                    ..ConnectionTest::failed(IntegrationKind::ApiKey, None, &message)
                }
                .with_ok(status.is_success())
            }
            Err(e) => {
                ConnectionTest::failed(IntegrationKind::ApiKey, None, unreachable_message(&e))
            }
        }
    } else {
        match state.catalog.issuer(&i.provider, &i.environment) {
            None => ConnectionTest::failed(
                IntegrationKind::OAuth,
                None,
                "The provider catalog names no authorization server for this integration in this environment, so there is nothing to test. Set a custom login host for it, or pick an environment the catalog lists.",
            ),
            Some(issuer) => oauth_metadata(&state, issuer.trim_end_matches('/')).await,
        }
    };
    let journal = state.journal(
        &crate::state::Actor::Admin(auth.admin.id.clone()),
        "integration.test",
        Some(&id),
        json!({ "ok": result.ok }),
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    Ok(axum::Json(result))
}

fn unreachable_message(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "The provider did not answer in time."
    } else {
        "The provider could not be reached (DNS, network or TLS failure)."
    }
}

async fn oauth_metadata(state: &AppState, issuer: &str) -> ConnectionTest {
    let failed =
        |message: &str| ConnectionTest::failed(IntegrationKind::OAuth, Some(issuer), message);
    let allow_http = state.config.proxy_allow_http;
    if validate_base_url(issuer, allow_http).is_err() {
        return failed("The issuer is not an https URL.");
    }
    let mut last = "The authorization server publishes no metadata document.".to_owned();
    for well_known in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let url = format!("{issuer}{well_known}");
        let resp = match state.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                return failed(unreachable_message(&e));
            }
        };
        if !resp.status().is_success() {
            last = format!("{url} answered HTTP {}.", resp.status().as_u16());
            continue;
        }
        let Ok(bytes) = read_capped(resp, 256 * 1024).await else {
            last = format!("{url} is too large or broke off.");
            continue;
        };
        let Ok(meta) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            last = format!("{url} is not JSON.");
            continue;
        };
        let endpoint_ok = |name: &str| {
            meta[name]
                .as_str()
                .is_some_and(|u| validate_base_url(u, allow_http).is_ok())
        };
        // RFC 8414 section 3.3: the metadata's issuer must be the issuer it was fetched for.
        let problems: Vec<&str> = [
            (
                meta["issuer"].as_str().map(|s| s.trim_end_matches('/')) != Some(issuer),
                "issuer does not match",
            ),
            (
                !endpoint_ok("authorization_endpoint"),
                "authorization_endpoint missing or not https",
            ),
            (
                !endpoint_ok("token_endpoint"),
                "token_endpoint missing or not https",
            ),
        ]
        .into_iter()
        .filter_map(|(bad, why)| bad.then_some(why))
        .collect();
        let message = if problems.is_empty() {
            "The authorization server's metadata is well formed.".to_owned()
        } else {
            format!("Metadata problems: {}.", problems.join("; "))
        };
        return ConnectionTest {
            metadata_url: Some(url),
            authorization_endpoint: meta["authorization_endpoint"].as_str().map(str::to_owned),
            token_endpoint: meta["token_endpoint"].as_str().map(str::to_owned),
            ..failed(&message)
        }
        .with_ok(problems.is_empty());
    }
    failed(&last)
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::UPSTREAM_TOO_LARGE,
        format!("The provider's answer is larger than the proxy relays ({max} bytes)."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_paths_pass() {
        for ok in ["/v1/models", "/v1/chat/completions", "/a-b_c.d/e"] {
            assert!(is_clean_path(ok), "{ok}");
        }
        for bad in [
            "/v1/../admin",
            "/v1/./x",
            "//evil.com/x",
            "/v1%2f..",
            "/v1\\x",
            "/a b",
            "/x?y",
            "/x#y",
        ] {
            assert!(!is_clean_path(bad), "{bad}");
        }
    }

    #[test]
    fn base_urls_are_https_hosts_without_extras() {
        assert!(validate_base_url("https://api.openai.com", false).is_ok());
        assert!(validate_base_url("https://api.example.com/v2", false).is_ok());
        for bad in [
            "http://api.example.com",
            "https://u:p@api.example.com",
            "https://a.com/?x=1",
            "ftp://a.com",
            "nope",
        ] {
            assert!(validate_base_url(bad, false).is_err(), "{bad}");
        }
        assert!(validate_base_url("http://127.0.0.1:9", true).is_ok());
        assert!(validate_key_header("x-api-key").is_ok());
        assert!(validate_key_header("Host").is_err());
        assert!(validate_key_header("host").is_err());
    }
}

#[cfg(test)]
mod key_header_tests {
    use super::key_header;
    use latchkey_secret::SecretString;

    #[test]
    fn formats_the_key_as_the_provider_expects() {
        let key = SecretString::from("u+abc123");
        let pd = key_header(
            "authorization",
            &key,
            Some(("Token token=".into(), String::new())),
        )
        .unwrap();
        assert_eq!(pd.to_str().unwrap(), "Token token=u+abc123");
        assert!(pd.is_sensitive());
        let bearer = key_header("authorization", &key, None).unwrap();
        assert_eq!(bearer.to_str().unwrap(), "Bearer u+abc123");
        let bare = key_header("x-api-key", &key, None).unwrap();
        assert_eq!(bare.to_str().unwrap(), "u+abc123");
    }
}
