//! Values asked at connect: catalog placeholders an admin leaves for each user (a
//! Salesforce My Domain, a Zendesk subdomain, a Microsoft tenant). The user gives them
//! from the menu or `latchkey connect --set`; the server checks them with the rules the
//! console's values get (the catalog's: a host under the provider's domains, no
//! credentials), remembers them per user and connection, and from then on answers that
//! user's integration list with them in `environment` and `params`, so the device's
//! sign-in, refresh and records need nothing else.

use std::collections::BTreeMap;

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, Shared, now_millis};
use axum::Json;
use axum::extract::{Path, State};
use latchkey_protocol::device::{AskedValue, ChangeKind, ConnectionValuesInput, IntegrationConfig};
use latchkey_server_database::{ConnectionValues, Integration};
use serde_json::json;

/// A connection as one user sees it: its environment and placeholder values with what
/// the user gave filled in, and what is still asked of them.
pub struct Effective {
    pub environment: String,
    pub params: BTreeMap<String, String>,
    pub ask: Vec<AskedValue>,
}

/// `i` for a user who gave `given` (their values for it, possibly none).
pub fn effective(state: &Shared, i: &Integration, given: Option<&ConnectionValues>) -> Effective {
    let mut environment = i.environment.clone();
    let mut params = i.params.clone();
    let mut ask = Vec::new();
    for name in &i.asked_at_connect {
        let placeholder = state.catalog.placeholder(&i.provider, name);
        match given.and_then(|g| g.values.get(name)) {
            // A custom-host placeholder (a login host) is the connection's environment.
            Some(value) if placeholder.as_ref().is_some_and(|p| p.custom_host) => {
                environment = value.clone();
            }
            Some(value) => {
                params.insert(name.clone(), value.clone());
            }
            None => ask.push(AskedValue {
                name: name.clone(),
                description: placeholder
                    .as_ref()
                    .map_or_else(|| name.clone(), |p| p.description.clone()),
                example: placeholder.and_then(|p| p.example),
            }),
        }
    }
    Effective {
        environment,
        params,
        ask,
    }
}

/// The environment `user_id`'s records of `i` live in: the admin's, or the login host
/// the user gave when the connection asks for one.
pub async fn environment_for(state: &Shared, i: &Integration, user_id: &str) -> ApiResult<String> {
    if i.asked_at_connect.is_empty() {
        return Ok(i.environment.clone());
    }
    let given = state.db.connection_values(&state.org.id, user_id).await?;
    let mine = given.iter().find(|v| v.integration_id == i.id);
    Ok(effective(state, i, mine).environment)
}

/// `PUT /v1/integrations/{id}/values`: the user's values for what a connection asks.
/// Refused while the user holds records of the connection (they were made for the old
/// values: revoke first), for names the connection does not ask, and for values the
/// catalog's rules refuse. Answers the connection as the user now sees it.
pub async fn put_values(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ConnectionValuesInput>,
) -> ApiResult<Json<IntegrationConfig>> {
    crate::validate::integration_id(&id)?;
    let integration = state.usable_integration(&auth.user.id, &id).await?;
    if let Some(name) = input
        .values
        .keys()
        .find(|name| !integration.asked_at_connect.contains(name))
    {
        let asked = if integration.asked_at_connect.is_empty() {
            "nothing: your admin set every value".to_owned()
        } else {
            integration.asked_at_connect.join(", ")
        };
        return Err(ApiError::unprocessable(
            ErrorCode::VALUE_NOT_ASKED,
            format!("This connection does not ask for {name:?}; it asks for {asked}."),
        ));
    }
    let mut given = state
        .db
        .connection_values(&state.org.id, &auth.user.id)
        .await?
        .into_iter()
        .find(|v| v.integration_id == id)
        .unwrap_or_else(|| ConnectionValues {
            org_id: state.org.id.clone(),
            user_id: auth.user.id.clone(),
            integration_id: id.clone(),
            values: BTreeMap::new(),
            updated_at: 0,
        });
    let before = given.values.clone();
    for (name, value) in &input.values {
        given.values.insert(name.clone(), value.trim().to_owned());
    }
    // The catalog's rules, on the connection as this user would use it; what is kept is
    // the value as the catalog normalises it (a host lower-cased).
    let view = effective(&state, &integration, Some(&given));
    let (environment, normalised) = state
        .catalog
        .check_connection(&integration.provider, &view.environment, &view.params)
        .map_err(|m| ApiError::unprocessable(ErrorCode::INVALID_CONNECTION_VALUE, m))?;
    for (name, value) in given.values.iter_mut() {
        let custom_host = state
            .catalog
            .placeholder(&integration.provider, name)
            .is_some_and(|p| p.custom_host);
        if custom_host {
            value.clone_from(&environment);
        } else if let Some(v) = normalised.get(name) {
            value.clone_from(v);
        }
    }
    if given.values == before {
        return crate::routes::client::public_view(&state, &integration, Some(&given)).map(Json);
    }
    let live = state.db.list_records(&auth.user.id, Some(&id)).await?.len();
    if live > 0 {
        return Err(ApiError::conflict(
            ErrorCode::CONNECTION_IN_USE,
            format!(
                "{} is connected with the values you gave before. Revoke it first (Revoke in the menu, or latchkey revoke {id}), then connect with the new ones.",
                state.display_name(&integration)
            ),
        ));
    }
    given.updated_at = now_millis();
    let journal = state.journal(
        &Actor::Device(auth.device.id.clone()),
        "connection.values",
        Some(&auth.user.id),
        // Not secret, and the admin sees them in the connection matrix anyway.
        json!({ "integration_id": id, "values": given.values }),
        vec![(
            Some(auth.user.id.clone()),
            ChangeKind::IntegrationUpdated.as_str(),
            Some(id.clone()),
        )],
    );
    state.db.put_connection_values(&given, &journal).await?;
    crate::routes::client::public_view(&state, &integration, Some(&given)).map(Json)
}
