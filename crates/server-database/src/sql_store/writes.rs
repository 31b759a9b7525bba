//! The write transactions of the shared SQL implementation: each change with its
//! journal and, where it revokes connections, its revocation orders, committed together.

use super::SqlBackend;
use crate::rows::{self, Columns, backend, unique};
use crate::sql::{
    INSERT_AUDIT, INSERT_CHANGE, LIVE_VERSION, RESEAL_SQL, admin_sql, revocation_sql,
};
use crate::{
    Admin, CodeProblem, CredentialKind, DbError, DbResult, Device, EnrollmentCode, ExcludedUser,
    Integration, Journal, LostAccess, Millis, NewAudit, Orders, Org, ResealedSecrets,
    RevocationReceipt, ScimGroup, ScimToken, SlotKey, User, encode_list, encode_map,
    revocation_reason,
};
use sqlx::{Encode, Executor, IntoArguments, Transaction, Type};

/// One write transaction of the shared implementation, with the writes that go
/// beside a change: the journal and the revocation orders.
pub(super) struct Writes<'b, B: SqlBackend> {
    pub(super) owner: &'b B,
    pub(super) tx: Transaction<'static, B::Db>,
}

impl<'b, B> Writes<'b, B>
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
    pub(super) async fn begin(owner: &'b B) -> DbResult<Self> {
        let tx = owner.write().begin().await.map_err(backend)?;
        Ok(Self { owner, tx })
    }

    pub(super) async fn commit(self) -> DbResult<()> {
        self.tx.commit().await.map_err(backend)
    }

    /// The audit event and change-feed entries of a change, beside it.
    pub(super) async fn journal(&mut self, journal: &Journal) -> DbResult<()> {
        if !journal.changes.is_empty() {
            self.owner.lock_change_log(&mut self.tx).await?;
        }
        self.audit(&journal.audit).await?;
        for c in &journal.changes {
            sqlx::query(INSERT_CHANGE)
                .bind(&c.org_id)
                .bind(&c.user_id)
                .bind(&c.kind)
                .bind(&c.integration_id)
                .bind(c.at)
                .execute(&mut *self.tx)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn audit(&mut self, a: &NewAudit) -> DbResult<()> {
        sqlx::query(INSERT_AUDIT)
            .bind(&a.org_id)
            .bind(a.at)
            .bind(&a.actor_kind)
            .bind(&a.actor_id)
            .bind(&a.action)
            .bind(&a.target)
            .bind(&a.detail)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Writes revocation orders (see [`revocation_sql::INSERT_ORDERS`]).
    async fn orders(&mut self, o: &Orders<'_>) -> DbResult<()> {
        let sql = revocation_sql::INSERT_ORDERS.replace("{id}", B::ORDER_ID_SQL);
        sqlx::query(&sql)
            .bind(o.now)
            .bind(o.org_id)
            .bind(o.reason)
            .bind(o.integration_id)
            .bind(o.user_id)
            .bind(o.device_id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Tombstones the live records of an integration (of one user, or of the whole
    /// org); every device of each affected user gets an order first.
    async fn tombstone_integration(
        &mut self,
        org_id: &str,
        integration_id: &str,
        user_id: Option<&str>,
        reason: &str,
        now: Millis,
    ) -> DbResult<u64> {
        let mut orders = Orders::new(org_id, reason, now).integration(integration_id);
        if let Some(user) = user_id {
            orders = orders.user(user);
        }
        self.orders(&orders).await?;
        let done = sqlx::query(
            "UPDATE connection_records SET envelope = NULL, deleted = TRUE, version = version + 1, \
             device_id = '', updated_at = $1, revoked_by_admin = TRUE WHERE integration_id = $2 AND deleted = FALSE \
             AND ($3 IS NULL OR user_id = $3) AND user_id IN (SELECT id FROM users WHERE org_id = $4)",
        )
        .bind(now)
        .bind(integration_id)
        .bind(user_id)
        .bind(org_id)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(B::rows_affected(&done))
    }

    /// Revokes `user`'s records of an integration its allow-list no longer admits them to:
    /// orders to their devices, tombstones, and the user's journal if they had records.
    async fn exclude(
        &mut self,
        org_id: &str,
        integration_id: &str,
        user: &ExcludedUser,
    ) -> DbResult<u64> {
        let reason = revocation_reason::ALLOW_LIST;
        let at = user.journal.audit.at;
        let n = self
            .tombstone_integration(org_id, integration_id, Some(&user.user_id), reason, at)
            .await?;
        // Only a user who had records of it hears of the change.
        if n > 0 {
            self.journal(&user.journal).await?;
        }
        Ok(n)
    }

    /// The live version in a slot, `None` when empty or a tombstone.
    async fn live_version(&mut self, slot: &SlotKey) -> DbResult<Option<i64>> {
        sqlx::query(LIVE_VERSION)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?
            .map(|r| r.int("version"))
            .transpose()
    }

    async fn insert_admin(&mut self, admin: &Admin) -> Result<(), sqlx::Error> {
        sqlx::query(admin_sql::INSERT_ADMIN)
            .bind(&admin.id)
            .bind(&admin.org_id)
            .bind(&admin.email)
            .bind(&admin.password_hash)
            .bind(admin.role.as_str())
            .bind(admin.created_at)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
    }

    /// Runs `sql` with `binds` (all text), returning the rows it changed.
    async fn execute(&mut self, sql: &str, binds: &[&str]) -> DbResult<u64> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        let done = query.execute(&mut *self.tx).await.map_err(backend)?;
        Ok(B::rows_affected(&done))
    }
    pub(super) async fn ensure_org(
        mut self,
        new_id: &str,
        name: &str,
        now: Millis,
    ) -> DbResult<Org> {
        // Replicas starting together on an empty database must agree on one org.
        self.owner.lock_org(&mut self.tx).await?;
        // Write first (the insert is a no-op once an org exists), so the
        // transaction holds the write lock before it reads.
        sqlx::query(
            "INSERT INTO orgs (id, name, created_at) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM orgs)",
        )
        .bind(new_id)
        .bind(name)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        let r =
            sqlx::query("SELECT id, name, created_at FROM orgs ORDER BY created_at, id LIMIT 1")
                .fetch_one(&mut *self.tx)
                .await
                .map_err(backend)?;
        let org = rows::org(&r)?;
        self.commit().await?;
        Ok(org)
    }

    pub(super) async fn create_admin(mut self, admin: &Admin, journal: &Journal) -> DbResult<()> {
        self.insert_admin(admin)
            .await
            .map_err(unique("an admin with this email"))?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn create_first_admin(
        mut self,
        code_hash: &[u8],
        now: Millis,
        admin: &Admin,
        journal: &Journal,
    ) -> DbResult<()> {
        let used = sqlx::query(
            "DELETE FROM setup_codes WHERE org_id = $1 AND code_hash = $2 AND expires_at > $3",
        )
        .bind(&admin.org_id)
        .bind(code_hash)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        if B::rows_affected(&used) == 0 {
            return Err(DbError::Code(CodeProblem::Unknown));
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admins WHERE org_id = $1")
            .bind(&admin.org_id)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(backend)?;
        if row.int("n")? > 0 {
            return Err(DbError::AlreadyExists("an admin"));
        }
        self.insert_admin(admin).await.map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn delete_admin(
        mut self,
        org_id: &str,
        id: &str,
        journal: &Journal,
    ) -> DbResult<()> {
        sqlx::query(admin_sql::DELETE_CREDENTIALS)
            .bind(id)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        if self.execute(admin_sql::DELETE_ADMIN, &[id, org_id]).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn set_admin_password(
        mut self,
        org_id: &str,
        admin_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        journal: &Journal,
    ) -> DbResult<()> {
        let changed = self
            .execute(admin_sql::SET_PASSWORD, &[password_hash, admin_id, org_id])
            .await?;
        if changed == 0 {
            return Err(DbError::NotFound);
        }
        sqlx::query(admin_sql::DELETE_CREDENTIALS)
            .bind(admin_id)
            .bind(keep)
            .bind(CredentialKind::Session.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn revoke_admin_credential(
        mut self,
        id: &str,
        journal: &Journal,
    ) -> DbResult<()> {
        let sql = "DELETE FROM admin_credentials WHERE id = $1 AND org_id = $2";
        if self.execute(sql, &[id, &journal.audit.org_id]).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn reseal_secrets(
        mut self,
        org_id: &str,
        resealed: &[ResealedSecrets],
        journal: &Journal,
    ) -> DbResult<()> {
        for r in resealed {
            sqlx::query(RESEAL_SQL)
                .bind(&r.client_secret_sealed)
                .bind(&r.api_key_sealed)
                .bind(org_id)
                .bind(&r.integration_id)
                .execute(&mut *self.tx)
                .await
                .map_err(backend)?;
        }
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        owner.integrations_changed();
        Ok(())
    }

    pub(super) async fn create_user(mut self, user: &User, journal: &Journal) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO users (id, org_id, email, display_name, created_at, external_id, active, \
             provisioned_by, scim_profile, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&user.id)
        .bind(&user.org_id)
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(user.created_at)
        .bind(&user.external_id)
        .bind(user.active)
        .bind(&user.provisioned_by)
        .bind(&user.scim_profile)
        .bind(user.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(unique("a user with this email"))?;
        self.journal(journal).await?;
        self.commit().await
    }

    /// The leaver flow shared by removing a user and deactivating one: every device gets
    /// an order for every connection (revoke at the provider, wipe), then the records go.
    /// A removed user's devices, codes and row go too; a deactivated user's devices are
    /// revoked (their tokens still fetch the orders) and unused codes expire.
    async fn leave(&mut self, org_id: &str, id: &str, at: Millis, keep_row: bool) -> DbResult<()> {
        let orders = Orders::new(org_id, revocation_reason::USER_REMOVED, at).user(id);
        self.orders(&orders).await?;
        self.execute(
            "DELETE FROM connection_records WHERE user_id = $1 AND user_id IN (SELECT id FROM users WHERE org_id = $2)",
            &[id, org_id],
        )
        .await?;
        if keep_row {
            sqlx::query(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE user_id = $2 AND org_id = $3",
            )
            .bind(at)
            .bind(id)
            .bind(org_id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
            sqlx::query(
                "UPDATE enrollment_codes SET expires_at = $1 WHERE user_id = $2 AND org_id = $3 \
                 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(at)
            .bind(id)
            .bind(org_id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        } else {
            for sql in [
                "DELETE FROM devices WHERE user_id = $1 AND org_id = $2",
                "DELETE FROM enrollment_codes WHERE user_id = $1 AND org_id = $2",
                "DELETE FROM scim_group_members WHERE user_id = $1 AND user_id IN (SELECT id FROM users WHERE org_id = $2)",
            ] {
                self.execute(sql, &[id, org_id]).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn delete_user(
        mut self,
        org_id: &str,
        id: &str,
        journal: &Journal,
    ) -> DbResult<()> {
        self.leave(org_id, id, journal.audit.at, false).await?;
        let sql = "DELETE FROM users WHERE id = $1 AND org_id = $2";
        if self.execute(sql, &[id, org_id]).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        owner.devices_changed();
        Ok(())
    }

    pub(super) async fn update_user(mut self, user: &User, journal: &Journal) -> DbResult<User> {
        let was_active = sqlx::query("SELECT active FROM users WHERE id = $1 AND org_id = $2")
            .bind(&user.id)
            .bind(&user.org_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?
            .ok_or(DbError::NotFound)?
            .flag("active")?;
        let deactivated = was_active && !user.active;
        if deactivated {
            self.leave(&user.org_id, &user.id, journal.audit.at, true)
                .await?;
        }
        let row = sqlx::query(
            "UPDATE users SET email = $1, display_name = $2, external_id = $3, active = $4, \
             scim_profile = $5, updated_at = $6 WHERE id = $7 AND org_id = $8 RETURNING *",
        )
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&user.external_id)
        .bind(user.active)
        .bind(&user.scim_profile)
        .bind(user.updated_at)
        .bind(&user.id)
        .bind(&user.org_id)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(unique("a user with this email"))?;
        let updated = rows::user(&row)?;
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        if deactivated {
            owner.devices_changed();
        }
        Ok(updated)
    }

    /// Replaces a group's members (ids of users of the group's org only).
    async fn set_group_members(&mut self, group: &ScimGroup) -> DbResult<()> {
        self.execute(
            "DELETE FROM scim_group_members WHERE group_id = $1",
            &[&group.id],
        )
        .await?;
        for member in &group.members {
            let added = self
                .execute(
                    "INSERT INTO scim_group_members (group_id, user_id) SELECT $1, id FROM users \
                     WHERE id = $2 AND org_id = $3",
                    &[&group.id, member, &group.org_id],
                )
                .await?;
            if added == 0 {
                return Err(DbError::NotFound);
            }
        }
        Ok(())
    }

    pub(super) async fn create_scim_group(
        mut self,
        g: &ScimGroup,
        journal: &Journal,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO scim_groups (id, org_id, display_name, external_id, scim_profile, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.id)
        .bind(&g.org_id)
        .bind(&g.display_name)
        .bind(&g.external_id)
        .bind(&g.scim_profile)
        .bind(g.created_at)
        .bind(g.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(unique("a group with this id"))?;
        self.set_group_members(g).await?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn update_scim_group(
        mut self,
        g: &ScimGroup,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()> {
        let done = sqlx::query(
            "UPDATE scim_groups SET display_name = $1, external_id = $2, scim_profile = $3, \
             updated_at = $4 WHERE id = $5 AND org_id = $6",
        )
        .bind(&g.display_name)
        .bind(&g.external_id)
        .bind(&g.scim_profile)
        .bind(g.updated_at)
        .bind(&g.id)
        .bind(&g.org_id)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        if B::rows_affected(&done) == 0 {
            return Err(DbError::NotFound);
        }
        self.set_group_members(g).await?;
        self.journal(journal).await?;
        for l in lost {
            self.exclude(&g.org_id, &l.integration_id, &l.user).await?;
        }
        self.commit().await
    }

    pub(super) async fn delete_scim_group(
        mut self,
        org_id: &str,
        id: &str,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()> {
        self.execute(
            "DELETE FROM scim_group_members WHERE group_id = $1 AND group_id IN \
             (SELECT id FROM scim_groups WHERE org_id = $2)",
            &[id, org_id],
        )
        .await?;
        let sql = "DELETE FROM scim_groups WHERE id = $1 AND org_id = $2";
        if self.execute(sql, &[id, org_id]).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.journal(journal).await?;
        for l in lost {
            self.exclude(org_id, &l.integration_id, &l.user).await?;
        }
        self.commit().await
    }

    pub(super) async fn insert_scim_token(
        mut self,
        t: &ScimToken,
        journal: &Journal,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO scim_tokens (id, org_id, name, token_hash, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.org_id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.created_by)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn revoke_scim_token(
        mut self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<()> {
        let done = sqlx::query(
            "UPDATE scim_tokens SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org_id)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        if B::rows_affected(&done) == 0 {
            return Err(DbError::NotFound);
        }
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn insert_enrollment_code(mut self, c: &EnrollmentCode) -> DbResult<()> {
        // A new code replaces the user's older unused ones: only the latest link works.
        sqlx::query(
            "UPDATE enrollment_codes SET expires_at = $2 WHERE user_id = $1 AND org_id = $3 \
             AND used_at IS NULL AND expires_at > $2",
        )
        .bind(&c.user_id)
        .bind(c.created_at)
        .bind(&c.org_id)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO enrollment_codes (id, org_id, user_id, code_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.id)
        .bind(&c.org_id)
        .bind(&c.user_id)
        .bind(&c.code_hash)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        self.commit().await
    }

    pub(super) async fn redeem_enrollment_code(
        mut self,
        code_hash: &[u8],
        now: Millis,
        device: &Device,
        journal: &Journal,
    ) -> DbResult<(Device, User)> {
        let claimed = sqlx::query(
            "UPDATE enrollment_codes SET used_at = $1, device_id = $3 \
             WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id, org_id",
        )
        .bind(now)
        .bind(code_hash)
        .bind(&device.id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(backend)?;
        let Some(claimed) = claimed else {
            let row = sqlx::query("SELECT used_at FROM enrollment_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(backend)?;
            let problem = match row {
                None => CodeProblem::Unknown,
                Some(r) => match r.opt_int("used_at")? {
                    Some(_) => CodeProblem::AlreadyUsed,
                    None => CodeProblem::Expired,
                },
            };
            return Err(DbError::Code(problem));
        };
        let mut device = device.clone();
        device.user_id = claimed.text("user_id")?;
        device.org_id = claimed.text("org_id")?;
        sqlx::query(
            "INSERT INTO devices (id, org_id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&device.id)
        .bind(&device.org_id)
        .bind(&device.user_id)
        .bind(&device.name)
        .bind(&device.token_hash)
        .bind(device.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        let user = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(&device.user_id)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(backend)?;
        let user = rows::user(&user)?;
        if !user.active {
            // Dropping the transaction rolls the claim back.
            return Err(DbError::Code(CodeProblem::UserInactive));
        }
        let mut journal = journal.clone();
        journal.audit.actor_id = Some(device.id.clone());
        journal.audit.target = Some(user.id.clone());
        self.journal(&journal).await?;
        let owner = self.owner;
        self.commit().await?;
        // A lookup of this new token before it existed may have been cached as absent.
        owner.devices_changed();
        Ok((device, user))
    }

    pub(super) async fn revoke_device(
        mut self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Device> {
        // Orders first (only while the device is still live): it wipes its copies.
        let orders = Orders::new(org_id, revocation_reason::DEVICE_REVOKED, now).device(id);
        self.orders(&orders).await?;
        let row = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND org_id = $3 RETURNING *",
        )
        .bind(now)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(backend)?
        .ok_or(DbError::NotFound)?;
        let device = rows::device(&row)?;
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        owner.devices_changed();
        Ok(device)
    }

    pub(super) async fn put_integration_excluding(
        mut self,
        i: &Integration,
        journal: &Journal,
        excluded: &[ExcludedUser],
    ) -> DbResult<u64> {
        sqlx::query(
            "INSERT INTO integrations (org_id, id, enabled, environment, client_id, client_secret_sealed, \
             scopes, allowed_users, api_key_sealed, created_at, updated_at, api_base_url, api_paths, api_key_header, params, redirect_host, default_widgets, allowed_groups) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (org_id, id) DO UPDATE SET enabled = excluded.enabled, environment = excluded.environment, \
             client_id = excluded.client_id, client_secret_sealed = excluded.client_secret_sealed, \
             scopes = excluded.scopes, allowed_users = excluded.allowed_users, \
             api_key_sealed = excluded.api_key_sealed, updated_at = excluded.updated_at, \
             api_base_url = excluded.api_base_url, api_paths = excluded.api_paths, \
             api_key_header = excluded.api_key_header, params = excluded.params, \
             redirect_host = excluded.redirect_host, default_widgets = excluded.default_widgets, \
             allowed_groups = excluded.allowed_groups",
        )
        .bind(&i.org_id)
        .bind(&i.id)
        .bind(i.enabled)
        .bind(&i.environment)
        .bind(&i.client_id)
        .bind(&i.client_secret_sealed)
        .bind(encode_list(&i.scopes))
        .bind(i.allowed_users.as_deref().map(encode_list))
        .bind(&i.api_key_sealed)
        .bind(i.created_at)
        .bind(i.updated_at)
        .bind(&i.api_base_url)
        .bind(encode_list(&i.api_paths))
        .bind(&i.api_key_header)
        .bind(encode_map(&i.params))
        .bind(&i.redirect_host)
        .bind(i.default_widgets.as_deref().map(encode_list))
        .bind(i.allowed_groups.as_deref().map(encode_list))
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        if !i.enabled {
            let reason = revocation_reason::INTEGRATION_DISABLED;
            self.tombstone_integration(&i.org_id, &i.id, None, reason, i.updated_at)
                .await?;
        }
        self.journal(journal).await?;
        let mut revoked = 0;
        for user in excluded {
            revoked += self.exclude(&i.org_id, &i.id, user).await?;
        }
        let owner = self.owner;
        self.commit().await?;
        owner.integrations_changed();
        Ok(revoked)
    }

    pub(super) async fn delete_integration(
        mut self,
        org_id: &str,
        id: &str,
        journal: &Journal,
    ) -> DbResult<()> {
        let sql = "DELETE FROM integrations WHERE org_id = $1 AND id = $2";
        if self.execute(sql, &[org_id, id]).await? == 0 {
            return Err(DbError::NotFound);
        }
        let reason = revocation_reason::INTEGRATION_REMOVED;
        self.tombstone_integration(org_id, id, None, reason, journal.audit.at)
            .await?;
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        owner.integrations_changed();
        Ok(())
    }

    pub(super) async fn delete_record(
        mut self,
        slot: &SlotKey,
        version: i64,
        device_id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<i64> {
        let row = sqlx::query(
            "UPDATE connection_records SET envelope = NULL, deleted = TRUE, version = version + 1, \
             device_id = $5, updated_at = $6 WHERE user_id = $1 AND vault_key_id = $2 \
             AND integration_id = $3 AND environment = $4 AND deleted = FALSE AND version = $7 \
             RETURNING version",
        )
        .bind(&slot.user_id)
        .bind(&slot.vault_key_id)
        .bind(&slot.integration_id)
        .bind(&slot.environment)
        .bind(device_id)
        .bind(now)
        .bind(version)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            let current = self.live_version(slot).await?;
            return Err(match current {
                None => DbError::NotFound,
                Some(_) => DbError::VersionMismatch { current },
            });
        };
        let tombstone = row.int("version")?;
        self.journal(journal).await?;
        self.commit().await?;
        Ok(tombstone)
    }

    pub(super) async fn delete_user_records(
        mut self,
        user_id: &str,
        integration_id: &str,
        reason: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<u64> {
        let org_id = &journal.audit.org_id;
        let n = self
            .tombstone_integration(org_id, integration_id, Some(user_id), reason, now)
            .await?;
        self.journal(journal).await?;
        self.commit().await?;
        Ok(n)
    }

    pub(super) async fn record_revocation_receipt(
        mut self,
        device_id: &str,
        order_id: &str,
        receipt: &RevocationReceipt,
        journal: &Journal,
    ) -> DbResult<bool> {
        let done = sqlx::query(revocation_sql::RECEIPT)
            .bind(receipt.at)
            .bind(&receipt.provider_outcome)
            .bind(&receipt.provider_detail)
            .bind(receipt.local_wiped)
            .bind(order_id)
            .bind(device_id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        if B::rows_affected(&done) == 0 {
            return Ok(false);
        }
        self.journal(journal).await?;
        self.commit().await?;
        Ok(true)
    }

    pub(super) async fn append_audit(mut self, event: &NewAudit) -> DbResult<()> {
        self.audit(event).await?;
        self.commit().await
    }
}
