//! SCIM tokens: the bearer tokens an identity provider provisions users with
//! ([`crate::routes::scim`]). A separate kind from admin API tokens (their own
//! prefix, table and routes) so neither opens the other's API. Issued once, stored
//! as SHA-256 like every other token, listed without secrets, revoked in one call;
//! issue, revoke and refused uses are audited.

use crate::auth::AdminAuth;
use crate::crypto::{TokenKind, new_id, new_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::OptionalJson;
use crate::state::{Actor, AppState, Shared, now_millis};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latchkey_protocol::admin::{
    self as wire, CreateScimToken, CreatedScimToken, ScimTokenList, ScimTokenStatus, ShownOnce,
};
use latchkey_server_database::{DbError, ScimToken};
use serde_json::json;

/// How long a SCIM token lives unless the admin says otherwise, and at most.
pub const DEFAULT_TTL_DAYS: i64 = 365;
pub const MAX_TTL_DAYS: i64 = 730;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The URL to paste into the identity provider.
pub fn scim_base_url(state: &Shared) -> String {
    format!("{}/scim/v2", state.origin.trim_end_matches('/'))
}

fn view(t: &ScimToken, now: i64) -> wire::ScimToken {
    let status = if t.revoked_at.is_some() {
        ScimTokenStatus::Revoked
    } else if t.expires_at <= now {
        ScimTokenStatus::Expired
    } else {
        ScimTokenStatus::Active
    };
    wire::ScimToken {
        id: t.id.clone(),
        name: t.name.clone(),
        status,
        created_at: t.created_at,
        created_by: t.created_by.clone(),
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
    }
}

pub async fn create(
    State(state): State<AppState>,
    auth: AdminAuth,
    OptionalJson(body): OptionalJson<CreateScimToken>,
) -> ApiResult<(StatusCode, Json<CreatedScimToken>)> {
    let body = body.unwrap_or_default();
    let name = body.name.unwrap_or_else(|| "SCIM token".to_owned());
    crate::validate::name("name", &name)?;
    let ttl_days = body.ttl_days.unwrap_or(DEFAULT_TTL_DAYS);
    if !(1..=MAX_TTL_DAYS).contains(&ttl_days) {
        return Err(ApiError::unprocessable(
            "invalid_ttl",
            format!("ttl_days must be between 1 and {MAX_TTL_DAYS}."),
        ));
    }
    let secret = new_token(TokenKind::Scim)?;
    let now = now_millis();
    let token = ScimToken {
        id: new_id()?,
        org_id: state.org.id.clone(),
        name: name.trim().to_owned(),
        token_hash: token_hash(secret.expose()),
        created_by: Some(auth.admin.id.clone()),
        created_at: now,
        expires_at: now.saturating_add(ttl_days.saturating_mul(DAY_MS)),
        last_used_at: None,
        revoked_at: None,
    };
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "scim.token.issue",
        Some(&token.id),
        json!({ "name": token.name, "expires_at": token.expires_at }),
        vec![],
    );
    state.db.insert_scim_token(&token, &journal).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedScimToken {
            token: ShownOnce::new(secret.expose()),
            scim_token: view(&token, now),
            scim_base_url: scim_base_url(&state),
        }),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<ScimTokenList>> {
    let now = now_millis();
    let tokens = state
        .db
        .list_scim_tokens(&state.org.id)
        .await?
        .iter()
        .map(|t| view(t, now))
        .collect();
    Ok(Json(ScimTokenList {
        tokens,
        scim_base_url: scim_base_url(&state),
    }))
}

pub async fn revoke(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "scim.token.revoke",
        Some(&id),
        json!({}),
        vec![],
    );
    state
        .db
        .revoke_scim_token(&state.org.id, &id, now_millis(), &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => ApiError::not_found(
                "scim_token_not_found",
                "No such SCIM token, or it was already revoked. List tokens with GET /v1/admin/scim-tokens.",
            ),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
