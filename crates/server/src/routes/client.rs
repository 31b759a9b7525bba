//! The client API, for enrolled devices (Bearer device token): who am I, the
//! integrations enabled for me, and my connection records with version CAS.

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, UserGroups, now_millis};
use crate::validate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_server_database::{ConnectionRecord, Integration, Precondition, SlotKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub async fn me(State(state): State<AppState>, auth: DeviceAuth) -> Json<Value> {
    Json(json!({
        "user": { "id": auth.user.id, "email": auth.user.email, "display_name": auth.user.display_name },
        "device": { "id": auth.device.id, "name": auth.device.name, "created_at": auth.device.created_at },
        "org": { "id": state.org.id, "name": state.org.name },
    }))
}

/// Whether an integration is an API-key one (the key stays on the server).
pub fn is_api_key(i: &Integration) -> bool {
    i.api_key_sealed.is_some()
}

/// The public configuration a device needs to connect. The OAuth client secret,
/// when a provider demands one, is handed to devices: a native app cannot keep
/// it confidential (RFC 8252 §8.5). API keys are never handed out.
fn public_view(state: &AppState, i: &Integration) -> ApiResult<Value> {
    let client_secret = match &i.client_secret_sealed {
        Some(sealed) => Some(
            state
                .key
                .open(&secret_context(&i.org_id, &i.id, "client_secret"), sealed)?
                .expose()
                .to_owned(),
        ),
        None => None,
    };
    Ok(json!({
        "id": i.id,
        "kind": if is_api_key(i) { "api_key" } else { "oauth" },
        "environment": i.environment,
        "client_id": i.client_id,
        "client_secret": client_secret,
        "scopes": i.scopes,
        "params": i.params,
        "redirect_host": i.redirect_host,
        // The widgets the admin offers by default; null: every one the catalog offers.
        "default_widgets": i.default_widgets,
        // An API-key integration is connected for every permitted user with no action of theirs.
        "connected": if is_api_key(i) { Some(true) } else { None },
        "updated_at": i.updated_at,
    }))
}

pub use crate::crypto::secret_context;

pub async fn integrations(
    State(state): State<AppState>,
    auth: DeviceAuth,
) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    let mut who = UserGroups::new(&auth.user.id);
    for i in state.db.list_integrations(&state.org.id).await? {
        if state.usable_by(&i, &mut who).await? {
            out.push(public_view(&state, &i)?);
        }
    }
    Ok(Json(json!({ "integrations": out })))
}

#[derive(Serialize)]
struct RecordMeta<'a> {
    integration_id: &'a str,
    environment: &'a str,
    vault_key_id: &'a str,
    version: i64,
    device_id: &'a str,
    created_at: i64,
    updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    envelope: Option<String>,
}

fn meta(r: &ConnectionRecord, with_envelope: bool) -> RecordMeta<'_> {
    RecordMeta {
        integration_id: &r.slot.integration_id,
        environment: &r.slot.environment,
        vault_key_id: &r.slot.vault_key_id,
        version: r.version,
        device_id: &r.device_id,
        created_at: r.created_at,
        updated_at: r.updated_at,
        envelope: with_envelope.then(|| STANDARD.encode(&r.envelope)),
    }
}

/// How many records one user may keep for one integration and environment, each under
/// another vault key.
const MAX_VAULT_KEYS_PER_SLOT: usize = 5;

/// Whether two environment names are the same environment (`Production` and
/// `production`, a login host in any letter case).
fn same_environment(a: &str, b: &str) -> bool {
    use latchkey_catalog::Environment;
    match (Environment::parse(a), Environment::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    integration: Option<String>,
}

pub async fn list_records(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(i) = &q.integration {
        validate::integration_id(i)?;
    }
    let records = state
        .db
        .list_records(&auth.user.id, q.integration.as_deref())
        .await?;
    let records: Vec<_> = records.iter().map(|r| meta(r, true)).collect();
    Ok(Json(json!({ "records": records })))
}

fn slot(
    auth: &DeviceAuth,
    integration: String,
    environment: String,
    vault_key_id: String,
) -> ApiResult<SlotKey> {
    validate::integration_id(&integration)?;
    validate::environment(&environment)?;
    validate::vault_key_id(&vault_key_id)?;
    // The user always comes from the token, never from the request: a device can
    // only ever address its own user's slots.
    Ok(SlotKey {
        user_id: auth.user.id.clone(),
        vault_key_id,
        integration_id: integration,
        environment,
    })
}

pub async fn get_record(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let Some(record) = state.db.get_record(&slot).await? else {
        return Err(ApiError::not_found(
            "record_not_found",
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
            "conflicting_preconditions",
            "Send either If-Match: <version> (update) or If-None-Match: * (create), not both.",
        )),
        (None, Some(v)) if v.trim() == "*" => Ok(Precondition::Absent),
        (None, Some(_)) => Err(ApiError::bad_request(
            "invalid_precondition",
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
                    "invalid_precondition",
                    "If-Match must be the record's version, such as If-Match: 3.",
                )
            }),
        (None, None) => Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "Writes are compare-and-swap: send If-Match: <version> to update or If-None-Match: * to create.",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRecord {
    /// The sealed envelope, standard base64.
    envelope: String,
    /// Set by a device right after a new sign-in (the user pressed Connect): only a new
    /// grant may write a slot an admin emptied. An old push is refused with 410.
    #[serde(default)]
    new_grant: bool,
}

pub async fn put_record(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PutRecord>,
) -> ApiResult<Response> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let pre = precondition(&headers)?;
    let max = state.config.max_envelope_bytes;
    if body.envelope.len() > max.div_ceil(3) * 4 + 4 {
        return Err(envelope_too_large(max));
    }
    let envelope = STANDARD.decode(body.envelope.as_bytes()).map_err(|_| {
        ApiError::unprocessable(
            "invalid_envelope",
            "The envelope must be standard base64 of the sealed record.",
        )
    })?;
    if envelope.len() > max {
        return Err(envelope_too_large(max));
    }
    if envelope.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_envelope",
            "The envelope is empty.",
        ));
    }
    let found = state
        .db
        .get_integration(&state.org.id, &slot.integration_id)
        .await?;
    let mut who = UserGroups::new(&auth.user.id);
    let usable = match &found {
        Some(i) => state.usable_by(i, &mut who).await?,
        None => false,
    };
    let Some(integration) = found.filter(|_| usable) else {
        return Err(ApiError::forbidden(
            "integration_not_enabled",
            "Your admin has not enabled this integration for you. Ask them to enable it.",
        ));
    };
    // A slot only where the admin enabled the integration: a device cannot grow
    // records for environments no one configured.
    if !same_environment(&slot.environment, &integration.environment) {
        return Err(ApiError::forbidden(
            "environment_not_enabled",
            format!(
                "Your admin enabled this integration for {} only, not {}. Connect without choosing an environment, or ask your admin.",
                integration.environment, slot.environment
            ),
        ));
    }
    if pre == Precondition::Absent {
        // One record per vault key; a user gets a new vault key only when the old one
        // is lost, so a handful is plenty and the number of slots stays bounded.
        let live = state
            .db
            .list_records(&auth.user.id, Some(&slot.integration_id))
            .await?
            .iter()
            .filter(|r| {
                r.slot.environment == slot.environment && r.slot.vault_key_id != slot.vault_key_id
            })
            .count();
        if live >= MAX_VAULT_KEYS_PER_SLOT {
            return Err(ApiError::conflict(
                "too_many_records",
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
                "revoked_by_admin",
                "Your admin disconnected this connection; an old copy cannot bring it back. Press Connect to sign in again.",
            ));
        }
    }
    let journal = state.journal(
        &Actor::Device(auth.device.id.clone()),
        "record.put",
        Some(&auth.user.id),
        json!({ "integration_id": slot.integration_id, "environment": slot.environment, "vault_key_id": slot.vault_key_id }),
        vec![(Some(auth.user.id.clone()), "connection.changed", Some(slot.integration_id.clone()))],
    );
    let record = state
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

fn envelope_too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "envelope_too_large",
        format!("Envelopes are limited to {max} bytes."),
    )
}

pub async fn delete_record(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path((integration, environment, vault_key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let slot = slot(&auth, integration, environment, vault_key_id)?;
    let Precondition::Version(version) = precondition(&headers)? else {
        return Err(ApiError::bad_request(
            "invalid_precondition",
            "Deletes need If-Match: <version> of the record you read.",
        ));
    };
    let journal = state.journal(
        &Actor::Device(auth.device.id.clone()),
        "record.delete",
        Some(&auth.user.id),
        json!({ "integration_id": slot.integration_id, "environment": slot.environment, "vault_key_id": slot.vault_key_id }),
        vec![(Some(auth.user.id.clone()), "connection.changed", Some(slot.integration_id.clone()))],
    );
    let tombstone = state
        .db
        .delete_record(&slot, version, &auth.device.id, now_millis(), &journal)
        .await
        .map_err(|e| match e {
            latchkey_server_database::DbError::NotFound => ApiError::not_found(
                "record_not_found",
                "There is no record in this slot; nothing to delete.",
            ),
            other => other.into(),
        })?;
    Ok(Json(json!({ "deleted": true, "version": tombstone })))
}

/// The orders this device has not answered: revoke a connection at the provider and
/// wipe it (an admin disconnected it, disabled the integration or took the user off its
/// allow-list). Each carries the integration's public configuration when the server
/// still has it, so the device can reach the provider even for a disabled integration.
pub async fn revocation_orders(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
) -> ApiResult<Json<Value>> {
    let orders = state.db.pending_revocation_orders(&auth.device_id).await?;
    let mut out = Vec::new();
    for o in &orders {
        let integration = state
            .db
            .get_integration(&state.org.id, &o.integration_id)
            .await?;
        let config = match &integration {
            Some(i) if !is_api_key(i) => Some(public_view(&state, i)?),
            _ => None,
        };
        out.push(json!({
            "id": o.id,
            "integration_id": o.integration_id,
            "environment": o.environment,
            "reason": o.reason,
            "ordered_at": o.created_at,
            "integration": config,
        }));
    }
    Ok(Json(json!({ "orders": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationReceiptInput {
    /// `revoked`, `not_supported`, `queued`, `failed` or `no_copy`.
    provider: String,
    /// Plain words (at most 500 characters).
    #[serde(default)]
    detail: String,
    /// Whether the device wiped its sealed copy.
    local_wiped: bool,
}

/// The device's receipt for one order. Answered once; the audit log keeps it.
pub async fn revocation_receipt(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RevocationReceiptInput>,
) -> ApiResult<Json<Value>> {
    if !latchkey_server_database::RECEIPT_OUTCOMES.contains(&input.provider.as_str()) {
        return Err(ApiError::unprocessable(
            "invalid_receipt",
            "provider is one of revoked, not_supported, queued, failed, no_copy, kept.",
        ));
    }
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(
            "order_not_found",
            "No such revocation order for this device.",
        ));
    }
    let detail: String = input
        .detail
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    let receipt = latchkey_server_database::RevocationReceipt {
        at: now_millis(),
        provider_outcome: input.provider.clone(),
        provider_detail: detail.clone(),
        local_wiped: input.local_wiped,
    };
    let journal = state.journal(
        &Actor::Device(auth.device_id.clone()),
        "revocation.receipt",
        Some(&auth.user_id),
        json!({ "order_id": id, "provider": input.provider, "detail": detail, "local_wiped": input.local_wiped }),
        vec![],
    );
    let recorded = state
        .db
        .record_revocation_receipt(&auth.device_id, &id, &receipt, &journal)
        .await?;
    if !recorded {
        return Err(ApiError::not_found(
            "order_not_found",
            "No such pending revocation order for this device (it may have been answered already).",
        ));
    }
    Ok(Json(json!({ "recorded": true })))
}
