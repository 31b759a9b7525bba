//! The reads (and the unjournalled single-statement writes) of the shared SQL implementation.

use super::SqlBackend;
use crate::rows::{self, Columns, backend};
use crate::sql::{
    DEVICE_AND_INTEGRATION, DEVICE_AND_RECORD, DEVICE_AND_USER, GET_RECORD, RECORD_COLUMNS,
    admin_sql, revocation_sql,
};
use crate::{
    Admin, AdminCredential, AuditEvent, AuditQuery, Change, ConnectionRecord, DbResult, Device,
    DeviceSlot, EnrollmentCodeStatus, Integration, Millis, RevocationOrder, ScimGroup, ScimToken,
    SlotKey, User,
};
use sqlx::{Encode, Executor, IntoArguments, Type};

/// The queries that need no transaction of their own.
pub(super) struct Queries<'b, B> {
    pub(super) owner: &'b B,
}

impl<B> Queries<'_, B>
where
    B: SqlBackend,
    for<'c> &'c mut <B::Db as sqlx::Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as sqlx::Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    <B::Db as sqlx::Database>::Row: Columns,
    for<'q> String: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> &'q [u8]: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Vec<u8>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<String>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<Vec<u8>>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
{
    /// At most one row, on a connection of the hot pool ([`super::HotPool`]): the
    /// statements every device request runs.
    async fn hot_row<'q>(
        &self,
        query: sqlx::query::Query<'q, B::Db, <B::Db as sqlx::Database>::Arguments<'q>>,
    ) -> DbResult<Option<<B::Db as sqlx::Database>::Row>> {
        let mut hot = self.owner.pools().hot.acquire().await?;
        let found = query.fetch_optional(hot.conn()?).await;
        hot.settle(&found);
        found.map_err(backend)
    }

    pub(super) async fn admin_by_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> DbResult<Option<Admin>> {
        sqlx::query("SELECT * FROM admins WHERE org_id = $1 AND email = $2")
            .bind(org_id)
            .bind(email)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::admin)
            .transpose()
    }

    pub(super) async fn admin_by_id(&self, id: &str) -> DbResult<Option<Admin>> {
        sqlx::query("SELECT * FROM admins WHERE id = $1")
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::admin)
            .transpose()
    }

    pub(super) async fn count_admins(&self, org_id: &str) -> DbResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admins WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(self.owner.read())
            .await
            .map_err(backend)?;
        row.int("n")
    }

    pub(super) async fn put_setup_code(
        &self,
        org_id: &str,
        code_hash: &[u8],
        expires_at: Millis,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO setup_codes (org_id, code_hash, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at",
        )
        .bind(org_id)
        .bind(code_hash)
        .bind(expires_at)
        .execute(self.owner.write())
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn insert_admin_credential(&self, c: &AdminCredential) -> DbResult<()> {
        sqlx::query(admin_sql::INSERT_CREDENTIAL)
            .bind(&c.id)
            .bind(&c.admin_id)
            .bind(&c.org_id)
            .bind(c.kind.as_str())
            .bind(&c.token_hash)
            .bind(&c.csrf_hash)
            .bind(&c.name)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(self.owner.write())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn admin_credential_by_hash(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> DbResult<Option<AdminCredential>> {
        sqlx::query(
            "SELECT * FROM admin_credentials WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.owner.read())
        .await
        .map_err(backend)?
        .as_ref()
        .map(rows::credential)
        .transpose()
    }

    pub(super) async fn delete_admin_credential(&self, id: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM admin_credentials WHERE id = $1")
            .bind(id)
            .execute(self.owner.write())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn list_admins(&self, org_id: &str) -> DbResult<Vec<Admin>> {
        sqlx::query(admin_sql::LIST_ADMINS)
            .bind(org_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::admin)
            .collect()
    }

    pub(super) async fn list_admin_tokens(
        &self,
        org_id: &str,
        admin_id: Option<&str>,
    ) -> DbResult<Vec<AdminCredential>> {
        sqlx::query(admin_sql::LIST_API_TOKENS)
            .bind(org_id)
            .bind(admin_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::credential)
            .collect()
    }

    pub(super) async fn admin_credential_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<AdminCredential>> {
        sqlx::query(admin_sql::CREDENTIAL_BY_ID)
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::credential)
            .transpose()
    }

    pub(super) async fn touch_admin_credential(&self, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query(admin_sql::TOUCH_CREDENTIAL)
            .bind(now)
            .bind(id)
            .execute(self.owner.write())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn list_enrollment_codes(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<EnrollmentCodeStatus>> {
        sqlx::query(admin_sql::ENROLLMENT_CODES)
            .bind(org_id)
            .bind(user_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::enrollment_code)
            .collect()
    }

    pub(super) async fn user_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    pub(super) async fn list_users(&self, org_id: &str) -> DbResult<Vec<User>> {
        sqlx::query("SELECT * FROM users WHERE org_id = $1 ORDER BY created_at, id")
            .bind(org_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::user)
            .collect()
    }

    /// Reads the members of `groups` (all of one org) in one query.
    async fn with_members(
        &self,
        org_id: &str,
        mut groups: Vec<ScimGroup>,
    ) -> DbResult<Vec<ScimGroup>> {
        let rows = sqlx::query(
            "SELECT m.group_id AS group_id, m.user_id AS user_id FROM scim_group_members m \
             JOIN scim_groups g ON g.id = m.group_id WHERE g.org_id = $1 ORDER BY m.user_id",
        )
        .bind(org_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?;
        for r in &rows {
            let group_id = r.text("group_id")?;
            if let Some(g) = groups.iter_mut().find(|g| g.id == group_id) {
                g.members.push(r.text("user_id")?);
            }
        }
        Ok(groups)
    }

    pub(super) async fn scim_group_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<ScimGroup>> {
        let Some(row) = sqlx::query("SELECT * FROM scim_groups WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let mut group = rows::scim_group(&row)?;
        group.members = sqlx::query(
            "SELECT user_id FROM scim_group_members WHERE group_id = $1 ORDER BY user_id",
        )
        .bind(id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.text("user_id"))
        .collect::<DbResult<_>>()?;
        Ok(Some(group))
    }

    /// The ids of the groups (of `org_id`) `user_id` is a member of, sorted.
    pub(super) async fn groups_of_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<String>> {
        sqlx::query(
            "SELECT m.group_id AS group_id FROM scim_group_members m \
             JOIN scim_groups g ON g.id = m.group_id WHERE g.org_id = $1 AND m.user_id = $2 \
             ORDER BY m.group_id",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.text("group_id"))
        .collect()
    }

    pub(super) async fn list_scim_groups(&self, org_id: &str) -> DbResult<Vec<ScimGroup>> {
        let groups =
            sqlx::query("SELECT * FROM scim_groups WHERE org_id = $1 ORDER BY created_at, id")
                .bind(org_id)
                .fetch_all(self.owner.read())
                .await
                .map_err(backend)?
                .iter()
                .map(rows::scim_group)
                .collect::<DbResult<Vec<_>>>()?;
        self.with_members(org_id, groups).await
    }

    pub(super) async fn scim_token_by_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<ScimToken>> {
        sqlx::query("SELECT * FROM scim_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::scim_token)
            .transpose()
    }

    pub(super) async fn list_scim_tokens(&self, org_id: &str) -> DbResult<Vec<ScimToken>> {
        sqlx::query(
            "SELECT * FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 1000",
        )
        .bind(org_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(rows::scim_token)
        .collect()
    }

    pub(super) async fn touch_scim_token(&self, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.owner.write())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn device_and_user_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(Device, User)>> {
        let load = async {
            self.hot_row(sqlx::query(DEVICE_AND_USER).bind(token_hash))
                .await?
                .as_ref()
                .map(rows::device_and_user)
                .transpose()
        };
        self.owner.cached_device(token_hash, load).await
    }

    pub(super) async fn device_and_record(
        &self,
        token_hash: &[u8],
        slot: &DeviceSlot,
    ) -> DbResult<Option<(Device, User, Option<ConnectionRecord>)>> {
        if self.owner.caches_devices() {
            let Some((device, user)) = self.device_and_user_by_token_hash(token_hash).await? else {
                return Ok(None);
            };
            let record = match device.revoked_at {
                None => self.get_record(&slot.of_user(&device.user_id)).await?,
                Some(_) => None,
            };
            return Ok(Some((device, user, record)));
        }
        self.hot_row(
            sqlx::query(DEVICE_AND_RECORD)
                .bind(token_hash)
                .bind(&slot.vault_key_id)
                .bind(&slot.integration_id)
                .bind(&slot.environment),
        )
        .await?
        .as_ref()
        .map(rows::device_and_record)
        .transpose()
    }

    pub(super) async fn device_and_integration(
        &self,
        token_hash: &[u8],
        org_id: &str,
        integration_id: &str,
    ) -> DbResult<Option<(Device, User, Option<Integration>)>> {
        if self.owner.caches_devices() {
            let Some((device, user)) = self.device_and_user_by_token_hash(token_hash).await? else {
                return Ok(None);
            };
            let found = self.get_integration(org_id, integration_id).await?;
            return Ok(Some((device, user, found)));
        }
        self.hot_row(
            sqlx::query(DEVICE_AND_INTEGRATION)
                .bind(token_hash)
                .bind(org_id)
                .bind(integration_id),
        )
        .await?
        .as_ref()
        .map(rows::device_and_integration)
        .transpose()
    }

    pub(super) async fn list_devices(
        &self,
        org_id: &str,
        user_id: Option<&str>,
    ) -> DbResult<Vec<Device>> {
        sqlx::query(
            "SELECT * FROM devices WHERE org_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(rows::device)
        .collect()
    }

    pub(super) async fn touch_device(&self, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query(
            "UPDATE devices SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60_000)
        .execute(self.owner.write())
        .await
        .map_err(backend)?;
        self.owner.device_touched(id, now);
        Ok(())
    }

    pub(super) async fn get_integration(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<Integration>> {
        let load = async {
            self.hot_row(
                sqlx::query("SELECT * FROM integrations WHERE org_id = $1 AND id = $2")
                    .bind(org_id)
                    .bind(id),
            )
            .await?
            .as_ref()
            .map(rows::integration)
            .transpose()
        };
        self.owner.cached_integration(org_id, id, load).await
    }

    pub(super) async fn list_integrations(&self, org_id: &str) -> DbResult<Vec<Integration>> {
        sqlx::query("SELECT * FROM integrations WHERE org_id = $1 ORDER BY id")
            .bind(org_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::integration)
            .collect()
    }

    pub(super) async fn get_record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>> {
        if let Some(found) = self.owner.record_in_process(slot) {
            return found;
        }
        self.hot_row(
            sqlx::query(GET_RECORD)
                .bind(&slot.user_id)
                .bind(&slot.vault_key_id)
                .bind(&slot.integration_id)
                .bind(&slot.environment),
        )
        .await?
        .as_ref()
        .map(rows::record)
        .transpose()
    }

    pub(super) async fn list_records(
        &self,
        user_id: &str,
        integration_id: Option<&str>,
    ) -> DbResult<Vec<ConnectionRecord>> {
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM connection_records WHERE user_id = $1 AND deleted = FALSE \
             AND ($2 IS NULL OR integration_id = $2) ORDER BY integration_id, environment, vault_key_id"
        ))
        .bind(user_id)
        .bind(integration_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(rows::record)
        .collect()
    }

    pub(super) async fn admin_revoked(&self, slot: &SlotKey) -> DbResult<bool> {
        let row = sqlx::query(revocation_sql::ADMIN_REVOKED)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?;
        match row {
            Some(r) => r.flag("revoked_by_admin"),
            None => Ok(false),
        }
    }

    pub(super) async fn clear_admin_revocation(&self, slot: &SlotKey) -> DbResult<()> {
        sqlx::query(revocation_sql::CLEAR_ADMIN_REVOKED)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .execute(self.owner.write())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn restart_grant(
        &self,
        slot: &SlotKey,
        version: i64,
        now: Millis,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE connection_records SET created_at = $5 WHERE user_id = $1 \
             AND vault_key_id = $2 AND integration_id = $3 AND environment = $4 \
             AND version = $6 AND deleted = FALSE",
        )
        .bind(&slot.user_id)
        .bind(&slot.vault_key_id)
        .bind(&slot.integration_id)
        .bind(&slot.environment)
        .bind(now)
        .bind(version)
        .execute(self.owner.write())
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn device_by_order_token(
        &self,
        org_id: &str,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, String)>> {
        let row = sqlx::query(revocation_sql::DEVICE_BY_ORDER_TOKEN)
            .bind(token_hash)
            .bind(org_id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(Some((r.text("device_id")?, r.text("user_id")?))),
            None => Ok(None),
        }
    }

    pub(super) async fn pending_revocation_orders(
        &self,
        device_id: &str,
    ) -> DbResult<Vec<RevocationOrder>> {
        let sql = revocation_sql::FOR_DEVICE.replace("{columns}", revocation_sql::COLUMNS);
        sqlx::query(&sql)
            .bind(device_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::order)
            .collect()
    }

    pub(super) async fn revocation_orders_for_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<RevocationOrder>> {
        let sql = revocation_sql::FOR_USER.replace("{columns}", revocation_sql::COLUMNS);
        sqlx::query(&sql)
            .bind(org_id)
            .bind(user_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::order)
            .collect()
    }

    pub(super) async fn list_audit(
        &self,
        org_id: &str,
        query: &AuditQuery,
    ) -> DbResult<Vec<AuditEvent>> {
        let (subject_like, integration_like) = query.detail_patterns();
        sqlx::query(AuditQuery::SQL)
            .bind(org_id)
            .bind(query.before_id)
            .bind(query.action.as_deref())
            .bind(query.subject.as_deref())
            .bind(subject_like)
            .bind(query.integration.as_deref())
            .bind(integration_like)
            .bind(query.since)
            .bind(query.until)
            .bind(query.limit)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::audit_event)
            .collect()
    }

    pub(super) async fn changes_since(
        &self,
        org_id: &str,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<Change>> {
        let sql = format!(
            "SELECT * FROM changes WHERE org_id = $1 AND seq > $2 AND (user_id IS NULL OR user_id = $3) \
             AND {} ORDER BY seq LIMIT $4",
            B::SETTLED_CHANGES_SQL
        );
        sqlx::query(&sql)
            .bind(org_id)
            .bind(since)
            .bind(user_id)
            .bind(limit)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::change)
            .collect()
    }

    pub(super) async fn latest_change_seq(&self, org_id: &str) -> DbResult<i64> {
        let sql = format!(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM changes WHERE org_id = $1 AND {}",
            B::SETTLED_CHANGES_SQL
        );
        let row = sqlx::query(&sql)
            .bind(org_id)
            .fetch_one(self.owner.read())
            .await
            .map_err(backend)?;
        row.int("seq")
    }
}
