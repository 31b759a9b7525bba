//! Users, their enrollment codes and connections, devices, releases and the audit log.

use super::ShownOnce;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

// ---- users, enrollment, connections ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    pub email: String,
    pub display_name: String,
}

/// A user as the console lists them: the same body enrollment answers with.
pub use crate::device::UserInfo as User;

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
    /// Per connection, the values this user gave for what it asks at connect.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// `DELETE /v1/admin/users/{id}/connections/{integration}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Disconnected {
    pub deleted_records: u64,
}

// ---- devices and releases ----

/// A device as the console lists it: the same body enrollment answers with.
pub use crate::device::DeviceInfo as Device;

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
