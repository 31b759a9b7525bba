//! The client API, for enrolled devices (Bearer device token): who am I, the
//! integrations enabled for me, and my connection records with version CAS.
//! Every body is a `latchkey_protocol::device` type, the ones `latchkey-client` reads.

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, UserGroups, now_millis};
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_protocol::device::{
    ChangeKind, DeletedRecord, DeviceInfo, Grant, GrantList, IntegrationConfig, IntegrationKind,
    IntegrationList, Me, MeDevice, MeUser, OrgInfo, ProviderOutcome, PutRecordRequest,
    ReceiptRecorded, Record, RecordList, RecordListQuery, RevocationOrder, RevocationOrderList,
    RevocationReceipt, UserInfo,
};
use latchkey_protocol::ids::{EnvironmentName, IntegrationId, RevocationOrderId, VaultKeyId};
use latchkey_server_database::{
    ConnectionRecord, ConnectionValues, Device, DeviceSlot, Integration, Precondition, SlotKey,
    User,
};
use serde_json::{Value, json};

pub async fn me(State(state): State<AppState>, auth: DeviceAuth) -> Json<Me> {
    Json(Me {
        user: MeUser {
            id: auth.user.id.into(),
            email: auth.user.email,
            display_name: auth.user.display_name,
        },
        device: MeDevice {
            id: auth.device.id.into(),
            name: auth.device.name,
            created_at: auth.device.created_at,
        },
        org: OrgInfo {
            id: state.org.id.clone().into(),
            name: state.org.name.clone(),
        },
    })
}

/// A device as enrollment answers it (and the console lists it).
pub fn device_info(d: &Device) -> DeviceInfo {
    DeviceInfo {
        id: d.id.clone().into(),
        user_id: d.user_id.clone().into(),
        name: d.name.clone(),
        created_at: d.created_at,
        last_seen_at: d.last_seen_at,
        revoked_at: d.revoked_at,
        update_channel: d.update_channel.clone(),
        // What its app reported on its last update check (null: never checked).
        app_version: d.app.as_ref().map(|a| a.version.clone()),
        app_target: d.app.as_ref().map(|a| a.target.clone()),
        app_arch: d.app.as_ref().map(|a| a.arch.clone()),
        app_version_seen_at: d.app.as_ref().map(|a| a.seen_at),
    }
}

/// A user as enrollment answers it (and the console lists them).
pub fn user_info(u: &User) -> UserInfo {
    UserInfo {
        id: u.id.clone().into(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        created_at: u.created_at,
        active: u.active,
        external_id: u.external_id.clone(),
        provisioned_by: u.provisioned_by.clone(),
    }
}

/// Whether an integration is an API-key one (the key stays on the server).
pub fn is_api_key(i: &Integration) -> bool {
    i.api_key_sealed.is_some()
}

/// The public configuration a device needs to connect. The OAuth client secret,
/// when a provider demands one, is handed to devices: a native app cannot keep
/// it confidential (RFC 8252 §8.5). API keys are never handed out.
///
/// `given`: what this user gave for the values the connection asks at connect (see
/// [`super::connection_values`]); they are filled into `environment` and `params`.
pub fn public_view(
    state: &AppState,
    i: &Integration,
    given: Option<&ConnectionValues>,
) -> ApiResult<IntegrationConfig> {
    let view = super::connection_values::effective(state, i, given);
    // An org connection's client is the server's: a device never runs its OAuth flow.
    let client_secret = match &i.client_secret_sealed {
        Some(sealed) if !i.org_wide => Some(
            state
                .key
                .open(&secret_context(&i.org_id, &i.id, "client_secret"), sealed)?,
        ),
        _ => None,
    };
    Ok(IntegrationConfig {
        id: i.id.clone().into(),
        provider: Some(i.provider.clone().into()),
        display_name: Some(state.display_name(i)),
        kind: if is_api_key(i) {
            IntegrationKind::ApiKey
        } else {
            IntegrationKind::OAuth
        },
        environment: view.environment.into(),
        client_id: (!i.org_wide).then(|| i.client_id.clone()).flatten(),
        client_secret,
        scopes: i.scopes.clone(),
        params: view.params,
        redirect_host: Some(i.redirect_host.clone()),
        // The widgets the admin offers by default; null: every one the catalog offers.
        default_widgets: i.default_widgets.clone(),
        // An API-key integration, or an org connection, is connected for every permitted
        // user with no action of theirs.
        connected: (is_api_key(i) || i.org_wide).then_some(true),
        updated_at: i.updated_at,
        ask: view.ask,
        org_wide: i.org_wide,
    })
}

pub use crate::crypto::secret_context;

pub async fn integrations(
    State(state): State<AppState>,
    auth: DeviceAuth,
) -> ApiResult<Json<IntegrationList>> {
    let mut out = Vec::new();
    let mut who = UserGroups::new(&auth.user.id);
    let integrations = state.db.list_integrations(&state.org.id).await?;
    // Read only when some connection asks the user for values.
    let given = if integrations.iter().any(|i| !i.asked_at_connect.is_empty()) {
        state
            .db
            .connection_values(&state.org.id, &auth.user.id)
            .await?
    } else {
        Vec::new()
    };
    for i in integrations {
        if state.usable_by(&i, &mut who).await? {
            let mine = given.iter().find(|v| v.integration_id == i.id);
            out.push(public_view(&state, &i, mine)?);
        }
    }
    Ok(Json(IntegrationList { integrations: out }))
}

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

/// Whether two environment names are the same environment (`Production` and
/// `production`, a login host in any letter case).
fn same_environment(a: &str, b: &str) -> bool {
    use latchkey_catalog::Environment;
    match (Environment::parse(a), Environment::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `GET /v1/integrations/{id}/grants`: the user's stored connections of one connection
/// (one per device), oldest first, with the device names and the provider's cap. Only
/// the user's own records, from the token; nothing sealed is returned.
pub async fn grants(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<GrantList>> {
    let id = IntegrationId::parse(&id)?;
    let found = state.db.get_integration(&state.org.id, &id).await?;
    let mut who = UserGroups::new(&auth.user.id);
    let usable = match &found {
        Some(i) => state.usable_by(i, &mut who).await?,
        None => false,
    };
    let Some(integration) = found.filter(|_| usable) else {
        return Err(ApiError::forbidden(
            ErrorCode::INTEGRATION_NOT_ENABLED,
            "Your admin has not enabled this integration for you. Ask them to enable it.",
        ));
    };
    let devices = state
        .db
        .list_devices(&state.org.id, Some(&auth.user.id))
        .await?;
    let mut records: Vec<ConnectionRecord> = state
        .db
        .list_records(&auth.user.id, Some(&integration.id))
        .await?
        .into_iter()
        .filter(|r| same_environment(&r.slot.environment, &integration.environment))
        .collect();
    records.sort_by(|a, b| {
        (a.created_at, &a.device_id, &a.slot.vault_key_id).cmp(&(
            b.created_at,
            &b.device_id,
            &b.slot.vault_key_id,
        ))
    });
    let grants = records
        .iter()
        .map(|r| Grant {
            device_id: r.device_id.clone().into(),
            device_name: devices
                .iter()
                .find(|d| d.id == r.device_id)
                .map(|d| d.name.clone()),
            connected_at: r.created_at,
            this_device: r.device_id == auth.device.id,
        })
        .collect();
    Ok(Json(GrantList {
        integration_id: id,
        limit: state.catalog.approval_limit(&integration.provider),
        grants,
    }))
}

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
    let journal = state.journal(
        &Actor::Device(auth.device.id.clone()),
        "record.put",
        Some(&auth.user.id),
        json!({ "integration_id": slot.integration_id, "environment": slot.environment, "vault_key_id": slot.vault_key_id }),
        vec![(
            Some(auth.user.id.clone()),
            ChangeKind::ConnectionChanged.as_str(),
            Some(slot.integration_id.clone()),
        )],
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
    let journal = state.journal(
        &Actor::Device(auth.device.id.clone()),
        "record.delete",
        Some(&auth.user.id),
        json!({ "integration_id": slot.integration_id, "environment": slot.environment, "vault_key_id": slot.vault_key_id }),
        vec![(
            Some(auth.user.id.clone()),
            ChangeKind::ConnectionChanged.as_str(),
            Some(slot.integration_id.clone()),
        )],
    );
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

/// The orders this device has not answered: revoke a connection at the provider and
/// wipe it (an admin disconnected it, disabled the integration or took the user off its
/// allow-list). Each carries the integration's public configuration when the server
/// still has it, so the device can reach the provider even for a disabled integration.
pub async fn revocation_orders(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
) -> ApiResult<Json<RevocationOrderList>> {
    let orders = state.db.pending_revocation_orders(&auth.device_id).await?;
    let mut out = Vec::new();
    for o in &orders {
        let integration = state
            .db
            .get_integration(&state.org.id, &o.integration_id)
            .await?;
        let config = match &integration {
            Some(i) if !is_api_key(i) => {
                // The values the user gave (a login host) say where to revoke.
                let given = if i.asked_at_connect.is_empty() {
                    Vec::new()
                } else {
                    state
                        .db
                        .connection_values(&state.org.id, &o.user_id)
                        .await?
                };
                let mine = given.iter().find(|v| v.integration_id == i.id);
                Some(public_view(&state, i, mine)?)
            }
            _ => None,
        };
        out.push(RevocationOrder {
            id: o.id.clone().into(),
            integration_id: o.integration_id.clone().into(),
            environment: o.environment.clone().into(),
            reason: o.reason.clone().into(),
            ordered_at: o.created_at,
            integration: config,
        });
    }
    Ok(Json(RevocationOrderList { orders: out }))
}

/// Reads a receipt. A body that is right but for an outcome this server does not know
/// is `invalid_receipt` (the device may be newer); any other wrong shape is
/// `invalid_body`, as every body's is.
fn receipt_body(raw: Value) -> ApiResult<RevocationReceipt> {
    serde_json::from_value::<RevocationReceipt>(raw.clone()).map_err(|e| {
        let mut known = raw;
        let only_the_outcome = match known.get_mut("provider") {
            Some(provider @ Value::String(_)) => {
                *provider = json!(ProviderOutcome::Revoked);
                serde_json::from_value::<RevocationReceipt>(known).is_ok()
            }
            _ => false,
        };
        if only_the_outcome {
            ApiError::unprocessable(
                ErrorCode::INVALID_RECEIPT,
                "provider is one of revoked, not_supported, queued, failed, no_copy, kept.",
            )
        } else {
            ApiError::unprocessable(
                ErrorCode::INVALID_BODY,
                format!("The request body does not have the expected fields: {e}"),
            )
        }
    })
}

/// The device's receipt for one order. Answered once; the audit log keeps it.
pub async fn revocation_receipt(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<Value>,
) -> ApiResult<Json<ReceiptRecorded>> {
    let input = receipt_body(raw)?;
    let id = RevocationOrderId::parse(&id).map_err(|e| ApiError::not_found(e.code, e.message))?;
    let detail: String = input
        .detail
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    let receipt = latchkey_server_database::RevocationReceipt {
        at: now_millis(),
        provider_outcome: input.provider.as_str().to_owned(),
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
        .record_revocation_receipt(&auth.device_id, id.as_str(), &receipt, &journal)
        .await?;
    if !recorded {
        return Err(ApiError::not_found(
            ErrorCode::ORDER_NOT_FOUND,
            "No such pending revocation order for this device (it may have been answered already).",
        ));
    }
    Ok(Json(ReceiptRecorded { recorded: true }))
}
