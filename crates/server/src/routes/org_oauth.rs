//! Authorizing an org connection: the OAuth web-server flow in the admin's browser, with
//! the server's own callback (`/v1/oauth/callback`), PKCE S256, and a state bound to the
//! admin's console session and to the connection, sealed into a short-lived cookie (the
//! machinery of `oauth_flow`, shared with company sign-in). The tokens stay on the server,
//! sealed (`org_tokens`); Revoke deletes them and revokes them at the provider.

use crate::auth::{AdminAuth, SESSION_COOKIE, cookie};
use crate::crypto::{TokenKind, token_hash, token_matches};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::oauth_flow::{
    IssProblem, PENDING_TTL_MS, UsedStates, check_iss, open_pending, page, pending_cookie,
    plain_text, random_text, redirect, s256, seal_pending,
};
use crate::org_tokens::{self, TokenError};
use crate::state::{Actor, AppState, Shared, now_millis};
use crate::validate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::admin::{OrgAuthorizeStart, OrgRevoked};
use latchkey_secret::{SecretString, constant_time_eq};
use latchkey_server_database::{CredentialKind, Integration};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::OnceLock;

/// The cookie holding the sealed authorization in progress.
const PENDING_COOKIE: &str = "latchkey_org_oauth";
/// Its sealing context, so it cannot be replayed as another sealed value (a sign-in's).
const PENDING_CONTEXT: &str = "org-oauth/pending";
/// The server's own callback, registered at the provider for org connections.
pub const CALLBACK_PATH: &str = "/v1/oauth/callback";

/// The callback the server sends in `redirect_uri`, which the admin registers.
pub(crate) fn callback_uri(state: &Shared) -> String {
    format!("{}{CALLBACK_PATH}", state.origin)
}

/// An authorization in progress, sealed into the admin's browser.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    /// The connection it authorizes, and in which environment.
    integration_id: String,
    environment: String,
    /// The console session that pressed Authorize, and its admin: the callback must
    /// arrive in that same session.
    session_id: String,
    admin_id: String,
    expires_at: i64,
}

fn used_states() -> &'static UsedStates {
    static USED: OnceLock<UsedStates> = OnceLock::new();
    USED.get_or_init(UsedStates::default)
}

fn not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::INTEGRATION_NOT_FOUND,
        "This integration is not configured. Configure it with PUT first.",
    )
}

async fn org_integration(state: &Shared, id: &str) -> ApiResult<Integration> {
    validate::integration_id(id)?;
    let i = state
        .db
        .get_integration(&state.org.id, id)
        .await?
        .ok_or_else(not_found)?;
    if !i.org_wide {
        return Err(ApiError::conflict(
            ErrorCode::ORG_NOT_ORG_WIDE,
            "This integration is not an org connection. Turn on \"Org-wide\" and save first.",
        ));
    }
    Ok(i)
}

/// `POST /v1/admin/integrations/{id}/authorize`: starts the flow for a console session;
/// answers the provider's authorization URL, the flow's state in an HttpOnly cookie.
pub async fn authorize(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if auth.credential.kind != CredentialKind::Session {
        return Err(ApiError::forbidden(
            ErrorCode::ORG_AUTHORIZE_NEEDS_SESSION,
            "Authorize runs in the console, in your browser: sign in to the console and press Authorize on the integration's page.",
        ));
    }
    let i = org_integration(&state, &id).await?;
    if !i.enabled {
        return Err(ApiError::conflict(
            ErrorCode::ORG_NOT_ENABLED,
            "Enable this integration before authorizing it.",
        ));
    }
    let provider = org_tokens::resolve(&state, &i)?;
    let oauth = provider.oauth2().ok_or_else(ApiError::internal)?;
    let pending = Pending {
        state: random_text()?,
        verifier: random_text()?,
        integration_id: i.id.clone(),
        environment: i.environment.clone(),
        session_id: auth.credential.id.clone(),
        admin_id: auth.admin.id.clone(),
        expires_at: now_millis().saturating_add(PENDING_TTL_MS),
    };
    let scopes = if i.scopes.is_empty() {
        &oauth.default_scopes
    } else {
        &i.scopes
    };
    let mut url = oauth.authorization_url.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", i.client_id.as_deref().unwrap_or_default())
            .append_pair("redirect_uri", &callback_uri(&state))
            .append_pair(&oauth.scope_param, &oauth.join_scopes(scopes))
            .append_pair("state", &pending.state)
            .append_pair("code_challenge", &s256(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in &oauth.extra_authorization_params {
            q.append_pair(k, v);
        }
    }
    let sealed =
        seal_pending(&state.key, PENDING_CONTEXT, &pending).ok_or_else(ApiError::internal)?;
    let cookie =
        pending_cookie(&state, PENDING_COOKIE, Some(&sealed)).ok_or_else(ApiError::internal)?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "org_connection.authorize_started",
        Some(&i.id),
        json!({ "environment": i.environment }),
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    let mut response = Json(OrgAuthorizeStart {
        authorization_url: url.to_string(),
    })
    .into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<SecretString>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    page(status, code, "Authorization refused", message)
}

/// The console session the request carries, if it is `session_id` of `admin_id`.
async fn same_session(state: &Shared, headers: &HeaderMap, pending: &Pending) -> bool {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| TokenKind::Session.matches(t))
    else {
        return false;
    };
    let Ok(Some(c)) = state
        .db
        .admin_credential_by_hash(&token_hash(token), now_millis())
        .await
    else {
        return false;
    };
    c.kind == CredentialKind::Session
        && token_matches(token, &c.token_hash)
        && c.org_id == state.org.id
        && constant_time_eq(c.id.as_bytes(), pending.session_id.as_bytes())
        && c.admin_id == pending.admin_id
}

/// `GET /v1/oauth/callback`: the provider's answer to an org connection's authorization.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let clear = pending_cookie(&state, PENDING_COOKIE, None);
    let with_clear = |mut r: Response| {
        if let Some(c) = &clear {
            r.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        r
    };
    let Some(pending) = cookie(&headers, PENDING_COOKIE)
        .and_then(|c| open_pending::<Pending>(&state.key, PENDING_CONTEXT, c))
    else {
        return with_clear(refused(
            StatusCode::BAD_REQUEST,
            "org.no_pending_authorization",
            "This browser has no authorization in progress (it was started in another browser, finished already, or is older than 10 minutes). Press Authorize again in the console.",
        ));
    };
    if pending.expires_at <= now_millis() {
        return with_clear(refused(
            StatusCode::BAD_REQUEST,
            "org.authorization_expired",
            "This authorization was started more than 10 minutes ago. Press Authorize again.",
        ));
    }
    let state_ok = q
        .state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
    if !state_ok {
        return with_clear(refused(
            StatusCode::BAD_REQUEST,
            "org.state_mismatch",
            "This answer from the provider does not belong to the authorization this browser started (for this connection), so it was refused. Press Authorize again.",
        ));
    }
    if !same_session(&state, &headers, &pending).await {
        return with_clear(refused(
            StatusCode::FORBIDDEN,
            "org.session_mismatch",
            "This answer arrived outside the console session that pressed Authorize (signed out, or another admin), so it was refused. Sign in and press Authorize again.",
        ));
    }
    if !used_states().use_state(&pending.state, pending.expires_at) {
        return with_clear(refused(
            StatusCode::BAD_REQUEST,
            "org.state_used",
            "This authorization was already completed; an answer can be used only once. Press Authorize again.",
        ));
    }
    let outcome = finish(&state, &q, &pending).await;
    with_clear(match outcome {
        Ok(response) => response,
        Err((status, code, message)) => {
            tracing::warn!(code = %code, integration = %pending.integration_id, "org connection authorization refused");
            refused(status, &code, &message)
        }
    })
}

type Refusal = (StatusCode, String, String);

fn refusal(status: StatusCode, code: &str, message: impl Into<String>) -> Refusal {
    (status, code.to_owned(), message.into())
}

async fn finish(
    state: &AppState,
    q: &CallbackQuery,
    pending: &Pending,
) -> Result<Response, Refusal> {
    let i = org_integration(state, &pending.integration_id)
        .await
        .map_err(|e| refusal(StatusCode::CONFLICT, &e.code, e.message))?;
    if !i.enabled || i.environment != pending.environment {
        return Err(refusal(
            StatusCode::CONFLICT,
            "org.connection_changed",
            "The connection was disabled or moved to another environment while you were authorizing it. Press Authorize again.",
        ));
    }
    let provider = org_tokens::resolve(state, &i)
        .map_err(|e| refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.code, e.message))?;
    let oauth = provider.oauth2().ok_or_else(|| {
        refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    // RFC 9207: the answer must come from the provider this connection talks to.
    let expected = oauth.issuer.clone().unwrap_or_default();
    match check_iss(
        q.iss.as_deref(),
        &expected,
        oauth.iss_in_authorization_response,
    ) {
        Err(IssProblem::Wrong) => {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "org.wrong_issuer",
                "This answer came from another authorization server than the connection's provider, so it was refused. Press Authorize again.",
            ));
        }
        Err(IssProblem::Missing) => {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "org.issuer_missing",
                "The provider's answer does not name the provider (iss), which it always does, so it was refused. Press Authorize again.",
            ));
        }
        Ok(()) if expected.is_empty() && q.iss.is_some() => {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "org.wrong_issuer",
                "The provider's answer names an issuer the catalog does not know for it, so it was refused.",
            ));
        }
        Ok(()) => {}
    }
    if let Some(error) = q.error.as_deref() {
        let description = q
            .error_description
            .as_deref()
            .map(|d| format!(": {}", plain_text(d, 200)))
            .unwrap_or_default();
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "org.provider_refused",
            format!(
                "The provider did not authorize the connection ({}{description}). Press Authorize again, or check the app registered at the provider.",
                plain_text(error, 64)
            ),
        ));
    }
    let Some(code) = q.code.as_ref().filter(|c| !c.expose().is_empty()) else {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "org.no_code",
            "The provider's answer has neither a code nor an error. Press Authorize again.",
        ));
    };
    let answer = org_tokens::exchange_code(
        state,
        &provider,
        &i,
        code,
        &pending.verifier,
        &callback_uri(state),
    )
    .await
    .map_err(|e| {
        let code = match e {
            TokenError::Refused(_) => "org.token_request",
            TokenError::Unreachable => "upstream_unreachable",
            TokenError::Malformed => "org.token_response",
        };
        refusal(
            StatusCode::BAD_GATEWAY,
            code,
            format!(
                "The authorization could not be completed: {}. Press Authorize again; if it keeps failing, check the client id and secret.",
                e.describe()
            ),
        )
    })?;
    let admin = state
        .db
        .admin_by_id(&pending.admin_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            refusal(
                StatusCode::FORBIDDEN,
                "org.session_mismatch",
                "The admin who started this is gone.",
            )
        })?;
    let internal = |_| {
        refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The server could not store the authorization; its log says why.",
        )
    };
    let row = org_tokens::sealed_row(state, &i, &answer, &admin.email).map_err(internal)?;
    let actor = Actor::Admin(admin.id.clone());
    // The earlier authorization goes first (Salesforce allows five per user and app and
    // silently drops the oldest): one live grant per connection.
    if let Err(e) = org_tokens::revoke(state, &i, &actor, "reauthorized").await {
        tracing::warn!(error = %e.message, "could not revoke an org connection's earlier authorization");
    }
    let journal = state.journal(
        &actor,
        "org_connection.authorized",
        Some(&i.id),
        json!({ "environment": i.environment, "refresh_token": answer.refresh.is_some() }),
        vec![],
    );
    state
        .db
        .put_org_token(&row, &journal)
        .await
        .map_err(|e| internal(ApiError::from(e)))?;
    let back = format!(
        "/console/integrations/{}?authorized=1",
        url::form_urlencoded::byte_serialize(i.id.as_bytes()).collect::<String>()
    );
    Ok(redirect(&back, &[]))
}

/// `POST /v1/admin/integrations/{id}/revoke`: deletes the server's tokens and revokes
/// them at the provider.
pub async fn revoke(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgRevoked>> {
    let i = org_integration(&state, &id).await?;
    let actor = Actor::Admin(auth.admin.id.clone());
    match org_tokens::revoke(&state, &i, &actor, "admin").await? {
        Some((revoked_at_provider, message)) => Ok(Json(OrgRevoked {
            revoked_at_provider,
            message,
        })),
        None => Err(ApiError::conflict(
            ErrorCode::ORG_NOT_AUTHORIZED,
            "This org connection holds no authorization to revoke.",
        )),
    }
}
