//! The admin API, used by the console (session cookie + CSRF header) and by
//! automation (admin API token): sign-in, integrations, users and their
//! enrollment codes, devices, per-user connection status, audit trail. Also the
//! enrollment endpoint devices use to trade a code for a device token.

use crate::auth::AdminAuth;
use crate::client_ip::ClientIp;
use crate::crypto::{TokenKind, new_id, new_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, double_option};
use crate::routes::client::{is_api_key, secret_context};
use crate::state::{Actor, AppState, Shared, now_millis};
use crate::validate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_secret::SecretString;
use latchkey_server_database::{
    DbError, Device, EnrollmentCode, ExcludedUser, Integration, User, revocation_reason,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub use crate::routes::admin_accounts::{
    admin_token_for_email, create_admin, issue_admin_token, issue_setup_code,
};

// ---- integrations ----

fn set_or_not(v: &Option<Vec<u8>>) -> &'static str {
    if v.is_some() { "set" } else { "not set" }
}

/// The admin view: secrets are write-only and shown as "set" / "not set".
fn admin_view(i: &Integration) -> Value {
    json!({
        "id": i.id,
        "kind": if is_api_key(i) { "api_key" } else { "oauth" },
        "enabled": i.enabled,
        "environment": i.environment,
        "client_id": i.client_id,
        "client_secret": set_or_not(&i.client_secret_sealed),
        "scopes": i.scopes,
        "params": i.params,
        "allowed_users": i.allowed_users,
        "api_key": set_or_not(&i.api_key_sealed),
        "api_base_url": i.api_base_url,
        "api_paths": i.api_paths,
        "api_key_header": i.api_key_header,
        "redirect_host": i.redirect_host,
        "default_widgets": i.default_widgets,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    })
}

pub async fn list_integrations(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<Value>> {
    let list: Vec<_> = state
        .db
        .list_integrations(&state.org.id)
        .await?
        .iter()
        .map(admin_view)
        .collect();
    Ok(Json(json!({ "integrations": list })))
}

/// The provider catalog: every integration an admin can enable, with what its
/// form needs (auth type, environments, default scopes, parameters, callback URL).
pub async fn catalog(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Value>> {
    let entries: Vec<Value> = state
        .catalog
        .entries()
        .into_iter()
        .filter(|e| e["id"].as_str().is_some_and(|id| state.offers(id)))
        .collect();
    Ok(Json(json!({ "integrations": entries })))
}

pub async fn get_integration(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    validate::integration_id(&id)?;
    let i = state
        .db
        .get_integration(&state.org.id, &id)
        .await?
        .ok_or_else(integration_not_found)?;
    Ok(Json(admin_view(&i)))
}

fn integration_not_found() -> ApiError {
    ApiError::not_found(
        "integration_not_found",
        "This integration is not configured. Configure it with PUT first.",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    enabled: bool,
    #[serde(default = "production")]
    environment: String,
    #[serde(default)]
    client_id: Option<String>,
    /// Absent: keep; `null`: clear; string: set.
    #[serde(default, deserialize_with = "double_option")]
    client_secret: Option<Option<SecretString>>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Values for the catalog's placeholders, e.g. {"tenant": "contoso.onmicrosoft.com"}.
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
    /// `null`/absent: every user; a list of user ids: only them.
    #[serde(default)]
    allowed_users: Option<Vec<String>>,
    /// Absent: keep; `null`: clear; string: set. Makes this an API-key integration.
    #[serde(default, deserialize_with = "double_option")]
    api_key: Option<Option<SecretString>>,
    /// API-key proxy: the only base URL the key is sent to (https).
    #[serde(default)]
    api_base_url: Option<String>,
    /// API-key proxy: allowed path prefixes under the base URL, such as "/v1/models".
    #[serde(default)]
    api_paths: Vec<String>,
    /// API-key proxy: header carrying the key; "authorization" (default) sends "Bearer <key>".
    #[serde(default)]
    api_key_header: Option<String>,
    /// OAuth: the host in the loopback callback registered at the provider, "127.0.0.1"
    /// (default) or "localhost" where the catalog allows it (Salesforce).
    #[serde(default)]
    redirect_host: Option<String>,
    /// Home-screen widgets offered by default (catalog widget ids). Absent: keep;
    /// `null`: every widget the catalog offers; a list: those.
    #[serde(default, deserialize_with = "double_option")]
    default_widgets: Option<Option<Vec<String>>>,
}

fn production() -> String {
    "production".to_owned()
}

pub async fn put_integration(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<Json<Value>> {
    validate::integration_id(&id)?;
    validate::environment(&input.environment)?;
    state
        .catalog
        .check(&id, &input.environment)
        .map_err(|m| ApiError::unprocessable("unknown_integration", m))?;
    if !state.offers(&id) {
        return Err(ApiError::unprocessable(
            "development_provider",
            format!(
                "{id} is a development provider (a test server on this computer), not offered in production. Set allow_development_providers = true (LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS=true) only on a development server."
            ),
        ));
    }
    if input
        .scopes
        .iter()
        .any(|s| s.is_empty() || s.len() > 256 || s.chars().any(char::is_whitespace))
    {
        return Err(ApiError::unprocessable(
            "invalid_scopes",
            "Each scope is 1-256 characters without spaces.",
        ));
    }
    if input.params.len() > 16
        || input.params.iter().any(|(k, v)| {
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
    if let Some(cid) = &input.client_id
        && (cid.is_empty() || cid.len() > 512 || cid.chars().any(char::is_control))
    {
        return Err(ApiError::unprocessable(
            "invalid_client_id",
            "The client id is 1-512 printable characters.",
        ));
    }
    // One read of the users serves both the allow-list check and the revocations.
    let users = match &input.allowed_users {
        Some(_) => state.db.list_users(&state.org.id).await?,
        None => Vec::new(),
    };
    if let Some(allowed) = &input.allowed_users {
        let known: std::collections::HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
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
    }
    if let Some(url) = &input.api_base_url {
        crate::routes::proxy::validate_base_url(url, state.config.proxy_allow_http)?;
        // The key may only ever go to the provider's own host (a loopback stand-in is
        // allowed where plain http is, in tests).
        if let Some(host) = state.catalog.api_key_host(&id) {
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
    }
    for p in &input.api_paths {
        crate::routes::proxy::validate_path_prefix(p)?;
    }
    if let Some(h) = &input.api_key_header {
        crate::routes::proxy::validate_key_header(h)?;
    }
    let redirect_host = match input.redirect_host.as_deref() {
        None | Some("127.0.0.1") => "127.0.0.1",
        Some("localhost") if state.catalog.allows_localhost_redirect(&id) => "localhost",
        Some("localhost") => {
            return Err(ApiError::unprocessable(
                "invalid_redirect_host",
                "This provider's callback must name 127.0.0.1 (RFC 8252); register http://127.0.0.1 at the provider.",
            ));
        }
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_redirect_host",
                "redirect_host is \"127.0.0.1\" or, for providers that allow it, \"localhost\".",
            ));
        }
    };
    let existing = state.db.get_integration(&state.org.id, &id).await?;
    let default_widgets = match input.default_widgets {
        None => existing.as_ref().and_then(|e| e.default_widgets.clone()),
        Some(None) => None,
        Some(Some(list)) => {
            let offered = state.catalog.widgets(&id);
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
            Some(list)
        }
    };
    let seal = |field: &str,
                update: Option<Option<SecretString>>,
                old: Option<Vec<u8>>|
     -> ApiResult<Option<Vec<u8>>> {
        match update {
            None => Ok(old),
            Some(None) => Ok(None),
            Some(Some(secret)) if secret.is_empty() => Err(ApiError::unprocessable(
                "invalid_secret",
                format!("{field} is empty; send null to clear it."),
            )),
            Some(Some(secret)) => Ok(Some(state.key.seal(
                &secret_context(&state.org.id, &id, field),
                secret.expose().as_bytes(),
            )?)),
        }
    };
    let now = now_millis();
    let new_base = input
        .api_base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    let old_base = existing.as_ref().and_then(|e| e.api_base_url.clone());
    // Pointing a stored key somewhere else (another base URL or header) clears it: the
    // admin enters it again for the new destination.
    let header_of = |h: &Option<String>| h.as_deref().unwrap_or("authorization").to_owned();
    let moved = existing.as_ref().is_some_and(|e| {
        e.api_key_sealed.is_some()
            && ((new_base.is_some() && e.api_base_url != new_base)
                || header_of(&e.api_key_header) != header_of(&input.api_key_header))
    });
    let input_key_absent = input.api_key.is_none();
    let api_key_update = match (&input.api_key, moved) {
        (None, true) => Some(None),
        _ => input.api_key,
    };
    let integration = Integration {
        org_id: state.org.id.clone(),
        id: id.clone(),
        enabled: input.enabled,
        environment: input.environment,
        client_id: input.client_id,
        client_secret_sealed: seal(
            "client_secret",
            input.client_secret,
            existing
                .as_ref()
                .and_then(|e| e.client_secret_sealed.clone()),
        )?,
        scopes: input.scopes,
        params: input.params,
        allowed_users: input.allowed_users,
        api_key_sealed: seal(
            "api_key",
            api_key_update,
            existing.as_ref().and_then(|e| e.api_key_sealed.clone()),
        )?,
        api_base_url: new_base.clone(),
        api_paths: input.api_paths,
        api_key_header: input.api_key_header,
        redirect_host: redirect_host.to_owned(),
        default_widgets,
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
    };
    let was_enabled = existing.as_ref().is_some_and(|e| e.enabled);
    let kind = match (was_enabled, integration.enabled) {
        (false, true) => Some("integration.enabled"),
        (true, true) => Some("integration.updated"),
        // Disabling deletes the records; menus must revoke their tokens at the provider.
        (true, false) => Some("integration.disabled"),
        (false, false) => None,
    };
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "integration.put",
        Some(&id),
        json!({
            "enabled": integration.enabled,
            "environment": integration.environment,
            "client_secret": set_or_not(&integration.client_secret_sealed),
            "api_key": set_or_not(&integration.api_key_sealed),
            "api_key_cleared": moved && input_key_absent,
            "api_base_url": { "old": old_base, "new": integration.api_base_url },
        }),
        kind.map(|k| vec![(None, k, Some(id.clone()))])
            .unwrap_or_default(),
    );
    let excluded = if integration.enabled {
        excluded_users(&state, &auth, &integration, &users)
    } else {
        Vec::new()
    };
    state
        .db
        .put_integration_excluding(&integration, &journal, &excluded)
        .await?;
    Ok(Json(admin_view(&integration)))
}

/// The users an integration's allow-list leaves out, each with the journal of
/// losing their records of it (as for an admin's disconnect); storage revokes
/// them in the transaction that saves the integration, and journals only those
/// who had records.
fn excluded_users(
    state: &Shared,
    auth: &AdminAuth,
    i: &Integration,
    users: &[User],
) -> Vec<ExcludedUser> {
    users
        .iter()
        .filter(|user| !i.allows(&user.id))
        .map(|user| ExcludedUser {
            user_id: user.id.clone(),
            journal: state.journal(
                &Actor::Admin(auth.admin.id.clone()),
                "connection.disconnect",
                Some(&user.id),
                json!({ "integration_id": i.id, "reason": "removed from allowed_users" }),
                vec![(
                    Some(user.id.clone()),
                    "connection.disconnected",
                    Some(i.id.clone()),
                )],
            ),
        })
        .collect()
}

pub async fn delete_integration(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    validate::integration_id(&id)?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "integration.delete",
        Some(&id),
        json!({}),
        vec![(None, "integration.disabled", Some(id.clone()))],
    );
    state
        .db
        .delete_integration(&state.org.id, &id, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => integration_not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- users and enrollment ----

fn user_view(u: &User) -> Value {
    json!({ "id": u.id, "email": u.email, "display_name": u.display_name, "created_at": u.created_at })
}

fn user_not_found() -> ApiError {
    ApiError::not_found(
        "user_not_found",
        "No such user. List users with GET /v1/admin/users.",
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Issues a one-time enrollment code for `user` and its `latchkey://` link.
async fn issue_enrollment(state: &Shared, user: &User) -> ApiResult<Value> {
    let code = new_token(TokenKind::Enrollment)?;
    let now = now_millis();
    let ttl_ms = i64::try_from(state.config.enrollment_code_ttl_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl_ms);
    state
        .db
        .insert_enrollment_code(&EnrollmentCode {
            id: new_id()?,
            org_id: state.org.id.clone(),
            user_id: user.id.clone(),
            code_hash: token_hash(code.expose()),
            created_at: now,
            expires_at,
        })
        .await?;
    let link = format!(
        "latchkey://enroll?server={}&code={}",
        url_encode(&state.origin),
        url_encode(code.expose())
    );
    Ok(json!({ "code": code.expose(), "link": link, "expires_at": expires_at }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    email: String,
    display_name: String,
}

pub async fn invite_user(
    State(state): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<InviteUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let email = validate::normalize_email(&body.email)?;
    validate::name("display_name", &body.display_name)?;
    let user = User {
        id: new_id()?,
        org_id: state.org.id.clone(),
        email,
        display_name: body.display_name.trim().to_owned(),
        created_at: now_millis(),
    };
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "user.invite",
        Some(&user.id),
        json!({ "email": user.email }),
        vec![],
    );
    state.db.create_user(&user, &journal).await.map_err(|e| match e {
        DbError::AlreadyExists(_) => ApiError::conflict(
            "user_exists",
            "A user with this email already exists. Issue them a new code with POST /v1/admin/users/{id}/enrollment.",
        ),
        other => other.into(),
    })?;
    let enrollment = issue_enrollment(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": user_view(&user), "enrollment": enrollment })),
    ))
}

pub async fn new_enrollment(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let enrollment = issue_enrollment(&state, &user).await?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "user.enrollment",
        Some(&user.id),
        json!({}),
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "enrollment": enrollment })),
    ))
}

pub async fn list_users(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Value>> {
    let users: Vec<_> = state
        .db
        .list_users(&state.org.id)
        .await?
        .iter()
        .map(user_view)
        .collect();
    Ok(Json(json!({ "users": users })))
}

pub async fn get_user(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let now = now_millis();
    // Never the codes: when each was made, until when it works, and who redeemed it.
    let codes: Vec<Value> = state
        .db
        .list_enrollment_codes(&state.org.id, &user.id)
        .await?
        .into_iter()
        .map(|c| {
            let status = match (&c.used_at, c.expires_at <= now) {
                (Some(_), _) => "redeemed",
                (None, true) => "expired",
                (None, false) => "waiting",
            };
            json!({
                "id": c.id,
                "status": status,
                "created_at": c.created_at,
                "expires_at": c.expires_at,
                "used_at": c.used_at,
                "device_id": c.device_id,
                "device_name": c.device_name,
            })
        })
        .collect();
    let mut view = user_view(&user);
    view["enrollment_codes"] = Value::Array(codes);
    Ok(Json(view))
}

pub async fn remove_user(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "user.remove",
        Some(&id),
        json!({}),
        vec![],
    );
    state
        .db
        .delete_user(&state.org.id, &id, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => user_not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Per-user connection status: which integrations, environments, when, from
/// which device. Never any token material.
pub async fn user_connections(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let devices = state.db.list_devices(&state.org.id, Some(&user.id)).await?;
    let device_name = |id: &str| devices.iter().find(|d| d.id == id).map(|d| d.name.clone());
    let mut connections: Vec<Value> = state
        .db
        .list_records(&user.id, None)
        .await?
        .iter()
        .map(|r| {
            json!({
                "integration_id": r.slot.integration_id,
                "kind": "oauth",
                "connected": true,
                "environment": r.slot.environment,
                "vault_key_id": r.slot.vault_key_id,
                "version": r.version,
                "device_id": r.device_id,
                "device_name": device_name(&r.device_id),
                "connected_at": r.created_at,
                "updated_at": r.updated_at,
            })
        })
        .collect();
    for i in state.db.list_integrations(&state.org.id).await? {
        if is_api_key(&i) && state.usable_by(&i, &user.id) {
            connections.push(json!({
                "integration_id": i.id,
                "kind": "api_key",
                "connected": true,
                "environment": i.environment,
                "connected_at": i.updated_at,
            }));
        }
    }
    // The kill switch's progress: each order with the device's receipt, and per
    // integration how many devices have not answered yet.
    let orders = state
        .db
        .revocation_orders_for_user(&state.org.id, &user.id)
        .await?;
    let mut pending: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for o in orders.iter().filter(|o| o.receipt.is_none()) {
        *pending.entry(o.integration_id.as_str()).or_default() += 1;
    }
    let revocations: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "integration_id": o.integration_id,
                "environment": o.environment,
                "reason": o.reason,
                "device_id": o.device_id,
                "device_name": device_name(&o.device_id),
                "ordered_at": o.created_at,
                "receipt": o.receipt.as_ref().map(|r| json!({
                    "at": r.at,
                    "provider": r.provider_outcome,
                    "detail": r.provider_detail,
                    "local_wiped": r.local_wiped,
                })),
            })
        })
        .collect();
    Ok(Json(json!({
        "user": user_view(&user),
        "connections": connections,
        "revocations": revocations,
        "revocations_pending": pending,
    })))
}

/// Disconnects a user from an integration: records deleted, an order to each of the
/// user's devices (revoke at the provider, wipe, answer with a receipt), audit event, the
/// devices told through the change feed.
pub async fn disconnect(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path((id, integration)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    validate::integration_id(&integration)?;
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "connection.disconnect",
        Some(&user.id),
        json!({ "integration_id": integration }),
        vec![(
            Some(user.id.clone()),
            "connection.disconnected",
            Some(integration.clone()),
        )],
    );
    let n = state
        .db
        .delete_user_records(
            &user.id,
            &integration,
            revocation_reason::DISCONNECT,
            now_millis(),
            &journal,
        )
        .await?;
    Ok(Json(json!({ "deleted_records": n })))
}

// ---- devices ----

fn device_view(d: &Device) -> Value {
    json!({
        "id": d.id,
        "user_id": d.user_id,
        "name": d.name,
        "created_at": d.created_at,
        "last_seen_at": d.last_seen_at,
        "revoked_at": d.revoked_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    user_id: Option<String>,
}

pub async fn list_devices(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<Json<Value>> {
    let devices: Vec<_> = state
        .db
        .list_devices(&state.org.id, q.user_id.as_deref())
        .await?
        .iter()
        .map(device_view)
        .collect();
    Ok(Json(json!({ "devices": devices })))
}

pub async fn revoke_device(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let Some(device) = state
        .db
        .list_devices(&state.org.id, None)
        .await?
        .into_iter()
        .find(|d| d.id == id)
    else {
        return Err(ApiError::not_found(
            "device_not_found",
            "No such device. List devices with GET /v1/admin/devices.",
        ));
    };
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "device.revoke",
        Some(&device.id),
        json!({ "user_id": device.user_id }),
        vec![(Some(device.user_id.clone()), "device.revoked", None)],
    );
    let device = state
        .db
        .revoke_device(&state.org.id, &id, now_millis(), &journal)
        .await?;
    Ok(Json(device_view(&device)))
}

// ---- audit ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    limit: Option<i64>,
    /// Cursor: only events older than this id (the previous page's `next_before`).
    before: Option<i64>,
    action: Option<String>,
    /// A user (or admin, or device) id: events they did, or that were done to them.
    user: Option<String>,
    integration: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    since: Option<i64>,
    until: Option<i64>,
}

fn bad_filter(name: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!("The {name} filter holds characters no {name} has."),
    )
}

pub async fn audit(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let id_like = |v: &str| {
        !v.is_empty()
            && v.len() <= 128
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if let Some(a) = &q.action
        && !id_like(a)
    {
        return Err(bad_filter("action"));
    }
    if let Some(u) = &q.user
        && !id_like(u)
    {
        return Err(bad_filter("user"));
    }
    if let Some(i) = &q.integration {
        validate::integration_id(i)?;
    }
    let query = latchkey_server_database::AuditQuery {
        limit,
        before_id: q.before,
        action: q.action,
        subject: q.user,
        integration: q.integration,
        since: q.since,
        until: q.until,
    };
    let events: Vec<_> = state
        .db
        .list_audit(&state.org.id, &query)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": e.at,
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id,
                "action": e.action,
                "target": e.target,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    // A full page may have more behind it: hand out the cursor.
    let next_before = if i64::try_from(events.len()).unwrap_or(i64::MAX) == limit {
        events.last().map(|e| e["id"].clone())
    } else {
        None
    };
    Ok(Json(
        json!({ "events": events, "next_before": next_before }),
    ))
}

// ---- enrollment (devices) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    code: SecretString,
    device_name: String,
}

pub async fn enroll(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<Enroll>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    state
        .auth_limiter
        .check(&format!("enroll-ip:{}", peer))
        .map_err(ApiError::too_many)?;
    validate::name("device_name", &body.device_name)?;
    if !TokenKind::Enrollment.matches(body.code.expose()) {
        return Err(DbError::Code(latchkey_server_database::CodeProblem::Unknown).into());
    }
    let token = new_token(TokenKind::Device)?;
    let now = now_millis();
    let device = Device {
        id: new_id()?,
        org_id: state.org.id.clone(),
        user_id: String::new(),
        name: body.device_name.trim().to_owned(),
        token_hash: token_hash(token.expose()),
        created_at: now,
        last_seen_at: None,
        revoked_at: None,
    };
    let journal = state.journal(
        &Actor::System,
        "device.enroll",
        None,
        json!({ "device_name": device.name }),
        vec![],
    );
    let (device, user) = state
        .db
        .redeem_enrollment_code(&token_hash(body.code.expose()), now, &device, &journal)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "device_token": token.expose(),
            "device": device_view(&device),
            "user": user_view(&user),
            "server": state.origin,
        })),
    ))
}
