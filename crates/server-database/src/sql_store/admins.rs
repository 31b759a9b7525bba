//! Writes of the organisation and its console admins: creating the org, adding,
//! removing and re-keying admins and their credentials, and resealing secrets
//! under a new server key.

use super::SqlBackend;
use super::writes::Writes;
use crate::rows::{self, Columns, backend, unique};
use crate::sql::{RESEAL_ORG_TOKEN_SQL, RESEAL_SQL, admin_sql};
use crate::{
    Admin, CodeProblem, CredentialKind, DbError, DbResult, Journal, Millis, Org, ResealedSecrets,
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
            if let Some(t) = &r.org_token {
                let done = sqlx::query(RESEAL_ORG_TOKEN_SQL)
                    .bind(&t.access_sealed)
                    .bind(&t.refresh_sealed)
                    .bind(org_id)
                    .bind(&r.integration_id)
                    .bind(t.version)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(backend)?;
                // Refreshed or revoked since it was read: nothing is written (the
                // transaction is dropped, so rolled back).
                if B::rows_affected(&done) != 1 {
                    return Err(DbError::VersionMismatch { current: None });
                }
            }
        }
        self.journal(journal).await?;
        let owner = self.owner;
        self.commit().await?;
        owner.integrations_changed();
        Ok(())
    }
}
