//! Values asked at connect in the shared SQL implementation: what each user gave for
//! the catalog placeholders an admin left for them (see `Integration::asked_at_connect`).

use super::SqlBackend;
use super::queries::Queries;
use super::writes::Writes;
use crate::rows::{self, Columns, backend};
use crate::{ConnectionValues, DbResult, Journal, encode_map};
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
    pub(super) async fn put_connection_values(
        mut self,
        v: &ConnectionValues,
        journal: &Journal,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO connection_values (org_id, user_id, integration_id, \"values\", updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, user_id, integration_id) \
             DO UPDATE SET \"values\" = excluded.\"values\", updated_at = excluded.updated_at",
        )
        .bind(&v.org_id)
        .bind(&v.user_id)
        .bind(&v.integration_id)
        .bind(encode_map(&v.values))
        .bind(v.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await
    }
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
    pub(super) async fn connection_values(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<ConnectionValues>> {
        sqlx::query(
            "SELECT org_id, user_id, integration_id, \"values\", updated_at FROM connection_values \
             WHERE org_id = $1 AND user_id = $2 ORDER BY integration_id",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(self.owner.read())
        .await
        .map_err(backend)?
        .iter()
        .map(rows::connection_values)
        .collect()
    }
}
