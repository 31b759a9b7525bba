//! A device's connection records (`/v1/records/...`): list, read, and write and
//! delete with version compare-and-swap (`If-Match` / `If-None-Match: *`). The
//! user always comes from the device token, never from the path; the server only
//! ever holds the sealed envelope.

use super::client::same_environment;
use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, now_millis};
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_protocol::device::{
    ChangeKind, DeletedRecord, PutRecordRequest, Record, RecordList, RecordListQuery,
};
use latchkey_protocol::ids::{EnvironmentName, IntegrationId, VaultKeyId};
use latchkey_server_database::{ConnectionRecord, DeviceSlot, Integration, Precondition, SlotKey};
use serde_json::json;

/// A record as the API shows it; the envelope only where the device reads it.
fn meta(r: &ConnectionRecord, with_envelope: bool) -> Record {
    Record {
        integration_id: r.slot.integration_id.clone().into(),
        environment: r.slot.environment.clone().into(),
        vault_key_id: r.slot.vault_key_id.clone().into(),
        version: r.version,
        device_id: r.device_id.clone().into(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        envelope: with_envelope.then(|| STANDARD.encode(&r.envelope)),
    }
}

/// How many records one device may keep for one integration and environment, each under
/// another vault key (a device gets a new vault key only when it lost the old one).
const MAX_VAULT_KEYS_PER_SLOT: usize = 5;

/// How many records one user may keep for one integration and environment across all
/// their devices: one per device, each with its own vault key, so a user's sixth
/// computer can still connect (and a provider's approval limit, not this, decides
/// which grants stay live), while the number of slots stays bounded.
const MAX_RECORDS_PER_USER_SLOT: usize = 50;

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

pub async fn list_records(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Query(q): Query<RecordListQuery>,
) -> ApiResult<Json<RecordList>> {
    let integration = match &q.integration {
        Some(i) => Some(IntegrationId::parse(i)?),
        None => None,
    };
    let records = state
        .db
        .list_records(&auth.user.id, integration.as_deref())
        .await?;
    let records = records.iter().map(|r| meta(r, true)).collect();
    Ok(Json(RecordList { records }))
}

fn slot(
    auth: &DeviceAuth,
    integration: String,
    environment: String,
    vault_key_id: String,
) -> ApiResult<SlotKey> {
    // The user always comes from the token, never from the request: a device can
    // only ever address its own user's slots.
    Ok(device_slot(integration, environment, vault_key_id)?.of_user(&auth.user.id))
}

fn device_slot(
    integration: String,
    environment: String,
    vault_key_id: String,
) -> ApiResult<DeviceSlot> {
    let integration = IntegrationId::parse(&integration)?;
    let environment = EnvironmentName::parse(&environment)?;
    let vault_key_id = VaultKeyId::parse(&vault_key_id)?;
    Ok(DeviceSlot {
        vault_key_id: vault_key_id.into(),
        integration_id: integration.into(),
        environment: environment.into(),
    })
}

/// The slot path of the record routes, when it names a valid slot (the handler
/// refuses any other after authentication, as before).
async fn named_slot(parts: &mut Parts, state: &AppState) -> Option<DeviceSlot> {
    let Path((integration, environment, vault_key_id)) =
        Path::<(String, String, String)>::from_request_parts(parts, state)
            .await
            .ok()?;
    device_slot(integration, environment, vault_key_id).ok()
}

/// A record GET's device authentication with the record itself, read in one round
/// trip ([`latchkey_server_database::Database::device_and_record`]); the record is
/// handed over only once the device passed every check of [`DeviceAuth`].
pub struct RecordRead {
    auth: DeviceAuth,
    /// The slot the path names and its live record; `None` when the path is not a
    /// valid slot.
    read: Option<(DeviceSlot, Option<ConnectionRecord>)>,
}

impl FromRequestParts<AppState> for RecordRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(named) = named_slot(parts, state).await else {
            let auth = DeviceAuth::from_request_parts(parts, state).await?;
            return Ok(Self { auth, read: None });
        };
        let slot = &named;
        let (auth, record) = DeviceAuth::with(parts, state, |hash| async move {
            state.db.device_and_record(&hash, slot).await
        })
        .await?;
        Ok(Self {
            auth,
            read: Some((named, record)),
        })
    }
}

/// A record PUT's device authentication with the integration the write is checked
/// against, read in one round trip
/// ([`latchkey_server_database::Database::device_and_integration`]).
pub struct RecordWriteAuth {
    auth: DeviceAuth,
    /// The integration id the path names and its configuration; `None` when the path
    /// is not a valid slot.
    integration: Option<(String, Option<Integration>)>,
}

impl FromRequestParts<AppState> for RecordWriteAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(named) = named_slot(parts, state).await else {
            let auth = DeviceAuth::from_request_parts(parts, state).await?;
            return Ok(Self {
                auth,
                integration: None,
            });
        };
        let id = named.integration_id;
        let integration_id = id.as_str();
        let (auth, found) = DeviceAuth::with(parts, state, |hash| async move {
            state
                .db
                .device_and_integration(&hash, &state.org.id, integration_id)
                .await
        })
        .await?;
        Ok(Self {
            auth,
            integration: Some((id, found)),
        })
    }
}

pub async fn get_record(
    State(state): State<AppState>,
    RecordRead { auth, read }: RecordRead,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let record = match read {
        Some((named, record)) if named.of_user(&auth.user.id) == slot => record,
        _ => state.db.get_record(&slot).await?,
    };
    let Some(record) = record else {
        return Err(ApiError::not_found(
            ErrorCode::RECORD_NOT_FOUND,
            "There is no record in this slot. Create it with PUT and If-None-Match: *.",
        ));
    };
    let mut response = Json(meta(&record, true)).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(record.version));
    Ok(response)
}

/// Parses `If-Match: 3` / `If-Match: "3"` or `If-None-Match: *`.
fn precondition(headers: &HeaderMap) -> ApiResult<Precondition> {
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or(""));
    let if_none = headers
        .get(header::IF_NONE_MATCH)
        .map(|v| v.to_str().unwrap_or(""));
    match (if_match, if_none) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            ErrorCode::CONFLICTING_PRECONDITIONS,
            "Send either If-Match: <version> (update) or If-None-Match: * (create), not both.",
        )),
        (None, Some(v)) if v.trim() == "*" => Ok(Precondition::Absent),
        (None, Some(_)) => Err(ApiError::bad_request(
            ErrorCode::INVALID_PRECONDITION,
            "If-None-Match only supports '*' (create if absent).",
        )),
        (Some(v), None) => v
            .trim()
            .trim_matches('"')
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Precondition::Version)
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::INVALID_PRECONDITION,
                    "If-Match must be the record's version, such as If-Match: 3.",
                )
            }),
        (None, None) => Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::PRECONDITION_REQUIRED,
            "Writes are compare-and-swap: send If-Match: <version> to update or If-None-Match: * to create.",
        )),
    }
}

pub async fn put_record(
    State(state): State<AppState>,
    RecordWriteAuth {
        auth,
        integration: prefetched,
    }: RecordWriteAuth,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PutRecordRequest>,
) -> ApiResult<Response> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let pre = precondition(&headers)?;
    let max = state.config.max_envelope_bytes;
    if body.envelope.len() > max.div_ceil(3) * 4 + 4 {
        return Err(envelope_too_large(max));
    }
    let envelope = STANDARD.decode(body.envelope.as_bytes()).map_err(|_| {
        ApiError::unprocessable(
            ErrorCode::INVALID_ENVELOPE,
            "The envelope must be standard base64 of the sealed record.",
        )
    })?;
    if envelope.len() > max {
        return Err(envelope_too_large(max));
    }
    if envelope.is_empty() {
        return Err(ApiError::unprocessable(
            ErrorCode::INVALID_ENVELOPE,
            "The envelope is empty.",
        ));
    }
    let found = match prefetched {
        Some((id, found)) if id == slot.integration_id => found,
        _ => {
            state
                .db
                .get_integration(&state.org.id, &slot.integration_id)
                .await?
        }
    };
    let integration = state.usable(found, &auth.user.id).await?;
    // A slot only where the admin enabled the integration (or at the login host this
    // user gave, where the connection asks for one): a device cannot grow records for
    // environments no one configured.
    let enabled =
        super::connection_values::environment_for(&state, &integration, &auth.user.id).await?;
    if !same_environment(&slot.environment, &enabled) {
        return Err(ApiError::forbidden(
            ErrorCode::ENVIRONMENT_NOT_ENABLED,
            format!(
                "Your admin enabled this integration for {enabled} only, not {}. Connect without choosing an environment, or ask your admin.",
                slot.environment
            ),
        ));
    }
    if pre == Precondition::Absent {
        // One record per vault key; a user gets a new vault key only when the old one
        // is lost, so a handful is plenty and the number of slots stays bounded.
        let others: Vec<ConnectionRecord> = state
            .db
            .list_records(&auth.user.id, Some(&slot.integration_id))
            .await?
            .into_iter()
            .filter(|r| {
                r.slot.environment == slot.environment && r.slot.vault_key_id != slot.vault_key_id
            })
            .collect();
        let live = others
            .iter()
            .filter(|r| r.device_id == auth.device.id)
            .count();
        if live >= MAX_VAULT_KEYS_PER_SLOT || others.len() >= MAX_RECORDS_PER_USER_SLOT {
            let live = live.max(others.len());
            return Err(ApiError::conflict(
                ErrorCode::TOO_MANY_RECORDS,
                format!(
                    "You already have {live} stored connections to this integration, each under another vault key. Revoke the old ones (latchkey revoke, or Revoke in the menu) and connect again."
                ),
            ));
        }
        if body.new_grant {
            state.db.clear_admin_revocation(&slot).await?;
        } else if state.db.admin_revoked(&slot).await? {
            return Err(ApiError::new(
                StatusCode::GONE,
                ErrorCode::REVOKED_BY_ADMIN,
                "Your admin disconnected this connection; an old copy cannot bring it back. Press Connect to sign in again.",
            ));
        }
    }
    let journal = record_journal(&state, &auth, &slot, "record.put");
    let mut record = state
        .db
        .put_record(
            &slot,
            &envelope,
            &auth.device.id,
            pre,
            now_millis(),
            &journal,
        )
        .await?;
    if body.new_grant && pre != Precondition::Absent {
        // A sign-in again over this device's old record (after its grant was revoked or
        // evicted at the provider): the grant is new, so it is the last a provider's
        // approval limit would sign out, not the first. (A create is dated now anyway.)
        state
            .db
            .restart_grant(&slot, record.version, record.updated_at)
            .await?;
        record.created_at = record.updated_at;
    }
    let status = if pre == Precondition::Absent {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(meta(&record, false))).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(record.version));
    Ok(response)
}

/// The audit event of a record write or delete (`action`), and the change that tells
/// the user's other devices to look at the slot again.
fn record_journal(
    state: &AppState,
    auth: &DeviceAuth,
    slot: &SlotKey,
    action: &str,
) -> latchkey_server_database::Journal {
    state.journal(
        &Actor::Device(auth.device.id.clone()),
        action,
        Some(&auth.user.id),
        json!({ "integration_id": slot.integration_id, "environment": slot.environment, "vault_key_id": slot.vault_key_id }),
        vec![(
            Some(auth.user.id.clone()),
            ChangeKind::ConnectionChanged.as_str(),
            Some(slot.integration_id.clone()),
        )],
    )
}

fn envelope_too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::ENVELOPE_TOO_LARGE,
        format!("Envelopes are limited to {max} bytes."),
    )
}

pub async fn delete_record(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<DeletedRecord>> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let Precondition::Version(version) = precondition(&headers)? else {
        return Err(ApiError::bad_request(
            ErrorCode::INVALID_PRECONDITION,
            "Deletes need If-Match: <version> of the record you read.",
        ));
    };
    let journal = record_journal(&state, &auth, &slot, "record.delete");
    let tombstone = state
        .db
        .delete_record(&slot, version, &auth.device.id, now_millis(), &journal)
        .await
        .map_err(|e| match e {
            latchkey_server_database::DbError::NotFound => ApiError::not_found(
                ErrorCode::RECORD_NOT_FOUND,
                "There is no record in this slot; nothing to delete.",
            ),
            other => other.into(),
        })?;
    Ok(Json(DeletedRecord {
        deleted: true,
        version: tombstone,
    }))
}
