//! Admin route for the audit trail: events newest first, filtered by action,
//! user, integration and time, paged with a `next_before` cursor.

use super::validate;
use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use latchkey_protocol::admin::{ActorKind, AuditEvent, AuditPage};
use serde::Deserialize;
use serde_json::Value;

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

pub async fn audit(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    validate::audit_filter("action", q.action.as_deref())?;
    validate::audit_filter("user", q.user.as_deref())?;
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
    let events = state
        .db
        .list_audit(&state.org.id, &query)
        .await?
        .into_iter()
        .map(|e| {
            // Only the server writes actor kinds: another one is a damaged row.
            let actor_kind = ActorKind::parse(&e.actor_kind).ok_or_else(|| {
                tracing::error!(id = e.id, actor_kind = %e.actor_kind, "audit event with an unknown actor kind");
                ApiError::internal()
            })?;
            Ok(AuditEvent {
                id: e.id,
                at: e.at,
                actor_kind,
                actor_id: e.actor_id,
                action: e.action,
                target: e.target,
                detail: serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    // A full page may have more behind it: hand out the cursor.
    let next_before = if i64::try_from(events.len()).unwrap_or(i64::MAX) == limit {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        events,
        next_before,
    }))
}
