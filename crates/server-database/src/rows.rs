//! Row mapping shared by both backends: a stored row becomes a model the same way on
//! SQLite and PostgreSQL, so a column added to a model is read in one place.

use crate::{
    Admin, AdminCredential, AdminRole, AppReport, AuditEvent, Change, ConnectionRecord,
    ConnectionValues, CredentialKind, DbError, DbResult, Device, EnrollmentCodeStatus, Integration,
    Millis, Org, Release, RevocationOrder, RevocationReceipt, ScimGroup, ScimToken, SlotKey, User,
    decode_list, decode_map,
};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// Typed column reads of one row, by name, with storage's error type. Implemented for
/// the rows of every sqlx driver that decodes the four column types storage uses.
pub trait Columns {
    fn text(&self, name: &str) -> DbResult<String>;
    fn opt_text(&self, name: &str) -> DbResult<Option<String>>;
    fn int(&self, name: &str) -> DbResult<i64>;
    fn opt_int(&self, name: &str) -> DbResult<Option<i64>>;
    fn flag(&self, name: &str) -> DbResult<bool>;
    fn opt_flag(&self, name: &str) -> DbResult<Option<bool>>;
    fn bytes(&self, name: &str) -> DbResult<Vec<u8>>;
    fn opt_bytes(&self, name: &str) -> DbResult<Option<Vec<u8>>>;
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, name: &str) -> DbResult<String> {
        self.try_get(name).map_err(backend)
    }
    fn opt_text(&self, name: &str) -> DbResult<Option<String>> {
        self.try_get(name).map_err(backend)
    }
    fn int(&self, name: &str) -> DbResult<i64> {
        self.try_get(name).map_err(backend)
    }
    fn opt_int(&self, name: &str) -> DbResult<Option<i64>> {
        self.try_get(name).map_err(backend)
    }
    fn flag(&self, name: &str) -> DbResult<bool> {
        self.try_get(name).map_err(backend)
    }
    fn opt_flag(&self, name: &str) -> DbResult<Option<bool>> {
        self.try_get(name).map_err(backend)
    }
    fn bytes(&self, name: &str) -> DbResult<Vec<u8>> {
        self.try_get(name).map_err(backend)
    }
    fn opt_bytes(&self, name: &str) -> DbResult<Option<Vec<u8>>> {
        self.try_get(name).map_err(backend)
    }
}

/// A sqlx error as storage's error: a unique violation is a conflict the caller can
/// name, anything else a backend failure.
pub fn backend(e: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return DbError::AlreadyExists("a row with this key");
    }
    DbError::Backend(e.to_string())
}

/// Like [`backend`], naming what already exists.
pub fn unique(what: &'static str) -> impl Fn(sqlx::Error) -> DbError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => DbError::AlreadyExists(what),
        _ => DbError::Backend(e.to_string()),
    }
}

pub fn org(r: &impl Columns) -> DbResult<Org> {
    Ok(Org {
        id: r.text("id")?,
        name: r.text("name")?,
        created_at: r.int("created_at")?,
    })
}

pub fn admin(r: &impl Columns) -> DbResult<Admin> {
    Ok(Admin {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        email: r.text("email")?,
        password_hash: r.text("password_hash")?,
        role: AdminRole::parse(&r.text("role")?)?,
        created_at: r.int("created_at")?,
    })
}

pub fn user(r: &impl Columns) -> DbResult<User> {
    Ok(User {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        email: r.text("email")?,
        display_name: r.text("display_name")?,
        created_at: r.int("created_at")?,
        external_id: r.opt_text("external_id")?,
        active: r.flag("active")?,
        provisioned_by: r.opt_text("provisioned_by")?,
        scim_profile: r.opt_text("scim_profile")?,
        updated_at: r.int("updated_at")?,
    })
}

/// A group row; its members are read separately.
pub fn scim_group(r: &impl Columns) -> DbResult<ScimGroup> {
    Ok(ScimGroup {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        display_name: r.text("display_name")?,
        external_id: r.opt_text("external_id")?,
        scim_profile: r.text("scim_profile")?,
        members: Vec::new(),
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub fn org_token(r: &impl Columns) -> DbResult<crate::OrgToken> {
    Ok(crate::OrgToken {
        org_id: r.text("org_id")?,
        integration_id: r.text("integration_id")?,
        environment: r.text("environment")?,
        access_sealed: r.bytes("access_sealed")?,
        refresh_sealed: r.opt_bytes("refresh_sealed")?,
        instance_url: r.opt_text("instance_url")?,
        expires_at: r.opt_int("expires_at")?,
        authorized_by: r.text("authorized_by")?,
        authorized_at: r.int("authorized_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        refreshed_at: r.opt_int("refreshed_at")?,
        needs_reauth: r.opt_text("needs_reauth")?,
        version: r.int("version")?,
    })
}

pub fn scim_token(r: &impl Columns) -> DbResult<ScimToken> {
    Ok(ScimToken {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        name: r.text("name")?,
        token_hash: r.bytes("token_hash")?,
        created_by: r.opt_text("created_by")?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

pub fn device(r: &impl Columns) -> DbResult<Device> {
    Ok(Device {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        user_id: r.text("user_id")?,
        name: r.text("name")?,
        token_hash: r.bytes("token_hash")?,
        created_at: r.int("created_at")?,
        last_seen_at: r.opt_int("last_seen_at")?,
        revoked_at: r.opt_int("revoked_at")?,
        update_channel: r.text("update_channel")?,
        app: match (
            r.opt_text("app_version")?,
            r.opt_int("app_version_seen_at")?,
        ) {
            (Some(version), Some(seen_at)) => Some(AppReport {
                version,
                target: r.opt_text("app_target")?.unwrap_or_default(),
                arch: r.opt_text("app_arch")?.unwrap_or_default(),
                seen_at,
            }),
            _ => None,
        },
    })
}

/// The columns of [`release`] (never the artifact bytes).
pub const RELEASE_COLUMNS: &str = "id, org_id, version, target, arch, channel, notes, \
     signature, size, sha256, created_at, withdrawn_at";

pub fn release(r: &impl Columns) -> DbResult<Release> {
    Ok(Release {
        id: r.text("id")?,
        org_id: r.text("org_id")?,
        version: r.text("version")?,
        target: r.text("target")?,
        arch: r.text("arch")?,
        channel: r.text("channel")?,
        notes: r.text("notes")?,
        signature: r.text("signature")?,
        size: r.int("size")?,
        sha256: r.text("sha256")?,
        created_at: r.int("created_at")?,
        withdrawn_at: r.opt_int("withdrawn_at")?,
    })
}

/// A device joined with its user (the `u_` columns of [`crate::sql::DEVICE_AND_USER`]).
pub fn device_and_user(r: &impl Columns) -> DbResult<(Device, User)> {
    let device = device(r)?;
    let user = User {
        id: device.user_id.clone(),
        org_id: device.org_id.clone(),
        email: r.text("u_email")?,
        display_name: r.text("u_display_name")?,
        created_at: r.int("u_created_at")?,
        external_id: r.opt_text("u_external_id")?,
        active: r.flag("u_active")?,
        provisioned_by: r.opt_text("u_provisioned_by")?,
        scim_profile: None,
        updated_at: r.int("u_updated_at")?,
    };
    Ok((device, user))
}

pub fn integration(r: &impl Columns) -> DbResult<Integration> {
    Ok(Integration {
        org_id: r.text("org_id")?,
        id: r.text("id")?,
        provider: r.text("provider")?,
        display_name: r.opt_text("display_name")?,
        enabled: r.flag("enabled")?,
        environment: r.text("environment")?,
        client_id: r.opt_text("client_id")?,
        client_secret_sealed: r.opt_bytes("client_secret_sealed")?,
        scopes: decode_list(&r.text("scopes")?)?,
        params: decode_map(&r.text("params")?)?,
        allowed_users: r
            .opt_text("allowed_users")?
            .as_deref()
            .map(decode_list)
            .transpose()?,
        allowed_groups: r
            .opt_text("allowed_groups")?
            .as_deref()
            .map(decode_list)
            .transpose()?,
        api_key_sealed: r.opt_bytes("api_key_sealed")?,
        api_base_url: r.opt_text("api_base_url")?,
        api_paths: decode_list(&r.text("api_paths")?)?,
        api_key_header: r.opt_text("api_key_header")?,
        redirect_host: r.text("redirect_host")?,
        default_widgets: r
            .opt_text("default_widgets")?
            .as_deref()
            .map(decode_list)
            .transpose()?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        asked_at_connect: decode_list(&r.text("asked_at_connect")?)?,
        org_wide: r.flag("org_wide")?,
        require_customize_application: r.flag("require_customize_application")?,
    })
}

pub fn connection_values(r: &impl Columns) -> DbResult<ConnectionValues> {
    Ok(ConnectionValues {
        org_id: r.text("org_id")?,
        user_id: r.text("user_id")?,
        integration_id: r.text("integration_id")?,
        values: decode_map(&r.text("values")?)?,
        updated_at: r.int("updated_at")?,
    })
}

pub fn record(r: &impl Columns) -> DbResult<ConnectionRecord> {
    Ok(ConnectionRecord {
        slot: SlotKey {
            user_id: r.text("user_id")?,
            vault_key_id: r.text("vault_key_id")?,
            integration_id: r.text("integration_id")?,
            environment: r.text("environment")?,
        },
        envelope: r
            .opt_bytes("envelope")?
            .ok_or_else(|| DbError::Corrupt("live record without envelope".into()))?,
        version: r.int("version")?,
        device_id: r.text("device_id")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub fn credential(r: &impl Columns) -> DbResult<AdminCredential> {
    Ok(AdminCredential {
        id: r.text("id")?,
        admin_id: r.text("admin_id")?,
        org_id: r.text("org_id")?,
        kind: CredentialKind::parse(&r.text("kind")?)?,
        token_hash: r.bytes("token_hash")?,
        csrf_hash: r.opt_bytes("csrf_hash")?,
        name: r.opt_text("name")?,
        created_at: r.int("created_at")?,
        expires_at: r.opt_int("expires_at")?,
        last_used_at: r.opt_int("last_used_at")?,
    })
}

pub fn enrollment_code(r: &impl Columns) -> DbResult<EnrollmentCodeStatus> {
    Ok(EnrollmentCodeStatus {
        id: r.text("id")?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
        used_at: r.opt_int("used_at")?,
        device_id: r.opt_text("device_id")?,
        device_name: r.opt_text("device_name")?,
    })
}

pub fn order(r: &impl Columns) -> DbResult<RevocationOrder> {
    let receipt_at: Option<Millis> = r.opt_int("receipt_at")?;
    let receipt = match receipt_at {
        Some(at) => Some(RevocationReceipt {
            at,
            provider_outcome: r.opt_text("provider_outcome")?.unwrap_or_default(),
            provider_detail: r.opt_text("provider_detail")?.unwrap_or_default(),
            local_wiped: r.opt_flag("local_wiped")?.unwrap_or(false),
        }),
        None => None,
    };
    Ok(RevocationOrder {
        id: r.text("id")?,
        user_id: r.text("user_id")?,
        device_id: r.text("device_id")?,
        integration_id: r.text("integration_id")?,
        environment: r.text("environment")?,
        reason: r.text("reason")?,
        created_at: r.int("created_at")?,
        receipt,
    })
}

pub fn audit_event(r: &impl Columns) -> DbResult<AuditEvent> {
    Ok(AuditEvent {
        id: r.int("id")?,
        org_id: r.text("org_id")?,
        at: r.int("at")?,
        actor_kind: r.text("actor_kind")?,
        actor_id: r.opt_text("actor_id")?,
        action: r.text("action")?,
        target: r.opt_text("target")?,
        detail: r.text("detail")?,
    })
}

pub fn change(r: &impl Columns) -> DbResult<Change> {
    Ok(Change {
        seq: r.int("seq")?,
        org_id: r.text("org_id")?,
        user_id: r.opt_text("user_id")?,
        kind: r.text("kind")?,
        integration_id: r.opt_text("integration_id")?,
        at: r.int("at")?,
    })
}

/// The columns of one table in a joined row, where each is named with `prefix`
/// (`r_version` for the record's `version`), so that one row mapping reads both.
pub struct Prefixed<'r, R> {
    pub row: &'r R,
    pub prefix: &'static str,
}

impl<R: Columns> Prefixed<'_, R> {
    fn name(&self, name: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + name.len());
        full.push_str(self.prefix);
        full.push_str(name);
        full
    }
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn text(&self, name: &str) -> DbResult<String> {
        self.row.text(&self.name(name))
    }
    fn opt_text(&self, name: &str) -> DbResult<Option<String>> {
        self.row.opt_text(&self.name(name))
    }
    fn int(&self, name: &str) -> DbResult<i64> {
        self.row.int(&self.name(name))
    }
    fn opt_int(&self, name: &str) -> DbResult<Option<i64>> {
        self.row.opt_int(&self.name(name))
    }
    fn flag(&self, name: &str) -> DbResult<bool> {
        self.row.flag(&self.name(name))
    }
    fn opt_flag(&self, name: &str) -> DbResult<Option<bool>> {
        self.row.opt_flag(&self.name(name))
    }
    fn bytes(&self, name: &str) -> DbResult<Vec<u8>> {
        self.row.bytes(&self.name(name))
    }
    fn opt_bytes(&self, name: &str) -> DbResult<Option<Vec<u8>>> {
        self.row.opt_bytes(&self.name(name))
    }
}

/// A row of [`crate::sql::DEVICE_AND_RECORD`].
pub fn device_and_record(r: &impl Columns) -> DbResult<(Device, User, Option<ConnectionRecord>)> {
    let (device, user) = device_and_user(r)?;
    let record = Prefixed {
        row: r,
        prefix: "r_",
    };
    let record = match record.opt_int("version")? {
        Some(_) => Some(self::record(&record)?),
        None => None,
    };
    Ok((device, user, record))
}

/// A row of [`crate::sql::DEVICE_AND_INTEGRATION`].
pub fn device_and_integration(r: &impl Columns) -> DbResult<(Device, User, Option<Integration>)> {
    let (device, user) = device_and_user(r)?;
    let found = Prefixed {
        row: r,
        prefix: "i_",
    };
    let found = match found.opt_text("id")? {
        Some(_) => Some(integration(&found)?),
        None => None,
    };
    Ok((device, user, found))
}
