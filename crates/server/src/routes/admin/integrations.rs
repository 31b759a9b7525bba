//! Admin routes for integrations: the provider catalog, and reading, configuring
//! and removing an integration. Secrets sent here are sealed at once and never
//! shown again ("set" / "not set"); disabling an integration or narrowing its
//! allow-list revokes the affected users' records in the same transaction.

use super::validate;
use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::client::{is_api_key, secret_context};
use crate::state::{Actor, AppState, Shared, now_millis};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latchkey_protocol::admin::{
    self as wire, CatalogList, ConfiguredIntegrations, IntegrationInput, IntegrationKind,
    RedirectHost, SecretState,
};
use latchkey_secret::SecretString;
use latchkey_server_database::{DbError, ExcludedUser, Integration, ScimGroup, User};
use serde_json::json;

/// The admin view: secrets are write-only and shown as "set" / "not set".
fn admin_view(state: &Shared, i: &Integration) -> ApiResult<wire::Integration> {
    // Only validated hosts are stored: another one is a damaged row.
    let redirect_host = RedirectHost::parse(&i.redirect_host).ok_or_else(|| {
        tracing::error!(integration = %i.id, "stored integration with an unknown redirect_host");
        ApiError::internal()
    })?;
    Ok(wire::Integration {
        id: i.id.clone(),
        provider: i.provider.clone(),
        display_name: state.display_name(i),
        named: i.display_name.is_some(),
        kind: if is_api_key(i) {
            IntegrationKind::ApiKey
        } else {
            IntegrationKind::OAuth
        },
        enabled: i.enabled,
        environment: i.environment.clone(),
        client_id: i.client_id.clone(),
        client_secret: SecretState::of(&i.client_secret_sealed),
        scopes: i.scopes.clone(),
        params: i.params.clone(),
        asked_at_connect: i.asked_at_connect.clone(),
        allowed_users: i.allowed_users.clone(),
        allowed_groups: i.allowed_groups.clone(),
        api_key: SecretState::of(&i.api_key_sealed),
        api_base_url: i.api_base_url.clone(),
        api_paths: i.api_paths.clone(),
        api_key_header: i.api_key_header.clone(),
        redirect_host,
        default_widgets: i.default_widgets.clone(),
        created_at: i.created_at,
        updated_at: i.updated_at,
        org_wide: i.org_wide,
        require_customize_application: i.require_customize_application,
        org_connection: None,
    })
}

/// The admin view with an org connection's health (who authorized it, last use).
async fn admin_view_with_health(state: &Shared, i: &Integration) -> ApiResult<wire::Integration> {
    let mut view = admin_view(state, i)?;
    view.org_connection = crate::org_tokens::health(state, i).await?;
    Ok(view)
}

/// Revokes an org connection's tokens at the provider when a change ends them: disabled,
/// no longer org-wide, or moved to another environment (tokens belong to one).
async fn revoke_if_ended(
    state: &Shared,
    auth: &AdminAuth,
    old: Option<&Integration>,
    new: Option<&Integration>,
) {
    let Some(old) = old.filter(|o| o.org_wide) else {
        return;
    };
    let ended = new.is_none_or(|n| !n.enabled || !n.org_wide || n.environment != old.environment);
    if !ended {
        return;
    }
    let why = if new.is_none() { "deleted" } else { "disabled" };
    if let Err(e) =
        crate::org_tokens::revoke(state, old, &Actor::Admin(auth.admin.id.clone()), why).await
    {
        tracing::warn!(integration = %old.id, error = %e.message, "could not revoke an org connection's tokens");
    }
}

pub async fn list_integrations(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<ConfiguredIntegrations>> {
    let mut integrations = Vec::new();
    for i in state.db.list_integrations(&state.org.id).await? {
        integrations.push(admin_view_with_health(&state, &i).await?);
    }
    Ok(Json(ConfiguredIntegrations { integrations }))
}

/// The provider catalog: every integration an admin can enable, with what its
/// form needs (auth type, environments, default scopes, parameters, callback URL).
pub async fn catalog(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<CatalogList>> {
    let integrations = state
        .catalog
        .entries()
        .into_iter()
        .filter(|e| state.offers(&e.id))
        .collect();
    Ok(Json(CatalogList {
        integrations,
        org_callback_url: crate::routes::org_oauth::callback_uri(&state),
    }))
}

pub async fn get_integration(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Integration>> {
    validate::integration_id(&id)?;
    let i = state
        .db
        .get_integration(&state.org.id, &id)
        .await?
        .ok_or_else(integration_not_found)?;
    Ok(Json(admin_view_with_health(&state, &i).await?))
}

fn integration_not_found() -> ApiError {
    ApiError::not_found(
        "integration_not_found",
        "This integration is not configured. Configure it with PUT first.",
    )
}

pub async fn put_integration(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> ApiResult<Json<wire::Integration>> {
    validate::integration_id(&id)?;
    let existing = state.db.get_integration(&state.org.id, &id).await?;
    let provider = validate::connection_provider(
        &id,
        input.provider.as_deref(),
        existing.as_ref().map(|e| e.provider.as_str()),
    )?;
    let display_name = match &input.display_name {
        None => existing.as_ref().and_then(|e| e.display_name.clone()),
        Some(name) => validate::display_name(name.as_deref())?,
    };
    validate::environment(&input.environment)?;
    validate::offered_provider(&state, &provider, &input.environment)?;
    validate::scopes(&input.scopes)?;
    validate::params(&input.params)?;
    validate::asked_at_connect(&state, &provider, &input)?;
    validate::client_id(input.client_id.as_deref())?;
    // One read of the users (and of the groups) serves both the allow-list checks and
    // the revocations.
    let restricted = input.allowed_users.is_some() || input.allowed_groups.is_some();
    let users = if restricted {
        state.db.list_users(&state.org.id).await?
    } else {
        Vec::new()
    };
    if let Some(allowed) = &input.allowed_users {
        validate::allowed_users(allowed, &users)?;
    }
    let groups = match &input.allowed_groups {
        Some(_) => state.db.list_scim_groups(&state.org.id).await?,
        None => Vec::new(),
    };
    if let Some(allowed) = &input.allowed_groups {
        validate::allowed_groups(allowed, &groups)?;
    }
    if let Some(url) = &input.api_base_url {
        validate::api_base_url(&state, &provider, url)?;
    }
    validate::api_paths(&input.api_paths)?;
    validate::api_key_header(input.api_key_header.as_deref())?;
    let redirect_host = validate::redirect_host(&state, &provider, input.redirect_host.as_deref())?;
    let default_widgets = match input.default_widgets {
        None => existing.as_ref().and_then(|e| e.default_widgets.clone()),
        Some(None) => None,
        Some(Some(list)) => Some(validate::default_widgets(&state, &provider, list)?),
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
        provider,
        display_name,
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
        allowed_groups: input.allowed_groups,
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
        asked_at_connect: input.asked_at_connect,
        org_wide: input.org_wide,
        require_customize_application: input.require_customize_application,
    };
    let others = state.db.list_integrations(&state.org.id).await?;
    validate::distinct_connection(&state, &integration, &others)?;
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
            "provider": integration.provider,
            "display_name": integration.display_name,
            "enabled": integration.enabled,
            "environment": integration.environment,
            "client_secret": SecretState::of(&integration.client_secret_sealed),
            "api_key": SecretState::of(&integration.api_key_sealed),
            "api_key_cleared": moved && input_key_absent,
            "api_base_url": { "old": old_base, "new": integration.api_base_url },
        }),
        kind.map(|k| vec![(None, k, Some(id.clone()))])
            .unwrap_or_default(),
    );
    let excluded = if integration.enabled {
        excluded_users(&state, &auth, &integration, &users, &groups)
    } else {
        Vec::new()
    };
    state
        .db
        .put_integration_excluding(&integration, &journal, &excluded)
        .await?;
    revoke_if_ended(&state, &auth, existing.as_ref(), Some(&integration)).await;
    Ok(Json(admin_view_with_health(&state, &integration).await?))
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
    groups: &[ScimGroup],
) -> Vec<ExcludedUser> {
    users
        .iter()
        .filter(|user| !i.allows(&user.id, &groups_of(groups, &user.id)))
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

/// The ids of the groups among `groups` that `user_id` is a member of.
pub fn groups_of(groups: &[ScimGroup], user_id: &str) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m == user_id))
        .map(|g| g.id.clone())
        .collect()
}

pub async fn delete_integration(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    validate::integration_id(&id)?;
    // The provider's grant ends with the connection (the tokens are deleted with it).
    let existing = state.db.get_integration(&state.org.id, &id).await?;
    revoke_if_ended(&state, &auth, existing.as_ref(), None).await;
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
