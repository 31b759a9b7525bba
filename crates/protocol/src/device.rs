//! Bodies of the device API: enrollment, the integration list, sealed records,
//! the change feed, revocation orders and receipts, the proxy and updates.
//!
//! Request bodies refuse unknown fields (a field the server would drop is a
//! client bug). Response bodies accept unknown fields, and their optional
//! fields may be absent, so a device keeps working against a newer server.
//! Optional response fields are still always written (as `null`), as the server
//! always did, unless a field's doc says it is left out.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use latchkey_secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{
    DeviceId, EnvironmentName, IntegrationId, OrgId, RevocationOrderId, UserId, VaultKeyId,
};
use crate::secret::{expose, expose_option};

/// Milliseconds since the Unix epoch, as every time on the wire is.
pub type Millis = i64;

// ---------------------------------------------------------------------------
// Enrollment

/// `POST /v1/enroll`: trade a one-time enrollment code (from the admin's
/// `latchkey://enroll` link) for a device token.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The one-time code.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String, format = Password)]
    pub code: SecretString,
    /// What the user calls this computer (1-200 printable characters).
    pub device_name: String,
}

/// `POST /v1/enroll/sso/redeem`: trade the one-time code a company sign-in sent to
/// the device's loopback listener, with the PKCE verifier only the device knows,
/// for a device token.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoRedeemRequest {
    /// The sealed one-time code from the redirect.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String, format = Password)]
    pub code: SecretString,
    /// The PKCE verifier whose S256 challenge started the sign-in.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String, format = Password)]
    pub code_verifier: SecretString,
    /// What the user calls this computer.
    pub device_name: String,
}

/// The answer to both enrollments (201): the device token, shown this once.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrollResponse {
    /// The device's bearer token; keep it in the OS keychain.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String, format = Password)]
    pub device_token: SecretString,
    /// The new device.
    pub device: DeviceInfo,
    /// Who the device belongs to.
    pub user: UserInfo,
    /// The server's canonical origin (the one enrollment links carry).
    pub server: String,
}

/// A device as the server describes it (the console's device list shows the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceInfo {
    /// The device's id.
    pub id: DeviceId,
    /// Its user.
    pub user_id: UserId,
    /// What the user called it.
    pub name: String,
    /// When it enrolled.
    pub created_at: Millis,
    /// When it last called (kept to the minute).
    #[serde(default)]
    #[schema(required = true)]
    pub last_seen_at: Option<Millis>,
    /// When an admin revoked it.
    #[serde(default)]
    #[schema(required = true)]
    pub revoked_at: Option<Millis>,
    /// The update channel it is offered releases from (`stable` unless changed).
    pub update_channel: String,
    /// The app version it reported on its last update check (`null`: never checked).
    #[serde(default)]
    #[schema(required = true)]
    pub app_version: Option<String>,
    /// The platform it reported (`linux`, `darwin`, `windows`).
    #[serde(default)]
    #[schema(required = true)]
    pub app_target: Option<String>,
    /// The architecture it reported.
    #[serde(default)]
    #[schema(required = true)]
    pub app_arch: Option<String>,
    /// When it last reported its app.
    #[serde(default)]
    #[schema(required = true)]
    pub app_version_seen_at: Option<Millis>,
}

/// A user as the server describes them (the console's user list shows the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    /// The user's id.
    pub id: UserId,
    /// Their email address (normalised: lower case, NFC).
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// When they were added.
    pub created_at: Millis,
    /// `false` once the identity provider deactivated them.
    pub active: bool,
    /// The identity provider's id for them (SCIM `externalId`).
    #[serde(default)]
    #[schema(required = true)]
    pub external_id: Option<String>,
    /// Who created them when not an admin (`scim`).
    #[serde(default)]
    #[schema(required = true)]
    pub provisioned_by: Option<String>,
}

/// `GET /v1/enroll/sso/start`'s query: where the browser comes back (the device's
/// loopback listener, RFC 8252) and the PKCE challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoStartQuery {
    /// `http://127.0.0.1:PORT/PATH` or `http://[::1]:PORT/PATH`.
    pub redirect_uri: String,
    /// 1-256 unreserved characters, echoed back to the listener.
    pub state: String,
    /// The base64url SHA-256 of the verifier (43 characters).
    pub code_challenge: String,
    /// Always `S256`.
    pub code_challenge_method: String,
}

/// Who may still sign in to the console with a password when company sign-in is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSignIn {
    /// Every admin.
    All,
    /// The owner only (a way in when the identity provider is down).
    OwnerOnly,
}

/// `GET /v1/console/sso` (public): whether company sign-in is on. The console shows
/// the button; `latchkey enroll --sso` asks before opening a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoInfo {
    /// Whether company sign-in is configured.
    pub enabled: bool,
    /// The button's words (`null` when off; always sent).
    #[serde(default)]
    #[schema(required = true)]
    pub label: Option<String>,
    /// Who may still use a password.
    pub password_sign_in: PasswordSignIn,
}

// ---------------------------------------------------------------------------
// Who am I

/// `GET /v1/me`: the device, its user and org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The device's user.
    pub user: MeUser,
    /// This device.
    pub device: MeDevice,
    /// The organisation.
    pub org: OrgInfo,
}

/// The user in [`Me`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeUser {
    /// The user's id.
    pub id: UserId,
    /// Their email address.
    pub email: String,
    /// Their name.
    pub display_name: String,
}

/// The device in [`Me`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeDevice {
    /// The device's id.
    pub id: DeviceId,
    /// What the user called it.
    pub name: String,
    /// When it enrolled.
    pub created_at: Millis,
}

/// The organisation in [`Me`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgInfo {
    /// The org's id.
    pub id: OrgId,
    /// Its name.
    pub name: String,
}

// ---------------------------------------------------------------------------
// Integrations

/// How an integration connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum IntegrationKind {
    /// Each user signs in at the provider; the device keeps the tokens, sealed.
    #[serde(rename = "oauth")]
    OAuth,
    /// The admin's API key, kept on the server; devices call through the proxy.
    #[serde(rename = "api_key")]
    ApiKey,
}

impl IntegrationKind {
    /// The kind's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OAuth => "oauth",
            Self::ApiKey => "api_key",
        }
    }
}

/// `GET /v1/integrations`: the integrations enabled for this device's user.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationList {
    /// Each with its public configuration.
    pub integrations: Vec<IntegrationConfig>,
}

/// An integration's public configuration: what a device needs to connect. An API
/// key is never in it.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationConfig {
    /// The connection's id: records, feed events and sealed envelopes name it.
    pub id: IntegrationId,
    /// The catalog provider it is a connection of. Absent (a server from before
    /// named connections): `id` is the provider.
    #[serde(default)]
    pub provider: Option<IntegrationId>,
    /// What the menu calls it ("Salesforce — UAT sandbox"). Absent: the catalog's name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// OAuth or API key.
    pub kind: IntegrationKind,
    /// The environment the admin enabled.
    pub environment: EnvironmentName,
    /// The OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A client secret the provider demands. Handed to devices: a native app cannot
    /// keep it confidential (RFC 8252 §8.5).
    #[serde(default, serialize_with = "expose_option")]
    #[schema(value_type = Option<String>, format = Password)]
    pub client_secret: Option<SecretString>,
    /// Scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Values for the catalog's placeholders (tenant, subdomain, issuer).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The host in the registered loopback callback: `127.0.0.1` or `localhost`.
    #[serde(default)]
    pub redirect_host: Option<String>,
    /// The widgets the admin offers by default (catalog widget ids); `null`: every
    /// one the catalog offers.
    #[serde(default)]
    pub default_widgets: Option<Vec<String>>,
    /// `true` for an API-key integration (connected for every permitted user with no
    /// action of theirs); `null` for OAuth.
    #[serde(default)]
    pub connected: Option<bool>,
    /// When the admin last changed it.
    #[serde(default)]
    pub updated_at: Millis,
    /// Values the admin left for this user to give before connecting (a Salesforce My
    /// Domain, a Zendesk subdomain): `PUT /v1/integrations/{id}/values`. Empty once given;
    /// `environment` and `params` then include them.
    #[serde(default)]
    pub ask: Vec<AskedValue>,
    /// An org connection: the admin connected it for everyone and the server keeps the
    /// tokens; the device never starts an OAuth flow for it and calls it only through
    /// `/v1/proxy/{integration}/…` ("Connected by your admin"). Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub org_wide: bool,
}

/// One value a connection asks of the user at connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AskedValue {
    /// The catalog placeholder's name (`login_host`), what `latchkey connect --set` takes.
    pub name: String,
    /// What it is, from the catalog ("the Salesforce login host: … or the org's My Domain").
    pub description: String,
    /// An example value (`acme.my.salesforce.com`).
    #[serde(default)]
    pub example: Option<String>,
}

/// `PUT /v1/integrations/{id}/values`: the user's values for what the connection asks.
/// Checked with the rules the console uses (a host under the provider's domains, no
/// credentials in it); not secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionValuesInput {
    /// Placeholder name to value; only names the connection asks.
    pub values: BTreeMap<String, String>,
}

impl IntegrationConfig {
    /// The catalog provider: `provider`, or `id` from a server that predates named
    /// connections.
    pub fn provider_id(&self) -> &IntegrationId {
        self.provider.as_ref().unwrap_or(&self.id)
    }
}

// ---------------------------------------------------------------------------
// Records

/// `GET /v1/records`'s query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordListQuery {
    /// Only this integration's records.
    #[serde(default)]
    pub integration: Option<IntegrationId>,
}

/// `GET /v1/records`: the user's live records, envelopes included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordList {
    /// Every live record of this user.
    pub records: Vec<Record>,
}

/// A sealed connection record and its metadata. The server never sees inside the
/// envelope.
///
/// `GET /v1/records/{integration}/{environment}/{vault_key_id}` answers one with
/// `ETag: "<version>"`. A write's answer (`PUT`) has no `envelope`: the device
/// just sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Record {
    /// The integration.
    pub integration_id: IntegrationId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The vault key that sealed the envelope.
    pub vault_key_id: VaultKeyId,
    /// The compare-and-swap version: 1 on create, one more on each write.
    pub version: i64,
    /// The device that wrote this version.
    pub device_id: DeviceId,
    /// When the slot was first written.
    pub created_at: Millis,
    /// When this version was written.
    pub updated_at: Millis,
    /// The sealed envelope, standard base64. Left out of a write's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
}

/// `PUT /v1/records/{integration}/{environment}/{vault_key_id}`: write a sealed
/// record with compare-and-swap.
///
/// Send `If-None-Match: *` to create (201; 412 `version_mismatch` if a record
/// exists) or `If-Match: <version>` (bare or quoted) to replace the version you
/// read (200; 412 `version_mismatch` with `current_version` when it changed).
/// Neither is 428 `precondition_required`; both is 400. The answer's `ETag` is the
/// new version. A create into a slot an admin emptied is 410 `revoked_by_admin`
/// unless `new_grant` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecordRequest {
    /// The sealed envelope, standard base64 (at most the server's envelope limit).
    pub envelope: String,
    /// Set right after a new sign-in (the user pressed Connect): only a new grant may
    /// write a slot an admin emptied. Left out when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub new_grant: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `DELETE /v1/records/{integration}/{environment}/{vault_key_id}` (with
/// `If-Match: <version>`, required): the slot is tombstoned at a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeletedRecord {
    /// Always `true`.
    pub deleted: bool,
    /// The tombstone's version.
    pub version: i64,
}

// ---------------------------------------------------------------------------
// Change feed

/// `GET /v1/events`'s query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Resume after this sequence number (the `id` of the last event seen);
    /// `Last-Event-ID` also works.
    #[serde(default)]
    pub since: Option<i64>,
}

/// What changed: the change feed's event names (the SSE `event:` field) and the
/// kinds in the server's change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum ChangeKind {
    /// The feed's first event (never stored): `data` is [`FeedReady`].
    #[serde(rename = "ready")]
    Ready,
    /// An admin enabled an integration.
    #[serde(rename = "integration.enabled")]
    IntegrationEnabled,
    /// An admin changed an enabled integration.
    #[serde(rename = "integration.updated")]
    IntegrationUpdated,
    /// An admin disabled or removed an integration.
    #[serde(rename = "integration.disabled")]
    IntegrationDisabled,
    /// One of the user's devices wrote or deleted a record.
    #[serde(rename = "connection.changed")]
    ConnectionChanged,
    /// An admin disconnected the user from an integration.
    #[serde(rename = "connection.disconnected")]
    ConnectionDisconnected,
    /// A device of the user was revoked. Sent to this device's own stream as its last
    /// event, with [`FeedDeviceRevoked`] as `data`.
    #[serde(rename = "device.revoked")]
    DeviceRevoked,
    /// The identity provider deactivated the user.
    #[serde(rename = "user.deactivated")]
    UserDeactivated,
    /// A kind this build does not know (from a newer server). Never sent; a device
    /// treats it as "something changed".
    #[serde(other, rename = "unknown")]
    Unknown,
}

impl ChangeKind {
    /// Every kind the server sends.
    pub const ALL: [ChangeKind; 8] = [
        Self::Ready,
        Self::IntegrationEnabled,
        Self::IntegrationUpdated,
        Self::IntegrationDisabled,
        Self::ConnectionChanged,
        Self::ConnectionDisconnected,
        Self::DeviceRevoked,
        Self::UserDeactivated,
    ];

    /// The wire name, as in the SSE `event:` field and the change log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::IntegrationEnabled => "integration.enabled",
            Self::IntegrationUpdated => "integration.updated",
            Self::IntegrationDisabled => "integration.disabled",
            Self::ConnectionChanged => "connection.changed",
            Self::ConnectionDisconnected => "connection.disconnected",
            Self::DeviceRevoked => "device.revoked",
            Self::UserDeactivated => "user.deactivated",
            Self::Unknown => "unknown",
        }
    }

    /// The kind of a wire name; a name this build does not know is [`Self::Unknown`].
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .unwrap_or(Self::Unknown)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ChangeKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The `data` of a change event: ids and kinds only, never secrets. A device
/// re-reads what changed through the ordinary API. The SSE `id` is `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedChange {
    /// The change log's sequence number (resume after it).
    pub seq: i64,
    /// What changed.
    pub kind: ChangeKind,
    /// The integration it concerns, when it concerns one.
    #[serde(default)]
    pub integration_id: Option<IntegrationId>,
    /// When.
    #[serde(default)]
    pub at: Millis,
}

/// The `data` of the feed's first event, `ready`: the sequence number it starts after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedReady {
    /// The stream continues after this sequence number.
    pub seq: i64,
}

/// The `data` of the `device.revoked` event that ends a revoked device's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedDeviceRevoked {
    /// This device.
    pub device_id: DeviceId,
}

// ---------------------------------------------------------------------------
// Revocation orders (the kill switch): in `revocation.rs`

mod revocation;
pub use revocation::*;

// ---------------------------------------------------------------------------
// Grants per connection (the provider's approval limit): in `grants.rs`

mod grants;
pub use grants::*;

// ---------------------------------------------------------------------------
// Proxy and updates

// `/v1/proxy/{integration}/{path}` has no body of its own: the request and the
// answer are the provider's, passed through (an error of the proxy's own is an
// `ErrorBody`).

/// The header of a proxied answer naming the provider URL it came from, without its
/// query (a device sent that): links and relative URLs in the answer are the
/// provider's, so a device resolves them there, never at the proxy. Not a secret:
/// the provider's host is in every link it returns.
pub const UPSTREAM_URL_HEADER: &str = "latchkey-upstream-url";

/// `GET /v1/updates/{target}/{arch}/{current_version}` (200; 204 when there is
/// nothing newer): Tauri's dynamic-server update manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateManifest {
    /// The release's semver.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// RFC 3339 in whole seconds.
    #[serde(default)]
    pub pub_date: Option<String>,
    /// Where to download the artifact (it needs the device token too).
    pub url: String,
    /// The minisign signature Tauri checks against the app's built-in key.
    pub signature: String,
}

#[cfg(test)]
mod tests;
