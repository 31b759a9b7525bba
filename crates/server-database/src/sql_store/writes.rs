//! The write transactions of the shared SQL implementation: each change with its
//! journal and, where it revokes connections, its revocation orders, committed together.
//! Here: the transaction and what goes beside every change (journal, orders,
//! tombstones), and the writes of integrations and connection records; the org's
//! admins are in `admins`, users, devices and SCIM in `people`, releases in `releases`.

use super::SqlBackend;
use crate::rows::{Columns, backend, unique};
use crate::sql::{
    INSERT_AUDIT, INSERT_CHANGE, LIVE_VERSION, bind_audit, bind_change, revocation_sql,
};
use crate::{
    DbError, DbResult, ExcludedUser, Integration, Journal, Millis, NewAudit, Orders,
    RevocationReceipt, SlotKey, encode_list, encode_map, revocation_reason,
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
        self.audit(&journal.audit).await?;
        for c in &journal.changes {
            bind_change(sqlx::query(INSERT_CHANGE), c)
                .execute(&mut *self.tx)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn audit(&mut self, a: &NewAudit) -> DbResult<()> {
        bind_audit(sqlx::query(INSERT_AUDIT), a)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Writes revocation orders (see [`revocation_sql::INSERT_ORDERS`]).
    pub(super) async fn orders(&mut self, o: &Orders<'_>) -> DbResult<()> {
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
    pub(super) async fn tombstone_integration(
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
    pub(super) async fn exclude(
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

    /// Runs `sql` with `binds` (all text), returning the rows it changed.
    pub(super) async fn execute(&mut self, sql: &str, binds: &[&str]) -> DbResult<u64> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        let done = query.execute(&mut *self.tx).await.map_err(backend)?;
        Ok(B::rows_affected(&done))
    }

    pub(super) async fn put_integration_excluding(
        mut self,
        i: &Integration,
        journal: &Journal,
        excluded: &[ExcludedUser],
    ) -> DbResult<u64> {
        sqlx::query(
            "INSERT INTO integrations (org_id, id, enabled, environment, client_id, client_secret_sealed, \
             scopes, allowed_users, api_key_sealed, created_at, updated_at, api_base_url, api_paths, api_key_header, params, redirect_host, default_widgets, allowed_groups, provider, display_name, asked_at_connect, org_wide, require_customize_application) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
             ON CONFLICT (org_id, id) DO UPDATE SET enabled = excluded.enabled, environment = excluded.environment, \
             client_id = excluded.client_id, client_secret_sealed = excluded.client_secret_sealed, \
             scopes = excluded.scopes, allowed_users = excluded.allowed_users, \
             api_key_sealed = excluded.api_key_sealed, updated_at = excluded.updated_at, \
             api_base_url = excluded.api_base_url, api_paths = excluded.api_paths, \
             api_key_header = excluded.api_key_header, params = excluded.params, \
             redirect_host = excluded.redirect_host, default_widgets = excluded.default_widgets, \
             allowed_groups = excluded.allowed_groups, display_name = excluded.display_name, \
             asked_at_connect = excluded.asked_at_connect, org_wide = excluded.org_wide, \
             require_customize_application = excluded.require_customize_application",
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
        .bind(&i.provider)
        .bind(&i.display_name)
        .bind(encode_list(&i.asked_at_connect))
        .bind(i.org_wide)
        .bind(i.require_customize_application)
        .execute(&mut *self.tx)
        .await
        .map_err(unique("a connection to this system and environment"))?;
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
        // What users gave a connection goes with it: a new connection under the same
        // id may point elsewhere, and asks again.
        self.execute(
            "DELETE FROM connection_values WHERE org_id = $1 AND integration_id = $2",
            &[org_id, id],
        )
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
