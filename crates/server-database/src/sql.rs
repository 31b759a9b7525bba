//! SQL text both backends run as it is: SQLite and PostgreSQL both accept `$N` binds,
//! so a statement written once here cannot drift between them.

use crate::{NewAudit, NewChange};
use sqlx::query::Query;
use sqlx::{Encode, Type};

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

/// Binds: $1 client secret, $2 API key, $3 org, $4 integration.
pub const RESEAL_SQL: &str = "UPDATE integrations SET client_secret_sealed = $1, api_key_sealed = $2 \
     WHERE org_id = $3 AND id = $4";

/// Re-seals an org connection's tokens if the row is still at the version they were read at.
/// Binds: $1 access, $2 refresh, $3 org, $4 integration, $5 version read.
pub const RESEAL_ORG_TOKEN_SQL: &str = "UPDATE org_tokens SET access_sealed = $1, refresh_sealed = $2, \
     version = version + 1 WHERE org_id = $3 AND integration_id = $4 AND version = $5";

/// Binds: $1 org, $2 at, $3 actor kind, $4 actor, $5 action, $6 target, $7 detail.
pub const INSERT_AUDIT: &str = "INSERT INTO audit_events (org_id, at, actor_kind, actor_id, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Binds: $1 org, $2 user, $3 kind, $4 integration, $5 at.
pub const INSERT_CHANGE: &str =
    "INSERT INTO changes (org_id, user_id, kind, integration_id, at) VALUES ($1, $2, $3, $4, $5)";

/// The binds of an audit row, in [`INSERT_AUDIT`]'s order, after whatever `query`
/// already has: one place for the order both backends' journal writes use.
pub fn bind_audit<'q, DB>(
    query: Query<'q, DB, DB::Arguments<'q>>,
    a: &'q NewAudit,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: sqlx::Database,
    String: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    query
        .bind(&a.org_id)
        .bind(a.at)
        .bind(&a.actor_kind)
        .bind(&a.actor_id)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.detail)
}

/// The binds of a change-log row, in [`INSERT_CHANGE`]'s order (see [`bind_audit`]).
pub fn bind_change<'q, DB>(
    query: Query<'q, DB, DB::Arguments<'q>>,
    c: &'q NewChange,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: sqlx::Database,
    String: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    query
        .bind(&c.org_id)
        .bind(&c.user_id)
        .bind(&c.kind)
        .bind(&c.integration_id)
        .bind(c.at)
}

/// The columns of a connection record, in the order of [`crate::rows::record`]'s reads.
pub const RECORD_COLUMNS: &str = "user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at";

/// The live record in a slot. Binds: the slot.
pub const GET_RECORD: &str = "SELECT user_id, vault_key_id, integration_id, environment, envelope, \
     version, device_id, created_at, updated_at FROM connection_records WHERE user_id = $1 \
     AND vault_key_id = $2 AND integration_id = $3 AND environment = $4 AND deleted = FALSE";

/// The live version in a slot (no row: empty or a tombstone). Binds: the slot.
pub const LIVE_VERSION: &str = "SELECT version FROM connection_records WHERE user_id = $1 \
     AND vault_key_id = $2 AND integration_id = $3 AND environment = $4 AND deleted = FALSE";

/// The columns of [`DEVICE_AND_USER`] (a macro, so that the statements that extend it
/// are still constants).
macro_rules! device_and_user_columns {
    () => {
        "d.id, d.org_id, d.user_id, d.name, d.token_hash, \
         d.created_at, d.last_seen_at, d.revoked_at, d.update_channel, d.app_version, \
         d.app_target, d.app_arch, d.app_version_seen_at, u.email AS u_email, \
         u.display_name AS u_display_name, u.created_at AS u_created_at, \
         u.external_id AS u_external_id, u.active AS u_active, u.provisioned_by AS u_provisioned_by, \
         u.updated_at AS u_updated_at"
    };
}

/// A device and its user, by token hash (the user's columns prefixed `u_`). Binds: $1 hash.
pub const DEVICE_AND_USER: &str = concat!(
    "SELECT ",
    device_and_user_columns!(),
    " FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1"
);

/// [`DEVICE_AND_USER`] with the user's live record in one slot (its columns prefixed
/// `r_`, all NULL when there is none), joined only for a device not revoked: one round
/// trip for a record GET. Binds: $1 hash, $2 vault key, $3 integration, $4 environment.
pub const DEVICE_AND_RECORD: &str = concat!(
    "SELECT ",
    device_and_user_columns!(),
    ", r.user_id AS r_user_id, r.vault_key_id AS r_vault_key_id, \
     r.integration_id AS r_integration_id, r.environment AS r_environment, \
     r.envelope AS r_envelope, r.version AS r_version, r.device_id AS r_device_id, \
     r.created_at AS r_created_at, r.updated_at AS r_updated_at \
     FROM devices d JOIN users u ON u.id = d.user_id \
     LEFT JOIN connection_records r ON d.revoked_at IS NULL AND r.user_id = d.user_id \
     AND r.vault_key_id = $2 AND r.integration_id = $3 AND r.environment = $4 \
     AND r.deleted = FALSE \
     WHERE d.token_hash = $1"
);

/// [`DEVICE_AND_USER`] with one integration of the org (its columns prefixed `i_`, all
/// NULL when there is none): one round trip for a record PUT. Binds: $1 hash, $2 org,
/// $3 integration.
pub const DEVICE_AND_INTEGRATION: &str = concat!(
    "SELECT ",
    device_and_user_columns!(),
    ", i.org_id AS i_org_id, i.id AS i_id, i.enabled AS i_enabled, \
     i.environment AS i_environment, i.client_id AS i_client_id, \
     i.client_secret_sealed AS i_client_secret_sealed, i.scopes AS i_scopes, \
     i.params AS i_params, i.allowed_users AS i_allowed_users, \
     i.allowed_groups AS i_allowed_groups, i.api_key_sealed AS i_api_key_sealed, \
     i.api_base_url AS i_api_base_url, i.api_paths AS i_api_paths, \
     i.api_key_header AS i_api_key_header, i.redirect_host AS i_redirect_host, \
     i.default_widgets AS i_default_widgets, i.created_at AS i_created_at, \
     i.updated_at AS i_updated_at, i.provider AS i_provider, \
     i.display_name AS i_display_name, i.asked_at_connect AS i_asked_at_connect, \
     i.org_wide AS i_org_wide, \
     i.require_customize_application AS i_require_customize_application \
     FROM devices d JOIN users u ON u.id = d.user_id \
     LEFT JOIN integrations i ON i.org_id = $2 AND i.id = $3 \
     WHERE d.token_hash = $1"
);
