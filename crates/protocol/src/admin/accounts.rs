//! Operations (liveness, readiness), admins, console sign-in and setup, admin API
//! tokens and SCIM tokens (the admin side; SCIM itself follows RFC 7644).

use super::ShownOnce;
use latchkey_secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
