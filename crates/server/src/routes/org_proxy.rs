//! Calls through an org connection: a device's request on `/v1/proxy/{integration}/…`
//! goes out with the server's own access token (refreshed on expiry or on a 401 such as
//! Salesforce's `INVALID_SESSION_ID`, one refresh for all callers), to the API base the
//! catalog names (Salesforce: the token response's `instance_url`, never the login host).
//! The same path allow-list, limits and audit as API-key integrations. And "Test
//! connection" for an org connection: a real authorized call, checking what the
//! connector needs (Salesforce: "API Enabled", and "Customize Application" when asked).

use super::proxy::{audit_call, checked_path, read_capped, upstream_error};
use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult};
use crate::org_tokens::{self, OrgAccess, session_expired};
use crate::state::{AppState, now_millis};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use latchkey_catalog::{ApiErrors, ResolvedProvider};
use latchkey_protocol::admin::ConnectionTest;
use latchkey_protocol::device::IntegrationKind;
use latchkey_server_database::Integration;
use serde_json::Value;

/// A device's request, as the proxy route received it.
pub struct Call {
    pub method: Method,
    /// Without its leading `/`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn bearer(access: &OrgAccess) -> ApiResult<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", access.token.expose()))
        .map_err(|_| ApiError::internal())?;
    v.set_sensitive(true);
    Ok(v)
}

/// A provider's answer to a call with the org's token.
struct Answered {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Vec<u8>,
    /// The provider URL that answered.
    from: reqwest::Url,
}

/// One call with the current token; on an expired session, one refresh and one retry.
async fn send(
    state: &AppState,
    i: &Integration,
    provider: &ResolvedProvider,
    request: impl Fn(&OrgAccess) -> ApiResult<reqwest::RequestBuilder>,
) -> ApiResult<Answered> {
    let mut access = org_tokens::access(state, i, provider).await?;
    let max = state.config.proxy_max_response_bytes;
    for attempt in 0..2 {
        let upstream = request(&access)?.send().await.map_err(|e| {
            // The kind only: reqwest's error text holds the URL and its query.
            tracing::warn!(integration = %i.id, timeout = e.is_timeout(), "org connection request failed");
            upstream_error(&e)
        })?;
        let status = upstream.status();
        let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
        let from = upstream.url().clone();
        let body = read_capped(upstream, max).await?;
        if attempt == 0 && session_expired(status.as_u16(), access.errors, &body) {
            access = org_tokens::refresh(state, i, provider, access.version).await?;
            continue;
        }
        if let Err(e) = state
            .db
            .touch_org_token(&i.org_id, &i.id, now_millis())
            .await
        {
            tracing::warn!(error = %e, "could not record an org connection's last use");
        }
        return Ok(Answered {
            status,
            content_type,
            body,
            from,
        });
    }
    Err(ApiError::internal())
}

/// `/v1/proxy/{integration}/{path}` for an org connection.
pub async fn forward(
    state: &AppState,
    auth: &DeviceAuth,
    i: &Integration,
    call: Call,
) -> ApiResult<Response> {
    let path = checked_path(&i.api_paths, &call.path, call.query.as_deref())?;
    let provider = org_tokens::resolve(state, i)?;
    let method_name = call.method.as_str().to_owned();
    let answered = send(state, i, &provider, |access| {
        let mut url = format!("{}{path}", access.api_base.as_str().trim_end_matches('/'));
        if let Some(q) = &call.query {
            url.push('?');
            url.push_str(q);
        }
        let mut request = state
            .http
            .request(call.method.clone(), &url)
            .header(header::AUTHORIZATION, bearer(access)?)
            .header(
                header::USER_AGENT,
                concat!("latchkey-server/", env!("CARGO_PKG_VERSION")),
            );
        for name in [header::CONTENT_TYPE, header::ACCEPT] {
            if let Some(v) = call.headers.get(&name) {
                request = request.header(name, v.clone());
            }
        }
        if !call.body.is_empty() {
            request = request.body(call.body.clone());
        }
        Ok(request)
    })
    .await?;
    // Every use of the org's authorization is on the record.
    audit_call(
        state,
        auth,
        serde_json::json!({
            "integration_id": i.id,
            "org_wide": true,
            "method": method_name,
            "path": path,
            "status": answered.status.as_u16(),
        }),
    )
    .await;
    Ok(super::proxy::proxied(
        answered.status,
        answered.content_type,
        answered.body,
        &answered.from,
    ))
}

/// The query Salesforce answers with the current user's permissions (the documented
/// `UserPermissionAccess` object).
pub const PERMISSION_QUERY: &str =
    "SELECT PermissionsApiEnabled, PermissionsCustomizeApplication FROM UserPermissionAccess";

/// "Test connection" for an org connection.
pub async fn test(state: &AppState, i: &Integration) -> ConnectionTest {
    let failed = |message: &str| ConnectionTest::failed(IntegrationKind::OAuth, None, message);
    let provider = match org_tokens::resolve(state, i) {
        Ok(p) => p,
        Err(e) => return failed(&e.message),
    };
    let issuer = provider.oauth2().and_then(|o| o.issuer.clone());
    let failed =
        |message: &str| ConnectionTest::failed(IntegrationKind::OAuth, issuer.as_deref(), message);
    let salesforce = provider
        .api
        .as_ref()
        .is_some_and(|a| a.errors == ApiErrors::Salesforce);
    let whoami = provider.oauth2().map(|o| o.whoami.url.clone());
    let answer = send(state, i, &provider, |access| {
        let url = if salesforce {
            let mut url = access.api_base.clone();
            url.path_segments_mut()
                .map_err(|_| ApiError::internal())?
                .pop_if_empty()
                .push("query");
            url.query_pairs_mut().append_pair("q", PERMISSION_QUERY);
            url
        } else {
            whoami.clone().ok_or_else(ApiError::internal)?
        };
        Ok(state
            .http
            .get(url)
            .header(header::AUTHORIZATION, bearer(access)?)
            .header(header::ACCEPT, "application/json"))
    })
    .await;
    let Answered { status, body, .. } = match answer {
        Ok(a) => a,
        Err(e) => return failed(&e.message),
    };
    let with_status = |t: ConnectionTest| ConnectionTest {
        status: Some(status.as_u16()),
        ..t
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !salesforce {
        return with_status(if status.is_success() {
            failed("The provider accepted the org connection's token.").with_ok(true)
        } else {
            failed(&format!("The provider answered HTTP {}.", status.as_u16()))
        });
    }
    let error_code = json
        .as_array()
        .and_then(|a| a.first())
        .and_then(|e| e["errorCode"].as_str())
        .unwrap_or_default()
        .to_owned();
    if !status.is_success() {
        let message = if matches!(
            error_code.as_str(),
            "API_CURRENTLY_DISABLED" | "API_DISABLED_FOR_ORG"
        ) {
            "The authorizing user lacks the \"API Enabled\" permission, so Salesforce refuses API calls. Give that user a profile or permission set with \"API Enabled\", or authorize as another user.".to_owned()
        } else {
            format!(
                "Salesforce answered HTTP {} ({}).",
                status.as_u16(),
                if error_code.is_empty() {
                    "no error code"
                } else {
                    error_code.as_str()
                }
            )
        };
        return with_status(failed(&message));
    }
    let record = &json["records"][0];
    let flag = |name: &str| record[name].as_bool().unwrap_or(false);
    let mut missing = Vec::new();
    if !flag("PermissionsApiEnabled") {
        missing.push("\"API Enabled\"");
    }
    if i.require_customize_application && !flag("PermissionsCustomizeApplication") {
        missing.push("\"Customize Application\"");
    }
    with_status(if missing.is_empty() {
        let needed = if i.require_customize_application {
            "\"API Enabled\" and \"Customize Application\""
        } else {
            "\"API Enabled\""
        };
        failed(&format!(
            "Salesforce accepted the org connection, and the authorizing user has {needed}."
        ))
        .with_ok(true)
    } else {
        failed(&format!(
            "The authorizing user lacks the {} permission{}. Give that user a profile or permission set with it, or authorize as another user.",
            missing.join(" and "),
            if missing.len() > 1 { "s" } else { "" }
        ))
    })
}
