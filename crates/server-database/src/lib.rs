//! The storage contract of `latchkey-server`: the models it keeps, the one
//! error type storage returns, and the [`Database`] trait that each backend
//! (SQLite, PostgreSQL) implements with its own SQL and migrations.
//!
//! Why a trait object and not sqlx's `Any` driver: the two dialects differ
//! exactly where correctness lives (autoincrement ids, the commit order of the
//! change log, locking), and a trait lets each backend do the right thing for
//! its engine while the server stays ignorant of SQL. The server holds an
//! `Arc<dyn Database>` chosen at start from the database URL.
//!
//! Every mutation takes a [`Journal`]: the audit event (and, when clients must
//! hear of it, the change-feed entry) is written in the same transaction as the
//! change itself, so the audit trail and the feed can never disagree with the data.

use async_trait::async_trait;

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
}

/// This org's configuration of one catalog integration. Client secrets and API
/// keys are stored sealed by the server key (the server crate seals them);
/// storage only ever sees ciphertext.
#[derive(Clone)]
pub struct Integration {
    pub org_id: String,
    pub id: String,
    pub enabled: bool,
    /// `production`, `sandbox`, or a custom login host.
    pub environment: String,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    /// Values for the provider catalog's placeholders (tenant, subdomain,
    /// issuer). Not secret.
    pub params: std::collections::BTreeMap<String, String>,
    /// `None`: every user of the org; `Some`: only these user ids.
    pub allowed_users: Option<Vec<String>>,
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
}

impl Integration {
    /// Whether `user_id` may use this integration (ignores `enabled`).
    pub fn allows(&self, user_id: &str) -> bool {
        self.allowed_users
            .as_ref()
            .is_none_or(|users| users.iter().any(|u| u == user_id))
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

/// Why an admin's action revoked a connection (the order's `reason`).
pub mod revocation_reason {
    /// The admin disconnected this user from the integration.
    pub const DISCONNECT: &str = "disconnect";
    /// The integration was disabled.
    pub const INTEGRATION_DISABLED: &str = "integration_disabled";
    /// The integration was removed.
    pub const INTEGRATION_REMOVED: &str = "integration_removed";
    /// The user was taken off the integration's allow-list.
    pub const ALLOW_LIST: &str = "allow_list";
    /// The user was removed (a leaver): every connection, on every device.
    pub const USER_REMOVED: &str = "user_removed";
    /// This device was revoked: it wipes its copies; the user's grants stay for their
    /// other devices.
    pub const DEVICE_REVOKED: &str = "device_revoked";
}

/// An order to one device: revoke one connection at the provider and wipe its sealed copy,
/// then answer with a receipt. Created with the admin's action, in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationOrder {
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub integration_id: String,
    pub environment: String,
    /// One of [`revocation_reason`].
    pub reason: String,
    pub created_at: Millis,
    /// The device's answer, once it came.
    pub receipt: Option<RevocationReceipt>,
}

/// What a device did with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationReceipt {
    pub at: Millis,
    /// `revoked`, `not_supported` (the provider has no revocation; `detail` says where to
    /// remove access), `queued` (the provider was unreachable; the device retries),
    /// `failed`, `no_copy` (this device held no tokens), or `kept` (a revoked device wiped
    /// its copy; the grant stays for the user's other devices).
    pub provider_outcome: String,
    /// Plain words, never a secret.
    pub provider_detail: String,
    /// Whether the device wiped its sealed copy.
    pub local_wiped: bool,
}

/// The provider outcomes a receipt may report.
pub const RECEIPT_OUTCOMES: &[&str] = &[
    "revoked",
    "not_supported",
    "queued",
    "failed",
    "no_copy",
    "kept",
];

/// The SQL both backends run for revocation orders (both accept `$N` binds); only the id
/// expression differs (`{id}`).
pub mod revocation_sql {
    /// Orders, written just before the records they concern are tombstoned: one per live
    /// record × each live device of its user, narrowed by whichever of integration, user
    /// and device are given (NULL: any). Binds: $1 now, $2 org, $3 reason, $4 integration,
    /// $5 user, $6 device.
    pub const INSERT_ORDERS: &str = "INSERT INTO revocation_orders \
         (id, org_id, user_id, device_id, device_token_hash, integration_id, environment, reason, created_at) \
         SELECT {id}, $2, t.user_id, t.device_id, t.token_hash, t.integration_id, t.environment, $3, $1 FROM \
         (SELECT DISTINCT r.user_id AS user_id, d.id AS device_id, d.token_hash AS token_hash, \
         r.integration_id AS integration_id, r.environment AS environment FROM connection_records r \
         JOIN devices d ON d.user_id = r.user_id AND d.revoked_at IS NULL \
         WHERE r.deleted = FALSE AND ($4 IS NULL OR r.integration_id = $4) \
         AND ($5 IS NULL OR r.user_id = $5) AND ($6 IS NULL OR d.id = $6) \
         AND r.user_id IN (SELECT id FROM users WHERE org_id = $2)) t";
    /// The device an order-bearing token belongs to, when the device itself is revoked
    /// or gone. Binds: $1 token hash.
    pub const DEVICE_BY_ORDER_TOKEN: &str = "SELECT device_id, user_id FROM revocation_orders \
         WHERE device_token_hash = $1 AND org_id = $2 LIMIT 1";
    /// The columns of an order.
    pub const COLUMNS: &str = "id, user_id, device_id, integration_id, environment, reason, \
         created_at, receipt_at, provider_outcome, provider_detail, local_wiped";
    /// A device's orders, oldest first. Binds: $1 device.
    pub const FOR_DEVICE: &str = "SELECT {columns} FROM revocation_orders WHERE device_id = $1 \
         AND receipt_at IS NULL ORDER BY created_at, id";
    /// A user's orders, newest first. Binds: $1 org, $2 user.
    pub const FOR_USER: &str = "SELECT {columns} FROM revocation_orders WHERE org_id = $1 \
         AND user_id = $2 ORDER BY created_at DESC, id LIMIT 500";
    /// Records a receipt once. Binds: $1 at, $2 outcome, $3 detail, $4 wiped, $5 order, $6 device.
    pub const RECEIPT: &str = "UPDATE revocation_orders SET receipt_at = $1, provider_outcome = $2, \
         provider_detail = $3, local_wiped = $4 WHERE id = $5 AND device_id = $6 AND receipt_at IS NULL";
    /// Whether a slot's tombstone was left by an admin. Binds: the slot.
    pub const ADMIN_REVOKED: &str = "SELECT revoked_by_admin FROM connection_records \
         WHERE user_id = $1 AND vault_key_id = $2 AND integration_id = $3 AND environment = $4 \
         AND deleted = TRUE";
    /// Lets a fresh grant write the slot again. Binds: the slot.
    pub const CLEAR_ADMIN_REVOKED: &str = "UPDATE connection_records SET revoked_by_admin = FALSE \
         WHERE user_id = $1 AND vault_key_id = $2 AND integration_id = $3 AND environment = $4 \
         AND deleted = TRUE";
}

/// The SQL both backends run for admins and their credentials (both accept `$N` binds).
pub mod admin_sql {
    /// Binds: $1 id, $2 org, $3 email, $4 password hash, $5 role, $6 created.
    pub const INSERT_ADMIN: &str = "INSERT INTO admins (id, org_id, email, password_hash, role, created_at)          VALUES ($1, $2, $3, $4, $5, $6)";
    /// Binds: $1 org.
    pub const LIST_ADMINS: &str = "SELECT * FROM admins WHERE org_id = $1 ORDER BY created_at, id";
    /// Binds: $1 id, $2 admin, $3 org, $4 kind, $5 token hash, $6 csrf hash, $7 name,
    /// $8 created, $9 expires.
    pub const INSERT_CREDENTIAL: &str = "INSERT INTO admin_credentials          (id, admin_id, org_id, kind, token_hash, csrf_hash, name, created_at, expires_at)          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    /// API tokens, newest first, of one admin or (NULL) all. Binds: $1 org, $2 admin.
    pub const LIST_API_TOKENS: &str = "SELECT * FROM admin_credentials WHERE org_id = $1          AND kind = 'api_token' AND ($2 IS NULL OR admin_id = $2) ORDER BY created_at DESC, id LIMIT 1000";
    /// Binds: $1 org, $2 id.
    pub const CREDENTIAL_BY_ID: &str =
        "SELECT * FROM admin_credentials WHERE org_id = $1 AND id = $2";
    /// Binds: $1 now, $2 id.
    pub const TOUCH_CREDENTIAL: &str =
        "UPDATE admin_credentials SET last_used_at = $1 WHERE id = $2";
    /// Every credential of an admin but one (NULL: all), of one kind (NULL: any).
    /// Binds: $1 admin, $2 kept credential, $3 kind.
    pub const DELETE_CREDENTIALS: &str = "DELETE FROM admin_credentials WHERE admin_id = $1          AND ($2 IS NULL OR id <> $2) AND ($3 IS NULL OR kind = $3)";
    /// Binds: $1 hash, $2 admin, $3 org.
    pub const SET_PASSWORD: &str =
        "UPDATE admins SET password_hash = $1 WHERE id = $2 AND org_id = $3";
    /// Binds: $1 id, $2 org.
    pub const DELETE_ADMIN: &str = "DELETE FROM admins WHERE id = $1 AND org_id = $2";
    /// A user's enrollment codes with the device that redeemed each. Binds: $1 org, $2 user.
    pub const ENROLLMENT_CODES: &str = "SELECT c.id AS id, c.created_at AS created_at,          c.expires_at AS expires_at, c.used_at AS used_at, c.device_id AS device_id,          d.name AS device_name FROM enrollment_codes c LEFT JOIN devices d ON d.id = c.device_id          WHERE c.org_id = $1 AND c.user_id = $2 ORDER BY c.created_at DESC, c.id LIMIT 100";
}

/// One integration's secrets sealed under a new server key (`latchkey-server rotate-key`).
#[derive(Clone)]
pub struct ResealedSecrets {
    pub integration_id: String,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub api_key_sealed: Option<Vec<u8>>,
}

/// Binds: $1 client secret, $2 API key, $3 org, $4 integration.
pub const RESEAL_SQL: &str = "UPDATE integrations SET client_secret_sealed = $1, api_key_sealed = $2 \
     WHERE org_id = $3 AND id = $4";

/// Which revocation orders to write: the admin action's reason, and the records it
/// concerns narrowed by integration, user and device (each `None`: any).
#[derive(Debug, Clone, Copy)]
pub struct Orders<'a> {
    pub org_id: &'a str,
    pub reason: &'a str,
    pub now: Millis,
    pub integration_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
}

impl<'a> Orders<'a> {
    /// Orders for every live record of the org (narrow them with the methods below).
    pub fn new(org_id: &'a str, reason: &'a str, now: Millis) -> Self {
        Self {
            org_id,
            reason,
            now,
            integration_id: None,
            user_id: None,
            device_id: None,
        }
    }

    /// Only records of this integration.
    pub fn integration(mut self, id: &'a str) -> Self {
        self.integration_id = Some(id);
        self
    }

    /// Only records of this user.
    pub fn user(mut self, id: &'a str) -> Self {
        self.user_id = Some(id);
        self
    }

    /// Only for this device.
    pub fn device(mut self, id: &'a str) -> Self {
        self.device_id = Some(id);
        self
    }
}

/// The compare-and-swap condition of a record write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: succeed only if no live record is in the slot.
    Absent,
    /// `If-Match: <version>`: succeed only if the live record has this version.
    Version(i64),
}

/// An audit event to append. `detail` is a JSON object that never holds secret material.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub org_id: String,
    pub at: Millis,
    /// `admin`, `device` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
}

/// A stored audit event.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub org_id: String,
    pub at: Millis,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
}

/// Which audit events to list, newest first; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// At most this many events.
    pub limit: i64,
    /// Only events older than this id: the cursor of the next page.
    pub before_id: Option<i64>,
    /// Only this action (`integration.put`).
    pub action: Option<String>,
    /// Only events where this id is the actor or the target, or the detail's `user_id`.
    pub subject: Option<String>,
    /// Only events about this integration: the target of `integration.*` events, or the
    /// detail's `integration_id`.
    pub integration: Option<String>,
    /// Only events at or after this time.
    pub since: Option<Millis>,
    /// Only events at or before this time.
    pub until: Option<Millis>,
}

impl AuditQuery {
    /// The one SQL statement both backends run (`$N` placeholders, LIKE over the
    /// compact JSON detail), binds in the order of [`AuditQuery::binds`].
    pub const SQL: &'static str = "SELECT * FROM audit_events WHERE org_id = $1 \
        AND ($2 IS NULL OR id < $2) \
        AND ($3 IS NULL OR action = $3) \
        AND ($4 IS NULL OR actor_id = $4 OR target = $4 OR detail LIKE $5) \
        AND ($6 IS NULL OR (target = $6 AND action LIKE 'integration.%') OR detail LIKE $7) \
        AND ($8 IS NULL OR at >= $8) \
        AND ($9 IS NULL OR at <= $9) \
        ORDER BY id DESC LIMIT $10";

    /// The LIKE patterns for `$5` and `$7`: the detail is compact JSON
    /// (`{"user_id":"…"}`); ids hold no LIKE wildcards once validated.
    pub fn detail_patterns(&self) -> (Option<String>, Option<String>) {
        (
            self.subject
                .as_ref()
                .map(|s| format!("%\"user_id\":\"{s}\"%")),
            self.integration
                .as_ref()
                .map(|i| format!("%\"integration_id\":\"{i}\"%")),
        )
    }
}

/// A change-feed entry to append: what changed, for whom (`None`: every user).
#[derive(Debug, Clone)]
pub struct NewChange {
    pub org_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub integration_id: Option<String>,
    pub at: Millis,
}

/// A stored change-feed entry. `seq` is strictly increasing in commit order,
/// which is what lets a poller on any replica resume from the last seq it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub org_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub integration_id: Option<String>,
    pub at: Millis,
}

/// What a mutation records beside itself, in the same transaction.
#[derive(Debug, Clone)]
pub struct Journal {
    pub audit: NewAudit,
    pub changes: Vec<NewChange>,
}

/// Why an enrollment code could not be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    Unknown,
    Expired,
    AlreadyUsed,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A compare-and-swap lost; `current` is the live version (`None`: no live record).
    #[error("version mismatch")]
    VersionMismatch { current: Option<i64> },
    #[error("enrollment code rejected: {0:?}")]
    Code(CodeProblem),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type DbResult<T> = Result<T, DbError>;

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

/// The storage a server needs. Implemented by `latchkey-server-sqlite` and
/// `latchkey-server-postgres`; both pass the same conformance story.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> DbResult<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> DbResult<()>;
    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);

    /// The deployment's organisation, created with `new_id`/`name` if the database has none.
    async fn ensure_org(&self, new_id: &str, name: &str, now: Millis) -> DbResult<Org>;

    async fn create_admin(&self, admin: &Admin, journal: &Journal) -> DbResult<()>;
    async fn admin_by_email(&self, org_id: &str, email: &str) -> DbResult<Option<Admin>>;
    async fn admin_by_id(&self, id: &str) -> DbResult<Option<Admin>>;
    async fn count_admins(&self, org_id: &str) -> DbResult<i64>;
    /// Stores (replacing any previous) the one-time setup code of an org without admins.
    async fn put_setup_code(
        &self,
        org_id: &str,
        code_hash: &[u8],
        expires_at: Millis,
    ) -> DbResult<()>;
    /// Consumes the setup code and creates the first admin, atomically.
    /// `DbError::Code` if the code is unknown or expired, `AlreadyExists` if an admin exists.
    async fn create_first_admin(
        &self,
        code_hash: &[u8],
        now: Millis,
        admin: &Admin,
        journal: &Journal,
    ) -> DbResult<()>;
    async fn insert_admin_credential(&self, cred: &AdminCredential) -> DbResult<()>;
    /// The credential with this token hash, if it exists and has not expired at `now`.
    async fn admin_credential_by_hash(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> DbResult<Option<AdminCredential>>;
    async fn delete_admin_credential(&self, id: &str) -> DbResult<()>;
    /// Every admin of the org, oldest first.
    async fn list_admins(&self, org_id: &str) -> DbResult<Vec<Admin>>;
    /// Removes an admin and, in the same transaction, every session and token of theirs.
    async fn delete_admin(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;
    /// Sets an admin's password hash and ends their other sessions (all but `keep`).
    async fn set_admin_password(
        &self,
        org_id: &str,
        admin_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        journal: &Journal,
    ) -> DbResult<()>;
    /// API tokens, newest first: one admin's, or (`None`) everyone's.
    async fn list_admin_tokens(
        &self,
        org_id: &str,
        admin_id: Option<&str>,
    ) -> DbResult<Vec<AdminCredential>>;
    async fn admin_credential_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<AdminCredential>>;
    /// Records that a credential was used at `now`.
    async fn touch_admin_credential(&self, id: &str, now: Millis) -> DbResult<()>;
    /// Revokes one credential with its audit event.
    async fn revoke_admin_credential(&self, id: &str, journal: &Journal) -> DbResult<()>;
    /// Replaces every listed integration's sealed secrets in one transaction (all or none).
    async fn reseal_secrets(
        &self,
        org_id: &str,
        resealed: &[ResealedSecrets],
        journal: &Journal,
    ) -> DbResult<()>;
    /// A user's enrollment codes, newest first, with the device that redeemed each.
    async fn list_enrollment_codes(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<EnrollmentCodeStatus>>;

    async fn create_user(&self, user: &User, journal: &Journal) -> DbResult<()>;
    async fn user_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<User>>;
    async fn list_users(&self, org_id: &str) -> DbResult<Vec<User>>;
    /// Deletes the user with their devices, codes and records. `NotFound` if absent.
    async fn delete_user(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;

    async fn insert_enrollment_code(&self, code: &EnrollmentCode) -> DbResult<()>;
    /// Atomically marks the code used and creates `device` for its user (the
    /// device's `user_id`/`org_id` are taken from the code). Fails with
    /// `DbError::Code` if the code is unknown, expired or already used.
    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        now: Millis,
        device: &Device,
        journal: &Journal,
    ) -> DbResult<(Device, User)>;

    /// The device holding this token hash, revoked or not (the caller decides).
    async fn device_by_token_hash(&self, token_hash: &[u8]) -> DbResult<Option<Device>>;
    /// The device holding this token hash and its user, in one round trip
    /// (every client request authenticates with it).
    async fn device_and_user_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(Device, User)>>;
    async fn list_devices(&self, org_id: &str, user_id: Option<&str>) -> DbResult<Vec<Device>>;
    /// Marks the device revoked. `NotFound` if absent.
    async fn revoke_device(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Device>;
    /// Records that the device was seen (rate-limited by the backend to one write a minute).
    async fn touch_device(&self, id: &str, now: Millis) -> DbResult<()>;

    /// Creates or replaces an integration's configuration. When it goes from
    /// enabled to disabled, its connection records are deleted in the same transaction.
    async fn put_integration(&self, integration: &Integration, journal: &Journal) -> DbResult<()>;
    async fn get_integration(&self, org_id: &str, id: &str) -> DbResult<Option<Integration>>;
    async fn list_integrations(&self, org_id: &str) -> DbResult<Vec<Integration>>;
    /// Removes the configuration and every record of the integration. `NotFound` if absent.
    async fn delete_integration(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;

    /// The live record in `slot`, if any.
    async fn get_record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>>;
    /// The user's live records, optionally for one integration.
    async fn list_records(
        &self,
        user_id: &str,
        integration_id: Option<&str>,
    ) -> DbResult<Vec<ConnectionRecord>>;
    /// Compare-and-swap write. Versions grow monotonically per slot, across
    /// deletes too (a delete leaves a tombstone), so a stale `If-Match` can never
    /// succeed against a recreated record.
    async fn put_record(
        &self,
        slot: &SlotKey,
        envelope: &[u8],
        device_id: &str,
        precondition: Precondition,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<ConnectionRecord>;
    /// Compare-and-swap delete; returns the tombstone's version.
    async fn delete_record(
        &self,
        slot: &SlotKey,
        version: i64,
        device_id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<i64>;
    /// Deletes (tombstones) every live record of `user_id` for `integration_id`;
    /// returns how many. Used by an admin's "disconnect".
    async fn delete_user_records(
        &self,
        user_id: &str,
        integration_id: &str,
        reason: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<u64>;

    /// Whether the slot is a tombstone an admin left (an old push must not revive it).
    async fn admin_revoked(&self, slot: &SlotKey) -> DbResult<bool>;
    /// A fresh grant (the user pressed Connect again) may write an admin-emptied slot.
    async fn clear_admin_revocation(&self, slot: &SlotKey) -> DbResult<()>;
    /// For a token whose device was revoked or removed: the (device id, user id) its
    /// orders were written for, if any. Such a token may fetch and answer those orders only.
    async fn device_by_order_token(
        &self,
        org_id: &str,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, String)>>;
    /// The orders `device_id` has not answered yet, oldest first.
    async fn pending_revocation_orders(&self, device_id: &str) -> DbResult<Vec<RevocationOrder>>;
    /// A user's orders with their receipts, newest first (at most 500).
    async fn revocation_orders_for_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<RevocationOrder>>;
    /// Records `device_id`'s receipt for an order; `false` when the order is not this
    /// device's or was already answered.
    async fn record_revocation_receipt(
        &self,
        device_id: &str,
        order_id: &str,
        receipt: &RevocationReceipt,
        journal: &Journal,
    ) -> DbResult<bool>;

    async fn append_audit(&self, event: &NewAudit) -> DbResult<()>;
    /// Newest first.
    async fn list_audit(&self, org_id: &str, query: &AuditQuery) -> DbResult<Vec<AuditEvent>>;
    /// Changes after `since` that concern `user_id` (theirs or everyone's), oldest first.
    async fn changes_since(
        &self,
        org_id: &str,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<Change>>;
    /// The newest change seq (0 when the log is empty).
    async fn latest_change_seq(&self, org_id: &str) -> DbResult<i64>;
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
            enabled: true,
            environment: "production".into(),
            client_id: None,
            client_secret_sealed: None,
            scopes: vec![],
            params: Default::default(),
            allowed_users: None,
            api_key_sealed: None,
            api_base_url: None,
            api_paths: vec![],
            redirect_host: "127.0.0.1".into(),
            default_widgets: None,
            api_key_header: None,
            created_at: 0,
            updated_at: 0,
        };
        assert!(i.allows("anyone"));
        i.allowed_users = Some(vec!["u1".into()]);
        assert!(i.allows("u1"));
        assert!(!i.allows("u2"));
    }
}
