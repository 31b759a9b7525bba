//! What every request handler shares: storage, the org, the server key,
//! configuration, metrics, the auth rate limiter and the shutdown signal.

use crate::config::Config;
use crate::crypto::ServerKey;
use crate::metrics::Metrics;
use crate::rate_limit::{LoginBackoff, RateLimiter};
use crate::validate::CatalogLookup;
use latchkey_protocol::admin::ActorKind;
use latchkey_server_database::{
    Database, DbError, Integration, Journal, Millis, NewAudit, NewChange, Org,
};
use std::sync::Arc;
use tokio::sync::watch;

pub type AppState = Arc<Shared>;

pub struct Shared {
    pub db: Arc<dyn Database>,
    pub org: Org,
    pub key: ServerKey,
    /// The server key lives in the data dir (the demo's default): a copy of the data
    /// dir would hold both the sealed secrets and their key. Warned at start, reported
    /// by `/readyz`.
    pub server_key_in_data_dir: bool,
    pub config: Config,
    /// The origin clients reach this server at, for enrollment links.
    pub origin: String,
    pub catalog: Arc<dyn CatalogLookup>,
    pub metrics: Metrics,
    pub auth_limiter: RateLimiter,
    /// Per-account sign-in backoff (slows guessing, never locks an admin out).
    pub login_backoff: LoginBackoff,
    /// Client for the API-key proxy: redirects off, timeouts from config.
    pub http: reqwest::Client,
    /// Flips to `true` when the server is shutting down; long-lived streams end on it.
    pub shutdown: watch::Receiver<bool>,
    /// Company sign-in, when `sso.issuer` is configured.
    pub sso: Option<Arc<crate::sso::SsoService>>,
    /// The OpenAPI document, built once at start from the route table
    /// (`crate::openapi::document`), served at `/v1/openapi.json`.
    pub openapi: Arc<serde_json::Value>,
}

/// A user asking to use integrations, and their SCIM group ids once
/// [`Shared::usable_by`] needed them: keep one per request.
pub struct UserGroups<'a> {
    user_id: &'a str,
    groups: Option<Vec<String>>,
}

impl<'a> UserGroups<'a> {
    pub fn new(user_id: &'a str) -> Self {
        Self {
            user_id,
            groups: None,
        }
    }
}

/// Who did something, for the audit trail.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(String),
    Device(String),
    /// An identity provider, by the id of the SCIM token it called with.
    Scim(String),
    System,
}

pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Shared {
    /// The connection's OAuth client secret, opened with the server key, if the admin
    /// stored one.
    pub fn client_secret(
        &self,
        i: &Integration,
    ) -> crate::error::ApiResult<Option<latchkey_secret::SecretString>> {
        i.client_secret_sealed
            .as_ref()
            .map(|sealed| {
                self.key.open(
                    &crate::crypto::secret_context(&i.org_id, &i.id, "client_secret"),
                    sealed,
                )
            })
            .transpose()
            .map_err(crate::error::ApiError::from)
    }

    /// Whether the user of `who` may use `integration` now: enabled, allowed for them
    /// (by user id or SCIM group, [`Integration::allows`]), and not a development provider
    /// in a deployment that did not opt in to those. The user's groups are read only when
    /// an allow-list of groups has to decide, and once per [`UserGroups`].
    pub async fn usable_by(
        &self,
        integration: &Integration,
        who: &mut UserGroups<'_>,
    ) -> Result<bool, DbError> {
        if !integration.enabled || !self.offers(&integration.provider) {
            return Ok(false);
        }
        if !integration.needs_groups_of(who.user_id) {
            return Ok(integration.allows(who.user_id, &[]));
        }
        let groups = match &who.groups {
            Some(groups) => groups,
            None => who
                .groups
                .insert(self.db.groups_of_user(&self.org.id, who.user_id).await?),
        };
        Ok(integration.allows(who.user_id, groups))
    }

    /// Whether this deployment offers the catalog provider `id` (development providers
    /// only when `allow_development_providers` is on).
    /// The connection `id` if `user_id` may use it (see [`Self::usable_by`]); otherwise
    /// 403 `integration_not_enabled`, the same answer whether it does not exist or is
    /// not theirs.
    pub async fn usable_integration(
        &self,
        user_id: &str,
        id: &str,
    ) -> crate::error::ApiResult<Integration> {
        let found = self.db.get_integration(&self.org.id, id).await?;
        self.usable(found, user_id).await
    }

    /// `found` (a connection already read) if `user_id` may use it; otherwise 403
    /// `integration_not_enabled`, as [`Self::usable_integration`].
    pub async fn usable(
        &self,
        found: Option<Integration>,
        user_id: &str,
    ) -> crate::error::ApiResult<Integration> {
        let mut who = UserGroups::new(user_id);
        let usable = match &found {
            Some(i) => self.usable_by(i, &mut who).await?,
            None => false,
        };
        found.filter(|_| usable).ok_or_else(|| {
            crate::error::ApiError::forbidden(
                crate::error::ErrorCode::INTEGRATION_NOT_ENABLED,
                "Your admin has not enabled this integration for you. Ask them to enable it.",
            )
        })
    }

    /// What menus and the console call `connection`: the admin's name for it, else
    /// the catalog's name for its provider, else its id.
    pub fn display_name(&self, connection: &Integration) -> String {
        connection
            .display_name
            .clone()
            .or_else(|| self.catalog.name(&connection.provider))
            .unwrap_or_else(|| connection.id.clone())
    }

    pub fn offers(&self, id: &str) -> bool {
        self.config.allow_development_providers || !self.catalog.is_development(id)
    }

    /// An audit event (and change-feed entries) to write with a mutation.
    /// `detail` must never hold secret material.
    pub fn journal(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
        changes: Vec<(Option<String>, &str, Option<String>)>,
    ) -> Journal {
        let at = now_millis();
        // The audit log's reader parses these back (`GET /v1/admin/audit`): one enum for both.
        let (actor_kind, actor_id) = match actor {
            Actor::Admin(id) => (ActorKind::Admin, Some(id.clone())),
            Actor::Device(id) => (ActorKind::Device, Some(id.clone())),
            Actor::Scim(id) => (ActorKind::Scim, Some(id.clone())),
            Actor::System => (ActorKind::System, None),
        };
        Journal {
            audit: NewAudit {
                org_id: self.org.id.clone(),
                at,
                actor_kind: actor_kind.as_str().to_owned(),
                actor_id,
                action: action.to_owned(),
                target: target.map(str::to_owned),
                detail: detail.to_string(),
            },
            changes: changes
                .into_iter()
                .map(|(user_id, kind, integration_id)| NewChange {
                    org_id: self.org.id.clone(),
                    user_id,
                    kind: kind.to_owned(),
                    integration_id,
                    at,
                })
                .collect(),
        }
    }
}
