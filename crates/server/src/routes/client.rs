//! The client API, for enrolled devices (Bearer device token): who am I, the
//! integrations enabled for me and the grants of one. The records are in
//! [`super::records`], revocation orders in [`super::revocation_orders`].
//! Every body is a `latchkey_protocol::device` type, the ones `latchkey-client` reads.

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::{AppState, UserGroups};
use axum::Json;
use axum::extract::{Path, State};
use latchkey_protocol::device::{
    DeviceInfo, Grant, GrantList, IntegrationConfig, IntegrationKind, IntegrationList, Me,
    MeDevice, MeUser, OrgInfo, UserInfo,
};
use latchkey_protocol::ids::IntegrationId;
use latchkey_server_database::{ConnectionRecord, ConnectionValues, Device, Integration, User};

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
    let client_secret = if i.org_wide {
        None
    } else {
        state.client_secret(i)?
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

/// Whether two environment names are the same environment (`Production` and
/// `production`, a login host in any letter case).
pub(crate) fn same_environment(a: &str, b: &str) -> bool {
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
