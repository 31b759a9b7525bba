//! The tokens of org connections (`org_tokens`): sealed bytes only, one row per
//! integration. A refresh runs under a lock on the row, so that concurrent callers on
//! every replica cause one request to the provider: the first statement of the
//! transaction writes the row (a no-op update), which takes PostgreSQL's row lock and
//! SQLite's one writer; whoever waited then sees the new version and uses it.

use super::SqlBackend;
use crate::rows::{self, Columns, backend};
use crate::sql::{INSERT_AUDIT, bind_audit};
use crate::{DbResult, Journal, Millis, OrgRefresher, OrgToken, OrgTokenChange};
use sqlx::{Encode, Executor, IntoArguments, Type};

const SELECT: &str = "SELECT * FROM org_tokens WHERE org_id = $1 AND integration_id = $2";

pub(super) struct OrgTokens<'b, B> {
    pub(super) owner: &'b B,
}

impl<B> OrgTokens<'_, B>
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
    pub(super) async fn get(&self, org_id: &str, id: &str) -> DbResult<Option<OrgToken>> {
        sqlx::query(SELECT)
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::org_token)
            .transpose()
    }

    /// Stores a fresh authorization (replacing any earlier one) with its journal.
    pub(super) async fn put(&self, t: &OrgToken, journal: &Journal) -> DbResult<()> {
        let mut tx = self.owner.write().begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO org_tokens (org_id, integration_id, environment, access_sealed, refresh_sealed, \
             instance_url, expires_at, authorized_by, authorized_at, last_used_at, refreshed_at, needs_reauth, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, 1) \
             ON CONFLICT (org_id, integration_id) DO UPDATE SET environment = excluded.environment, \
             access_sealed = excluded.access_sealed, refresh_sealed = excluded.refresh_sealed, \
             instance_url = excluded.instance_url, expires_at = excluded.expires_at, \
             authorized_by = excluded.authorized_by, authorized_at = excluded.authorized_at, \
             last_used_at = NULL, refreshed_at = NULL, needs_reauth = NULL, \
             version = org_tokens.version + 1",
        )
        .bind(&t.org_id)
        .bind(&t.integration_id)
        .bind(&t.environment)
        .bind(&t.access_sealed)
        .bind(&t.refresh_sealed)
        .bind(&t.instance_url)
        .bind(t.expires_at)
        .bind(&t.authorized_by)
        .bind(t.authorized_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        bind_audit(sqlx::query(INSERT_AUDIT), &journal.audit)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    /// Deletes the row and returns what it held (to revoke at the provider), with its journal.
    pub(super) async fn take(
        &self,
        org_id: &str,
        id: &str,
        journal: &Journal,
    ) -> DbResult<Option<OrgToken>> {
        let mut tx = self.owner.write().begin().await.map_err(backend)?;
        let row = sqlx::query(
            "DELETE FROM org_tokens WHERE org_id = $1 AND integration_id = $2 RETURNING *",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .as_ref()
        .map(rows::org_token)
        .transpose()?;
        if row.is_some() {
            bind_audit(sqlx::query(INSERT_AUDIT), &journal.audit)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(row)
    }

    /// Records a use, to the minute (no write on most calls).
    pub(super) async fn touch(&self, org_id: &str, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query(
            "UPDATE org_tokens SET last_used_at = $3 WHERE org_id = $1 AND integration_id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $4)",
        )
        .bind(org_id)
        .bind(id)
        .bind(now)
        .bind(now - 60_000)
        .execute(self.owner.write())
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// Refreshes under the row lock unless the row moved past `seen_version` meanwhile
    /// (another caller refreshed: its tokens are returned as they are).
    pub(super) async fn refresh(
        &self,
        org_id: &str,
        id: &str,
        seen_version: i64,
        refresher: OrgRefresher,
    ) -> DbResult<Option<OrgToken>> {
        let mut tx = self.owner.write().begin().await.map_err(backend)?;
        // The lock: PostgreSQL's row lock, SQLite's write lock, held until commit.
        sqlx::query(
            "UPDATE org_tokens SET version = version WHERE org_id = $1 AND integration_id = $2",
        )
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(current) = sqlx::query(SELECT)
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::org_token)
            .transpose()?
        else {
            return Ok(None);
        };
        if current.version != seen_version || current.needs_reauth.is_some() {
            return Ok(Some(current));
        }
        let mut next = current.clone();
        match refresher(current).await {
            OrgTokenChange::Unchanged => return Ok(Some(next)),
            OrgTokenChange::NeedsReauth(reason) => {
                sqlx::query(
                    "UPDATE org_tokens SET needs_reauth = $3, version = version + 1 \
                     WHERE org_id = $1 AND integration_id = $2",
                )
                .bind(org_id)
                .bind(id)
                .bind(&reason)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                next.needs_reauth = Some(reason);
            }
            OrgTokenChange::Refreshed {
                access_sealed,
                refresh_sealed,
                expires_at,
                instance_url,
                now,
            } => {
                // A response without a refresh token keeps the old one; the new one is
                // stored in the same write that drops the old (crash-safe rotation).
                let refresh_sealed = refresh_sealed.or(next.refresh_sealed.take());
                let instance_url = instance_url.or(next.instance_url.take());
                sqlx::query(
                    "UPDATE org_tokens SET access_sealed = $3, refresh_sealed = $4, expires_at = $5, \
                     instance_url = $6, refreshed_at = $7, version = version + 1 \
                     WHERE org_id = $1 AND integration_id = $2",
                )
                .bind(org_id)
                .bind(id)
                .bind(&access_sealed)
                .bind(&refresh_sealed)
                .bind(expires_at)
                .bind(&instance_url)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                next.access_sealed = access_sealed;
                next.refresh_sealed = refresh_sealed;
                next.expires_at = expires_at;
                next.instance_url = instance_url;
                next.refreshed_at = Some(now);
            }
        }
        next.version += 1;
        tx.commit().await.map_err(backend)?;
        Ok(Some(next))
    }
}
