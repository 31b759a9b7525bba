//! The rows storage keeps, as the server sees them, and how list and map columns
//! are encoded.

use crate::{DbError, DbResult};

/// Milliseconds since the Unix epoch; the only time representation in storage,
/// identical on both backends.
pub type Millis = i64;

/// One deployment's organisation. One per deployment today; ids are kept in the
/// schema so several can live in one database later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
}

/// A console administrator. `password_hash` is an Argon2id PHC string.
/// No `Debug`: the hash is not for logs either.
#[derive(Clone)]
pub struct Admin {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub password_hash: String,
    pub role: AdminRole,
    pub created_at: Millis,
}

/// What an admin may do beyond the everyday: the org's owner (its first admin) may
/// list and revoke every admin's API tokens and add and remove admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Owner,
    Admin,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DbError> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            other => Err(DbError::Corrupt(format!("unknown admin role {other:?}"))),
        }
    }
}

/// What an admin credential is: a console session (cookie + CSRF) or an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Session,
    ApiToken,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::ApiToken => "api_token",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DbError> {
        match s {
            "session" => Ok(Self::Session),
            "api_token" => Ok(Self::ApiToken),
            other => Err(DbError::Corrupt(format!(
                "unknown credential kind {other:?}"
            ))),
        }
    }
}

/// An admin session or API token. Only SHA-256 hashes of the token (and of the
/// session's CSRF token) are stored.
#[derive(Clone)]
pub struct AdminCredential {
    pub id: String,
    pub admin_id: String,
    pub org_id: String,
    pub kind: CredentialKind,
    pub token_hash: Vec<u8>,
    pub csrf_hash: Option<Vec<u8>>,
    /// What the admin called an API token ("CI deploy"); sessions have none.
    pub name: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    /// Kept to the minute: when the credential last opened a request.
    pub last_used_at: Option<Millis>,
}

/// A person whose devices sync connection records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub display_name: String,
    pub created_at: Millis,
    /// The identity provider's own id for this person (SCIM `externalId`).
    pub external_id: Option<String>,
    /// `false` once the identity provider deactivated them: the row stays (SCIM reads it
    /// back), but devices, connections and codes are gone and enrollment is refused.
    pub active: bool,
    /// Who created the user when not an admin: [`PROVISIONED_BY_SCIM`].
    pub provisioned_by: Option<String>,
    /// The SCIM attributes the identity provider sent (a JSON object), returned as sent.
    pub scim_profile: Option<String>,
    pub updated_at: Millis,
}

/// [`User::provisioned_by`] of users the identity provider created over SCIM.
pub const PROVISIONED_BY_SCIM: &str = "scim";

impl User {
    /// An active user an admin created (not provisioned by SCIM).
    pub fn new(
        id: String,
        org_id: String,
        email: String,
        display_name: String,
        now: Millis,
    ) -> Self {
        Self {
            id,
            org_id,
            email,
            display_name,
            created_at: now,
            external_id: None,
            active: true,
            provisioned_by: None,
            scim_profile: None,
            updated_at: now,
        }
    }
}

/// A group the identity provider pushed over SCIM, with its members' user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: String,
    pub org_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The SCIM attributes as sent (a JSON object); members are rendered from `members`.
    pub scim_profile: String,
    pub members: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A bearer token an identity provider calls `/scim/v2` with. Only its SHA-256 hash
/// is stored; revoked tokens keep their row so a later use is audited as revoked.
#[derive(Clone)]
pub struct ScimToken {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub token_hash: Vec<u8>,
    /// The admin who issued it.
    pub created_by: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// A one-time enrollment code; only its SHA-256 hash is stored.
#[derive(Clone)]
pub struct EnrollmentCode {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub code_hash: Vec<u8>,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// What the console shows of one enrollment code: never the code, but when it was
/// made, until when it works, and which device redeemed it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentCodeStatus {
    pub id: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
    pub device_id: Option<String>,
    /// The redeeming device's name while it exists.
    pub device_name: Option<String>,
}

/// An enrolled device. Its token is 256 random bits; only the SHA-256 hash is stored.
#[derive(Clone)]
pub struct Device {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub created_at: Millis,
    pub last_seen_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    /// The update channel its admin put it on (`stable` unless changed).
    pub update_channel: String,
    /// What its app last reported when it asked for an update (`None`: never asked).
    pub app: Option<AppReport>,
}

/// The channel every device and release starts on.
pub const DEFAULT_UPDATE_CHANNEL: &str = "stable";

/// What a device's app said about itself on its last update check, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppReport {
    pub version: String,
    pub target: String,
    pub arch: String,
    pub seen_at: Millis,
}

/// One signed artifact of the desktop app for one platform on one update channel.
/// The artifact bytes are stored apart (see [`crate::Database::create_release`]) and
/// never travel with this model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: String,
    pub org_id: String,
    /// Semver text, as the server normalised it.
    pub version: String,
    /// Tauri's `{{target}}`: `linux`, `windows` or `darwin`.
    pub target: String,
    /// Tauri's `{{arch}}`: `x86_64`, `aarch64`, `i686` or `armv7`.
    pub arch: String,
    pub channel: String,
    pub notes: String,
    /// The base64 minisign signature text `tauri signer sign` writes, checked at upload.
    pub signature: String,
    pub size: i64,
    /// Lowercase hex SHA-256 of the artifact.
    pub sha256: String,
    pub created_at: Millis,
    pub withdrawn_at: Option<Millis>,
}

/// One *connection*: this org's configuration of a catalog provider for one system
/// and environment. An org may have several connections of one provider (its
/// production org and its UAT sandbox); `id` names the connection everywhere
/// (records, feed events, sealed envelopes) and `provider` the catalog entry. Client
/// secrets and API keys are stored sealed by the server key (the server crate seals
/// them); storage only ever sees ciphertext.
#[derive(Clone)]
pub struct Integration {
    pub org_id: String,
    /// The connection's id (`salesforce`, `salesforce-uat`).
    pub id: String,
    /// The catalog provider's id (`salesforce`).
    pub provider: String,
    /// What tells this connection apart ("Salesforce — UAT sandbox"); `None`: the
    /// catalog's name for the provider.
    pub display_name: Option<String>,
    pub enabled: bool,
    /// `production`, `sandbox`, or a custom login host.
    pub environment: String,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    /// Values for the provider catalog's placeholders (tenant, subdomain,
    /// issuer). Not secret.
    pub params: std::collections::BTreeMap<String, String>,
    /// `None` (and no `allowed_groups`): every user of the org; `Some`: these user ids
    /// (and the members of `allowed_groups`).
    pub allowed_users: Option<Vec<String>>,
    /// SCIM group ids whose members may use the integration, beside `allowed_users`.
    /// `None` (and no `allowed_users`): every user of the org.
    pub allowed_groups: Option<Vec<String>>,
    pub api_key_sealed: Option<Vec<u8>>,
    /// API-key integrations: the only base URL the proxy may reach.
    pub api_base_url: Option<String>,
    /// API-key integrations: path prefixes (under the base URL) the proxy allows.
    pub api_paths: Vec<String>,
    /// API-key integrations: the header carrying the key (`authorization` means `Bearer`).
    pub api_key_header: Option<String>,
    /// OAuth integrations: the host name in the registered loopback redirect URI,
    /// `127.0.0.1` or (where the catalog allows it) `localhost`.
    pub redirect_host: String,
    /// The home-screen widgets offered by default (catalog widget ids); `None`: all the
    /// catalog offers for the provider.
    pub default_widgets: Option<Vec<String>>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Catalog placeholders each user fills when they connect (a Salesforce My Domain,
    /// a Zendesk subdomain), by name; empty: the admin set everything.
    pub asked_at_connect: Vec<String>,
    /// An org connection: the admin authorizes it once in the console and the server
    /// keeps its tokens ([`OrgToken`]); devices use it only through the server's proxy.
    pub org_wide: bool,
    /// Salesforce org connections: "Test connection" also demands "Customize Application"
    /// of the authorizing user (beside "API Enabled").
    pub require_customize_application: bool,
}

/// What one user gave for a connection's values asked at connect (see
/// [`Integration::asked_at_connect`]). Not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionValues {
    pub org_id: String,
    pub user_id: String,
    pub integration_id: String,
    pub values: std::collections::BTreeMap<String, String>,
    pub updated_at: Millis,
}

/// The tokens of an org connection, sealed with the server key. The server opens them only
/// to call the provider; no API returns them. `version` grows with each write, so a refresh
/// under the row lock sees whether another replica refreshed first.
#[derive(Clone)]
pub struct OrgToken {
    pub org_id: String,
    pub integration_id: String,
    pub environment: String,
    pub access_sealed: Vec<u8>,
    pub refresh_sealed: Option<Vec<u8>>,
    /// Where API calls go (Salesforce's `instance_url`), never the login host.
    pub instance_url: Option<String>,
    /// `None`: the provider gave no `expires_in` (Salesforce): refresh on 401.
    pub expires_at: Option<Millis>,
    /// The admin who authorized it (email).
    pub authorized_by: String,
    pub authorized_at: Millis,
    pub last_used_at: Option<Millis>,
    pub refreshed_at: Option<Millis>,
    /// Why the admin must authorize again (`invalid_grant`, …); `None`: healthy.
    pub needs_reauth: Option<String>,
    pub version: i64,
}

/// What a refresh under the row lock decided (see [`crate::Database::refresh_org_token`]).
pub enum OrgTokenChange {
    /// New tokens from the provider; `refresh_sealed: None` keeps the old refresh token.
    Refreshed {
        access_sealed: Vec<u8>,
        refresh_sealed: Option<Vec<u8>>,
        expires_at: Option<Millis>,
        instance_url: Option<String>,
        now: Millis,
    },
    /// The provider refused the refresh token for good: the admin must authorize again.
    NeedsReauth(String),
    /// Nothing to write (the provider could not be reached: tokens kept).
    Unchanged,
}

/// The step a refresh runs while holding the row lock: given the current row, ask the
/// provider and say what to write.
pub type OrgRefresher = Box<
    dyn FnOnce(
            OrgToken,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = OrgTokenChange> + Send>>
        + Send,
>;

impl Integration {
    /// Whether `user_id`, a member of the SCIM groups `groups`, may use this integration
    /// (ignores `enabled`): everyone when neither list is set; otherwise whoever
    /// `allowed_users` names or is in a group `allowed_groups` names.
    pub fn allows(&self, user_id: &str, groups: &[String]) -> bool {
        match (&self.allowed_users, &self.allowed_groups) {
            (None, None) => true,
            (users, allowed_groups) => {
                users
                    .as_ref()
                    .is_some_and(|users| users.iter().any(|u| u == user_id))
                    || allowed_groups
                        .as_ref()
                        .is_some_and(|allowed| allowed.iter().any(|g| groups.contains(g)))
            }
        }
    }

    /// Whether [`Self::allows`] needs `user_id`'s groups to decide: only when the
    /// integration names groups and does not name the user.
    pub fn needs_groups_of(&self, user_id: &str) -> bool {
        self.allowed_groups.as_ref().is_some_and(|g| !g.is_empty())
            && !self
                .allowed_users
                .as_ref()
                .is_some_and(|users| users.iter().any(|u| u == user_id))
    }
}

/// The identity of one connection-record slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotKey {
    pub user_id: String,
    pub vault_key_id: String,
    pub integration_id: String,
    pub environment: String,
}

/// A slot as a device names it: [`SlotKey`] without the user, who always comes
/// from the device's token, never from the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceSlot {
    pub vault_key_id: String,
    pub integration_id: String,
    pub environment: String,
}

impl DeviceSlot {
    /// The slot of `user_id` this names.
    pub fn of_user(&self, user_id: &str) -> SlotKey {
        SlotKey {
            user_id: user_id.to_owned(),
            vault_key_id: self.vault_key_id.clone(),
            integration_id: self.integration_id.clone(),
            environment: self.environment.clone(),
        }
    }
}

/// A live connection record: an opaque sealed envelope and its metadata.
#[derive(Clone)]
pub struct ConnectionRecord {
    pub slot: SlotKey,
    pub envelope: Vec<u8>,
    pub version: i64,
    pub device_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One integration's secrets sealed under a new server key (`latchkey-server rotate-key`).
#[derive(Clone)]
pub struct ResealedSecrets {
    pub integration_id: String,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub api_key_sealed: Option<Vec<u8>>,
    /// The org connection's tokens, when the server holds some for it.
    pub org_token: Option<ResealedOrgToken>,
}

/// An org connection's tokens sealed under a new server key. Written only if the row is
/// still at `version` (a refresh in between would otherwise be overwritten with stale
/// tokens): else the whole rotation is refused.
#[derive(Clone)]
pub struct ResealedOrgToken {
    pub access_sealed: Vec<u8>,
    pub refresh_sealed: Option<Vec<u8>>,
    pub version: i64,
}

/// The compare-and-swap condition of a record write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: succeed only if no live record is in the slot.
    Absent,
    /// `If-Match: <version>`: succeed only if the live record has this version.
    Version(i64),
}

/// Encodes a list of strings for a TEXT column (JSON array), identically on every backend.
pub fn encode_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Encodes a string map as a JSON object (the `params` column).
pub fn encode_map(items: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "{}".to_owned())
}

/// Decodes a map written by [`encode_map`].
pub fn decode_map(text: &str) -> DbResult<std::collections::BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("bad map column: {e}")))
}

/// Decodes a list written by [`encode_list`].
pub fn decode_list(text: &str) -> DbResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("bad list column: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_through_their_column_encoding() {
        let scopes = vec!["api".to_owned(), "refresh_token offline".to_owned()];
        assert_eq!(decode_list(&encode_list(&scopes)).unwrap(), scopes);
        assert_eq!(encode_list(&[]), "[]");
        assert!(decode_list("{").is_err());
    }

    #[test]
    fn an_integration_without_a_user_list_allows_everyone() {
        let mut i = Integration {
            org_id: "o".into(),
            id: "salesforce".into(),
            provider: "salesforce".into(),
            display_name: None,
            enabled: true,
            environment: "production".into(),
            client_id: None,
            client_secret_sealed: None,
            scopes: vec![],
            params: Default::default(),
            allowed_users: None,
            allowed_groups: None,
            api_key_sealed: None,
            api_base_url: None,
            api_paths: vec![],
            redirect_host: "127.0.0.1".into(),
            default_widgets: None,
            api_key_header: None,
            created_at: 0,
            updated_at: 0,
            asked_at_connect: Vec::new(),
            org_wide: false,
            require_customize_application: false,
        };
        let sales = vec!["sales".to_owned()];
        assert!(i.allows("anyone", &[]));
        assert!(!i.needs_groups_of("anyone"));
        i.allowed_users = Some(vec!["u1".into()]);
        assert!(i.allows("u1", &[]));
        assert!(!i.allows("u2", &[]));
        // Users alone: a group membership does not open it.
        assert!(!i.allows("u2", &sales));
        assert!(!i.needs_groups_of("u2"));
    }

    #[test]
    fn an_allow_list_of_groups_admits_their_members_or_the_listed_users() {
        let mut i = Integration {
            org_id: "o".into(),
            id: "salesforce".into(),
            provider: "salesforce".into(),
            display_name: None,
            enabled: true,
            environment: "production".into(),
            client_id: None,
            client_secret_sealed: None,
            scopes: vec![],
            params: Default::default(),
            allowed_users: None,
            allowed_groups: Some(vec!["sales".into()]),
            api_key_sealed: None,
            api_base_url: None,
            api_paths: vec![],
            redirect_host: "127.0.0.1".into(),
            default_widgets: None,
            api_key_header: None,
            created_at: 0,
            updated_at: 0,
            asked_at_connect: Vec::new(),
            org_wide: false,
            require_customize_application: false,
        };
        let sales = vec!["eng".to_owned(), "sales".to_owned()];
        let eng = vec!["eng".to_owned()];
        // Groups alone: members only, not everyone.
        assert!(i.allows("ann", &sales));
        assert!(!i.allows("bob", &eng));
        assert!(!i.allows("bob", &[]));
        assert!(i.needs_groups_of("bob"));
        // Users or groups: either opens it.
        i.allowed_users = Some(vec!["bob".into()]);
        assert!(i.allows("bob", &[]));
        assert!(!i.needs_groups_of("bob"));
        assert!(i.allows("ann", &sales));
        assert!(!i.allows("cyd", &eng));
        // An empty group list names no one.
        i.allowed_groups = Some(vec![]);
        assert!(!i.allows("ann", &sales));
        assert!(!i.needs_groups_of("ann"));
    }
}
