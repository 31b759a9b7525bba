//! Configured integrations, connection tests, the provider catalog and SCIM groups.

use super::double_option;
use latchkey_secret::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

// ---- integrations and the catalog ----

/// The same kinds the device API names.
pub use crate::device::IntegrationKind;

/// A write-only secret as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SecretState {
    #[serde(rename = "set")]
    Set,
    #[serde(rename = "not set")]
    NotSet,
}

impl SecretState {
    pub fn of<T>(value: &Option<T>) -> Self {
        if value.is_some() {
            Self::Set
        } else {
            Self::NotSet
        }
    }
}

/// The host in an OAuth integration's loopback callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum RedirectHost {
    /// The default (RFC 8252).
    #[serde(rename = "127.0.0.1")]
    Loopback,
    /// Where the catalog allows it (Salesforce).
    #[serde(rename = "localhost")]
    Localhost,
}

impl RedirectHost {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "127.0.0.1",
            Self::Localhost => "localhost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "127.0.0.1" => Some(Self::Loopback),
            "localhost" => Some(Self::Localhost),
            _ => None,
        }
    }
}

/// `PUT /v1/admin/integrations/{id}`: creates or updates the connection `{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// The catalog provider this connection is of. Absent: `{id}` itself names the
    /// provider (the first connection of a provider, as before named connections). A
    /// connection's provider never changes.
    #[serde(default)]
    pub provider: Option<String>,
    /// What tells this connection apart in menus and the console ("Salesforce — UAT
    /// sandbox"), 1-80 characters, unique in the org. Absent: keep; null: the catalog's
    /// name for the provider.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    pub enabled: bool,
    /// production, sandbox, or a custom login host.
    #[serde(default = "production")]
    #[schema(default = "production")]
    pub environment: String,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Absent: keep; null: clear. Handed to enrolled devices (non-confidential, RFC 8252 §8.5).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, write_only)]
    pub client_secret: Option<Option<SecretString>>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Values for the catalog's placeholders (tenant, subdomain, issuer).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Placeholders each user fills when they connect, by name (`login_host` for a
    /// Salesforce My Domain, `subdomain`, `tenant`), instead of a value in `params`.
    #[serde(default)]
    pub asked_at_connect: Vec<String>,
    /// User ids allowed to use the integration. null (with allowed_groups null): every user.
    #[serde(default)]
    pub allowed_users: Option<Vec<String>>,
    /// SCIM group ids (GET /v1/admin/groups) whose members may use the integration,
    /// beside allowed_users. null (with allowed_users null): every user.
    #[serde(default)]
    pub allowed_groups: Option<Vec<String>>,
    /// Absent: keep; null: clear. Never leaves the server. Makes this an API-key integration.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, write_only)]
    pub api_key: Option<Option<SecretString>>,
    /// API-key proxy: the only base URL the key is sent to (https).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// API-key proxy: allowed path prefixes under the base URL, such as "/v1/models".
    #[serde(default)]
    pub api_paths: Vec<String>,
    /// API-key proxy: header carrying the key; "authorization" (default) sends `Bearer <key>`.
    #[serde(default)]
    pub api_key_header: Option<String>,
    /// The host in the loopback callback registered at the provider: "127.0.0.1"
    /// (default) or "localhost" where the catalog allows it (Salesforce). A string, so
    /// a wrong value gets `invalid_redirect_host`.
    #[serde(default)]
    pub redirect_host: Option<String>,
    /// Home-screen widgets offered by default (catalog widget ids). Absent: keep;
    /// null: every widget the catalog offers; a list: those.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub default_widgets: Option<Option<Vec<String>>>,
    /// An org connection: the admin authorizes it once (POST …/authorize) and the server
    /// keeps the tokens; devices use it only through the proxy. Turning it off revokes them.
    #[serde(default)]
    pub org_wide: bool,
    /// Salesforce org connections: Test connection also demands "Customize Application".
    #[serde(default)]
    pub require_customize_application: bool,
}

fn production() -> String {
    "production".to_owned()
}

/// A configured connection, secrets shown as set / not set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Integration {
    /// The connection's id.
    pub id: String,
    /// The catalog provider it is a connection of.
    pub provider: String,
    /// Its name in menus and the console: the admin's, or the catalog's.
    pub display_name: String,
    /// Whether the admin named it (`false`: `display_name` is the catalog's name).
    pub named: bool,
    pub kind: IntegrationKind,
    pub enabled: bool,
    pub environment: String,
    #[schema(required = true)]
    pub client_id: Option<String>,
    pub client_secret: SecretState,
    pub scopes: Vec<String>,
    pub params: BTreeMap<String, String>,
    /// Placeholders each user fills when they connect.
    pub asked_at_connect: Vec<String>,
    #[schema(required = true)]
    pub allowed_users: Option<Vec<String>>,
    #[schema(required = true)]
    pub allowed_groups: Option<Vec<String>>,
    pub api_key: SecretState,
    #[schema(required = true)]
    pub api_base_url: Option<String>,
    pub api_paths: Vec<String>,
    #[schema(required = true)]
    pub api_key_header: Option<String>,
    pub redirect_host: RedirectHost,
    /// null: every widget the catalog offers.
    #[schema(required = true)]
    pub default_widgets: Option<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub org_wide: bool,
    pub require_customize_application: bool,
    /// An org connection's authorization (never its tokens); null: not authorized.
    #[schema(required = true)]
    pub org_connection: Option<OrgConnectionHealth>,
}

/// How an org connection's server-held authorization is doing, as the console shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgConnectionHealth {
    /// The admin who pressed Authorize (email).
    pub authorized_by: String,
    pub authorized_at: i64,
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    #[schema(required = true)]
    pub refreshed_at: Option<i64>,
    /// The provider refused the refresh token: an admin must press Authorize again.
    pub needs_reauthorization: bool,
    /// Why (`invalid_grant`, `server_key_changed`); null when healthy.
    #[schema(required = true)]
    pub reason: Option<String>,
}

/// `POST /v1/admin/integrations/{id}/authorize`: where the console sends the browser
/// (the flow's state travels in an HttpOnly cookie set with this answer).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgAuthorizeStart {
    pub authorization_url: String,
}

/// `POST /v1/admin/integrations/{id}/revoke`: what happened at the provider. The
/// server's copy is gone either way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgRevoked {
    pub revoked_at_provider: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
/// `GET /v1/admin/integrations`: every configured integration.
pub struct ConfiguredIntegrations {
    pub integrations: Vec<Integration>,
}

/// `POST /v1/admin/integrations/{id}/test`: what the provider said. Fields the test
/// did not reach are left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    pub kind: IntegrationKind,
    /// API key: the provider's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// OAuth: the authorization server asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    pub message: String,
}

impl ConnectionTest {
    /// A test that did not pass, saying why.
    pub fn failed(kind: IntegrationKind, issuer: Option<&str>, message: &str) -> Self {
        Self {
            ok: false,
            kind,
            status: None,
            issuer: issuer.map(str::to_owned),
            metadata_url: None,
            authorization_endpoint: None,
            token_endpoint: None,
            message: message.to_owned(),
        }
    }

    /// The same answer, passed or not.
    pub fn with_ok(self, ok: bool) -> Self {
        Self { ok, ..self }
    }
}

/// How a catalog provider authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatalogAuth {
    Oauth2,
    ApiKey,
}

/// A value the admin fills in for a provider (tenant, subdomain, login host).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogPlaceholder {
    pub name: String,
    pub description: String,
    pub example: String,
    /// Whether a custom environment (login host) sets it.
    pub custom_host: bool,
    #[schema(required = true)]
    pub production: Option<String>,
    #[schema(required = true)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogOauth2 {
    pub default_scopes: Vec<String>,
    pub client_secret_required: bool,
    /// The callback to register at the provider.
    pub callback_url: String,
    /// The same callback naming localhost, where the provider allows it (Salesforce).
    #[schema(required = true)]
    pub callback_url_localhost: Option<String>,
    pub callback_port_fixed: bool,
    pub authorization_url: String,
}

/// Present when the menu and `latchkey search` can search this provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogSearch {
    pub scopes: Vec<String>,
    #[schema(required = true)]
    pub label: Option<String>,
    pub widgets: Vec<String>,
    /// The API paths search and the widgets call: an org connection needs them in its
    /// `api_paths` for its users to search from the menu (the console offers them).
    pub api_paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogApiKey {
    pub header: String,
    pub format: String,
    pub base_url: String,
    pub allowed_path_prefixes: Vec<String>,
    pub test_path: String,
}

/// One provider an admin can enable, with what its form needs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub icon: String,
    pub auth: CatalogAuth,
    pub development: bool,
    #[schema(required = true)]
    pub docs_url: Option<String>,
    pub environments: Vec<String>,
    #[schema(required = true)]
    pub custom_host_example: Option<String>,
    /// Per environment, the placeholders the admin must fill in.
    pub required_params: BTreeMap<String, Vec<String>>,
    pub placeholders: Vec<CatalogPlaceholder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<CatalogOauth2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<CatalogSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<CatalogApiKey>,
}

/// `GET /v1/admin/catalog`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogList {
    pub integrations: Vec<CatalogEntry>,
    /// This server's own callback for org connections (`/v1/oauth/callback` at its
    /// public origin, the `redirect_uri` it sends), to register at the provider: the
    /// console shows it whatever origin the console itself was reached at.
    pub org_callback_url: String,
}

/// A SCIM group the identity provider pushed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub member_count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<Group>,
}
