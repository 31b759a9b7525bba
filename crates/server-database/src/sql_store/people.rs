//! Writes of the people an org serves: users (and the leaver flow that cuts them
//! off), their enrollment codes and devices, and the SCIM groups and tokens an
//! identity provider manages them with.

use super::SqlBackend;
use super::writes::Writes;
use crate::rows::{self, Columns, backend, unique};
use crate::{
    CodeProblem, DbError, DbResult, Device, EnrollmentCode, Journal, LostAccess, Millis, Orders,
    ScimGroup, ScimToken, User, revocation_reason,
};
use sqlx::{Encode, Executor, IntoArguments, Type};

impl<B> Writes<'_, B>
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
}
