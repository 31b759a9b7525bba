//! Bodies of the admin API (`/v1/admin/*`), used by the console and scripts, and of
//! the public routes the console and operators call (sign-in, setup, company sign-in
//! info, liveness and readiness).
//!
//! Requests deny unknown fields: a field the server would drop is a client bug. The
//! responses keep the exact JSON the server has always sent: every field present,
//! `null` where there is no value, unless a field says it is left out.
//!
//! Timestamps are milliseconds since the Unix epoch. Ids are plain strings here
//! until the shared id newtypes land (`crate::ids`).

use latchkey_secret::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use utoipa::ToSchema;

/// A secret the server hands out exactly once (a token, a CSRF token, an enrollment
/// code): serialisable because the one answer carrying it must be, and redacted in
/// `Debug` so it never reaches a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct ShownOnce(String);

impl ShownOnce {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that shows or uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShownOnce(<redacted>)")
    }
}

/// Absent: `None` (keep); `null`: `Some(None)` (clear); a value: `Some(Some(v))` (set).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    <Option<T> as Deserialize>::deserialize(d).map(Some)
}

// ---- operations ----

/// `GET /healthz`: always `ok` while the process answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}

/// `GET /readyz` when the database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// What an operator should fix, though the server serves (`server_key_in_data_dir`).
    pub warnings: Vec<String>,
}

// ---- admins, sign-in, setup ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// May add and remove admins and see everyone's API tokens.
    Owner,
    Admin,
}

/// An admin account (never its password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Admin {
    pub id: String,
    pub email: String,
    pub role: AdminRole,
    pub created_at: i64,
}

/// `POST /v1/admin/setup` and `POST /v1/admin/admins`: the admin just created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminCreated {
    pub admin: Admin,
}

/// `GET /v1/admin/admins`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminList {
    pub admins: Vec<Admin>,
    /// The admin asking.
    pub me: Admin,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// A console session began: the session cookie is set; writes carry this CSRF token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedIn {
    pub admin: Admin,
    pub csrf_token: ShownOnce,
    pub expires_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The one-time setup code the server printed at start.
    #[schema(value_type = String, format = Password)]
    pub code: SecretString,
    pub email: String,
    #[schema(value_type = String, format = Password, min_length = 12)]
    pub password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    pub email: String,
    #[schema(value_type = String, format = Password, min_length = 12)]
    pub password: SecretString,
    /// Make them an owner too.
    #[serde(default)]
    #[schema(default = false)]
    pub owner: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password, min_length = 12)]
    pub new_password: SecretString,
}

/// Who may still sign in to the console with a password once company sign-in is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSignIn {
    All,
    /// The owner only (the break-glass account).
    OwnerOnly,
}

/// `GET /v1/console/sso`: whether company sign-in is on, and the button's words.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsoleSso {
    pub enabled: bool,
    /// "Sign in with …"; null when company sign-in is off.
    #[schema(required = true)]
    pub label: Option<String>,
    pub password_sign_in: PasswordSignIn,
}

// ---- admin API tokens ----

/// The body may be left out entirely.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for ("CI deploy"), shown in the list.
    #[schema(max_length = 200, default = "API token")]
    pub name: Option<String>,
}

/// `POST /v1/admin/tokens`: the token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    pub token: ShownOnce,
    pub expires_at: i64,
}

/// An admin API token as listed (never the token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminToken {
    pub id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    pub admin_id: String,
    #[schema(required = true)]
    pub admin_email: Option<String>,
    pub created_at: i64,
    #[schema(required = true)]
    pub expires_at: Option<i64>,
    pub expired: bool,
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<AdminToken>,
}

// ---- SCIM tokens (the admin side; SCIM itself follows RFC 7644) ----

/// The body may be left out entirely.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// Which identity provider uses it, shown in the list.
    #[schema(max_length = 200, default = "SCIM token")]
    pub name: Option<String>,
    #[schema(minimum = 1, maximum = 730, default = 365)]
    pub ttl_days: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScimTokenStatus {
    Active,
    Expired,
    Revoked,
}

/// A SCIM token as listed (never the token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimToken {
    pub id: String,
    pub name: String,
    pub status: ScimTokenStatus,
    pub created_at: i64,
    /// The admin who issued it.
    #[schema(required = true)]
    pub created_by: Option<String>,
    pub expires_at: i64,
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    #[schema(required = true)]
    pub revoked_at: Option<i64>,
}

/// `POST /v1/admin/scim-tokens`: the token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedScimToken {
    pub token: ShownOnce,
    pub scim_token: ScimToken,
    /// The URL to paste into the identity provider.
    pub scim_base_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenList {
    pub tokens: Vec<ScimToken>,
    pub scim_base_url: String,
}

// ---- integrations and the catalog ----

/// How a configured integration reaches its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Each user signs in; the device keeps the sealed tokens.
    Oauth,
    /// One key held by the server, used through the proxy.
    ApiKey,
}

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

/// `PUT /v1/admin/integrations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
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
}

fn production() -> String {
    "production".to_owned()
}

/// A configured integration, secrets shown as set / not set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Integration {
    pub id: String,
    pub kind: IntegrationKind,
    pub enabled: bool,
    pub environment: String,
    #[schema(required = true)]
    pub client_id: Option<String>,
    pub client_secret: SecretState,
    pub scopes: Vec<String>,
    pub params: BTreeMap<String, String>,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationList {
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

// ---- users, enrollment, connections ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub created_at: i64,
    /// `false` once the identity provider deactivated them (SCIM).
    pub active: bool,
    #[schema(required = true)]
    pub external_id: Option<String>,
    /// `scim` when the identity provider created them.
    #[schema(required = true)]
    pub provisioned_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
}

/// A one-time enrollment code and its `latchkey://` link (which holds the code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enrollment {
    pub code: ShownOnce,
    pub link: ShownOnce,
    pub expires_at: i64,
}

/// `POST /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invited {
    pub user: User,
    pub enrollment: Enrollment,
}

/// `POST /v1/admin/users/{id}/enrollment`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewEnrollment {
    pub enrollment: Enrollment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentCodeStatus {
    Waiting,
    Expired,
    Redeemed,
}

/// An enrollment code as the user's page lists it (never the code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentCode {
    pub id: String,
    pub status: EnrollmentCodeStatus,
    pub created_at: i64,
    pub expires_at: i64,
    #[schema(required = true)]
    pub used_at: Option<i64>,
    /// The device that redeemed it.
    #[schema(required = true)]
    pub device_id: Option<String>,
    #[schema(required = true)]
    pub device_name: Option<String>,
}

/// `GET /v1/admin/users/{id}`: the user and their enrollment codes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub enrollment_codes: Vec<EnrollmentCode>,
}

/// A user's OAuth connection: a sealed record written from one of their devices.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OauthConnection {
    pub integration_id: String,
    pub connected: bool,
    pub environment: String,
    pub vault_key_id: String,
    pub version: i64,
    pub device_id: String,
    #[schema(required = true)]
    pub device_name: Option<String>,
    pub connected_at: i64,
    pub updated_at: i64,
}

/// An API-key integration the user may use (the server holds the key).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyConnection {
    pub integration_id: String,
    pub connected: bool,
    pub environment: String,
    pub connected_at: i64,
}

/// One of a user's connections, by its kind (never any token material).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Connection {
    Oauth(OauthConnection),
    ApiKey(ApiKeyConnection),
}

/// A device's answer to a revocation order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevocationReceiptView {
    pub at: i64,
    /// What the provider said: revoked, not_supported, queued, failed, no_copy or kept.
    pub provider: String,
    pub detail: String,
    pub local_wiped: bool,
}

/// An admin's order to one device (the kill switch), with the device's receipt once in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Revocation {
    pub id: String,
    pub integration_id: String,
    pub environment: String,
    pub reason: String,
    pub device_id: String,
    #[schema(required = true)]
    pub device_name: Option<String>,
    pub ordered_at: i64,
    #[schema(required = true)]
    pub receipt: Option<RevocationReceiptView>,
}

/// `GET /v1/admin/users/{id}/connections`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserConnections {
    pub user: User,
    pub connections: Vec<Connection>,
    pub revocations: Vec<Revocation>,
    /// Per integration, how many devices have not answered their order yet.
    pub revocations_pending: BTreeMap<String, u64>,
}

/// `DELETE /v1/admin/users/{id}/connections/{integration}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Disconnected {
    pub deleted_records: u64,
}

// ---- devices and releases ----

/// An enrolled device (never its token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: i64,
    #[schema(required = true)]
    pub last_seen_at: Option<i64>,
    #[schema(required = true)]
    pub revoked_at: Option<i64>,
    /// The update channel its app is offered releases from.
    pub update_channel: String,
    /// What its app reported on its last update check (null: never checked).
    #[schema(required = true)]
    pub app_version: Option<String>,
    #[schema(required = true)]
    pub app_target: Option<String>,
    #[schema(required = true)]
    pub app_arch: Option<String>,
    #[schema(required = true)]
    pub app_version_seen_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// `PUT /v1/admin/devices/{id}/update-channel` and `PATCH /v1/admin/releases/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelChange {
    /// An update channel, such as stable or beta.
    #[schema(pattern = "^[a-z0-9-]{1,32}$")]
    pub channel: String,
}

/// The raw request body of `POST /v1/admin/releases`: the artifact `tauri build`
/// wrote (at most updates.max_artifact_bytes), metadata in the query string.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ReleaseArtifact(pub Vec<u8>);

/// A signed desktop-app release (never its bytes).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Release {
    pub id: String,
    /// Semver, as the server normalised it.
    pub version: String,
    /// Tauri's `{{target}}`: linux, windows or darwin.
    pub target: String,
    /// Tauri's `{{arch}}`: x86_64, aarch64, i686 or armv7.
    pub arch: String,
    pub channel: String,
    pub notes: String,
    pub signature: String,
    pub size: i64,
    /// Lowercase hex SHA-256 of the artifact.
    pub sha256: String,
    pub created_at: i64,
    #[schema(required = true)]
    pub withdrawn_at: Option<i64>,
}

/// `GET /v1/admin/releases`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReleaseList {
    pub releases: Vec<Release>,
    /// The configured update key (null: uploads cannot be checked, so none is accepted).
    #[schema(required = true)]
    pub update_key: Option<String>,
}

// ---- audit ----

/// Who did what an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Admin,
    Device,
    /// An identity provider, by the id of the SCIM token it called with.
    Scim,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Device => "device",
            Self::Scim => "scim",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Admin, Self::Device, Self::Scim, Self::System]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor_kind: ActorKind,
    #[schema(required = true)]
    pub actor_id: Option<String>,
    /// Such as `integration.put`.
    pub action: String,
    #[schema(required = true)]
    pub target: Option<String>,
    /// What the action's code recorded (never a secret); null if unreadable.
    pub detail: serde_json::Value,
}

/// `GET /v1/admin/audit`: a page of events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// The cursor for the next page (`before=`); null on the last page.
    #[schema(required = true)]
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_shown_once_secret_serialises_but_never_debugs() {
        let created = CreatedToken {
            id: "t1".into(),
            name: "CI".into(),
            token: ShownOnce::new("lk_admin_SECRET"),
            expires_at: 1,
        };
        assert_eq!(
            serde_json::to_value(&created).unwrap()["token"],
            "lk_admin_SECRET"
        );
        assert!(!format!("{created:?}").contains("SECRET"));
        let login: Login =
            serde_json::from_value(json!({ "email": "a@b.c", "password": "hunter2-hunter2" }))
                .unwrap();
        assert!(!format!("{login:?}").contains("hunter2"));
    }

    #[test]
    fn requests_refuse_fields_the_server_would_drop() {
        let err = serde_json::from_value::<InviteUser>(
            json!({ "email": "a@b.c", "display_name": "A", "admin": true }),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn integration_input_tells_absent_from_null() {
        let keep: IntegrationInput = serde_json::from_value(json!({ "enabled": true })).unwrap();
        assert!(keep.api_key.is_none() && keep.default_widgets.is_none());
        assert_eq!(keep.environment, "production");
        let clear: IntegrationInput = serde_json::from_value(
            json!({ "enabled": true, "api_key": null, "default_widgets": null }),
        )
        .unwrap();
        assert!(matches!(clear.api_key, Some(None)));
        assert!(matches!(clear.default_widgets, Some(None)));
    }

    #[test]
    fn enums_keep_their_wire_spelling() {
        assert_eq!(json!(SecretState::NotSet), json!("not set"));
        assert_eq!(json!(RedirectHost::Loopback), json!("127.0.0.1"));
        assert_eq!(json!(IntegrationKind::ApiKey), json!("api_key"));
        assert_eq!(json!(PasswordSignIn::OwnerOnly), json!("owner_only"));
        for kind in [
            ActorKind::Admin,
            ActorKind::Device,
            ActorKind::Scim,
            ActorKind::System,
        ] {
            assert_eq!(json!(kind), json!(kind.as_str()));
            assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ActorKind::parse("robot"), None);
    }

    #[test]
    fn connections_carry_their_kind_and_only_their_fields() {
        let c = Connection::ApiKey(ApiKeyConnection {
            integration_id: "openai".into(),
            connected: true,
            environment: "production".into(),
            connected_at: 5,
        });
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({ "kind": "api_key", "integration_id": "openai", "connected": true, "environment": "production", "connected_at": 5 })
        );
    }

    #[test]
    fn user_detail_is_the_user_with_its_codes_beside() {
        let d = UserDetail {
            user: User {
                id: "u".into(),
                email: "a@b.c".into(),
                display_name: "A".into(),
                created_at: 1,
                active: true,
                external_id: None,
                provisioned_by: None,
            },
            enrollment_codes: vec![],
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["email"], "a@b.c");
        assert!(v["external_id"].is_null() && v.get("external_id").is_some());
        assert_eq!(v["enrollment_codes"], json!([]));
    }
}
