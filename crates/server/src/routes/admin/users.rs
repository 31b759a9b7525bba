//! Admin routes for users and their devices: inviting (which also issues the
//! first enrollment code), listing, removing, per-user connection status and
//! disconnecting, and listing and revoking devices. Users and devices share a
//! module because every device belongs to a user and the views cross-reference.

use super::enrollment::issue_enrollment;
use super::validate;
use crate::auth::AdminAuth;
use crate::crypto::new_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::client::{device_info, is_api_key, user_info};
use crate::state::{Actor, AppState, Shared, UserGroups, now_millis};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_protocol::admin::{
    self as wire, ApiKeyConnection, Connection, DeviceList, Disconnected, EnrollmentCode,
    EnrollmentCodeStatus, Invited, OauthConnection, Revocation, RevocationReceiptView,
    UserConnections, UserDetail, UserList,
};
use latchkey_server_database::{DbError, User, revocation_reason};
use serde::Deserialize;
use serde_json::json;

// ---- users ----

pub(super) fn user_not_found() -> ApiError {
    ApiError::not_found(
        "user_not_found",
        "No such user. List users with GET /v1/admin/users.",
    )
}

pub async fn invite_user(
    State(state): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<wire::InviteUser>,
) -> ApiResult<(StatusCode, Json<Invited>)> {
    let email = validate::normalize_email(&body.email)?;
    validate::name("display_name", &body.display_name)?;
    let user = User::new(
        new_id()?,
        state.org.id.clone(),
        email,
        body.display_name.trim().to_owned(),
        now_millis(),
    );
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
        Json(Invited {
            user: user_info(&user),
            enrollment,
        }),
    ))
}

pub async fn list_users(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<UserList>> {
    let users = state
        .db
        .list_users(&state.org.id)
        .await?
        .iter()
        .map(user_info)
        .collect();
    Ok(Json(UserList { users }))
}

pub async fn get_user(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserDetail>> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let now = now_millis();
    // Never the codes: when each was made, until when it works, and who redeemed it.
    let enrollment_codes = state
        .db
        .list_enrollment_codes(&state.org.id, &user.id)
        .await?
        .into_iter()
        .map(|c| {
            let status = match (&c.used_at, c.expires_at <= now) {
                (Some(_), _) => EnrollmentCodeStatus::Redeemed,
                (None, true) => EnrollmentCodeStatus::Expired,
                (None, false) => EnrollmentCodeStatus::Waiting,
            };
            EnrollmentCode {
                id: c.id,
                status,
                created_at: c.created_at,
                expires_at: c.expires_at,
                used_at: c.used_at,
                device_id: c.device_id,
                device_name: c.device_name,
            }
        })
        .collect();
    Ok(Json(UserDetail {
        user: user_info(&user),
        enrollment_codes,
    }))
}

pub async fn remove_user(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    remove_user_as(&state, &Actor::Admin(auth.admin.id.clone()), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The leaver flow, for an admin or the identity provider (SCIM DELETE): every device
/// gets a revocation order for every connection, then the user goes with their devices,
/// codes and records.
pub(crate) async fn remove_user_as(state: &Shared, actor: &Actor, id: &str) -> ApiResult<()> {
    let journal = state.journal(actor, "user.remove", Some(id), json!({}), vec![]);
    state
        .db
        .delete_user(&state.org.id, id, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => user_not_found(),
            other => other.into(),
        })?;
    Ok(())
}

/// Per-user connection status: which integrations, environments, when, from
/// which device. Never any token material.
pub async fn user_connections(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserConnections>> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let devices = state.db.list_devices(&state.org.id, Some(&user.id)).await?;
    let device_name = |id: &str| devices.iter().find(|d| d.id == id).map(|d| d.name.clone());
    let mut connections: Vec<Connection> = state
        .db
        .list_records(&user.id, None)
        .await?
        .iter()
        .map(|r| {
            Connection::Oauth(OauthConnection {
                integration_id: r.slot.integration_id.clone(),
                connected: true,
                environment: r.slot.environment.clone(),
                vault_key_id: r.slot.vault_key_id.clone(),
                version: r.version,
                device_id: r.device_id.clone(),
                device_name: device_name(&r.device_id),
                connected_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect();
    let mut who = UserGroups::new(&user.id);
    for i in state.db.list_integrations(&state.org.id).await? {
        if is_api_key(&i) && state.usable_by(&i, &mut who).await? {
            connections.push(Connection::ApiKey(ApiKeyConnection {
                integration_id: i.id,
                connected: true,
                environment: i.environment,
                connected_at: i.updated_at,
            }));
        }
    }
    // The kill switch's progress: each order with the device's receipt, and per
    // integration how many devices have not answered yet.
    let orders = state
        .db
        .revocation_orders_for_user(&state.org.id, &user.id)
        .await?;
    let mut pending: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for o in orders.iter().filter(|o| o.receipt.is_none()) {
        *pending.entry(o.integration_id.clone()).or_default() += 1;
    }
    let revocations = orders
        .iter()
        .map(|o| Revocation {
            id: o.id.clone(),
            integration_id: o.integration_id.clone(),
            environment: o.environment.clone(),
            reason: o.reason.clone(),
            device_id: o.device_id.clone(),
            device_name: device_name(&o.device_id),
            ordered_at: o.created_at,
            receipt: o.receipt.as_ref().map(|r| RevocationReceiptView {
                at: r.at,
                provider: r.provider_outcome.clone(),
                detail: r.provider_detail.clone(),
                local_wiped: r.local_wiped,
            }),
        })
        .collect();
    // What the user gave for values their connections ask at connect (the matrix shows it).
    let values = state
        .db
        .connection_values(&state.org.id, &user.id)
        .await?
        .into_iter()
        .map(|v| (v.integration_id, v.values))
        .collect();
    Ok(Json(UserConnections {
        user: user_info(&user),
        connections,
        revocations,
        revocations_pending: pending,
        values,
    }))
}

/// Disconnects a user from an integration: records deleted, an order to each of the
/// user's devices (revoke at the provider, wipe, answer with a receipt), audit event, the
/// devices told through the change feed.
pub async fn disconnect(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path((id, integration)): Path<(String, String)>,
) -> ApiResult<Json<Disconnected>> {
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
    Ok(Json(Disconnected { deleted_records: n }))
}

// ---- devices ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    user_id: Option<String>,
}

pub async fn list_devices(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<Json<DeviceList>> {
    let devices = state
        .db
        .list_devices(&state.org.id, q.user_id.as_deref())
        .await?
        .iter()
        .map(device_info)
        .collect();
    Ok(Json(DeviceList { devices }))
}

pub async fn revoke_device(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Device>> {
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
    Ok(Json(device_info(&device)))
}
