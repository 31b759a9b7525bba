//! Signed app updates in the shared SQL implementation: releases with their artifacts,
//! and what devices report about their app. Kept apart from the connection records'
//! reads and writes because nothing here touches them.

use super::SqlBackend;
use super::queries::Queries;
use super::writes::Writes;
use crate::rows::{self, Columns, RELEASE_COLUMNS, backend, unique};
use crate::{AppReport, DbError, DbResult, Device, Journal, Millis, Release};
use sqlx::{Encode, Executor, IntoArguments, Type};

/// What a unique violation on `releases_live` means to the caller.
const LIVE_RELEASE: &str = "a release with this version, target, arch and channel";

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
    pub(super) async fn create_release(
        mut self,
        r: &Release,
        artifact: &[u8],
        journal: &Journal,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO releases (id, org_id, version, target, arch, channel, notes, signature, \
             size, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.id)
        .bind(&r.org_id)
        .bind(&r.version)
        .bind(&r.target)
        .bind(&r.arch)
        .bind(&r.channel)
        .bind(&r.notes)
        .bind(&r.signature)
        .bind(r.size)
        .bind(&r.sha256)
        .bind(r.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(unique(LIVE_RELEASE))?;
        sqlx::query("INSERT INTO release_artifacts (release_id, bytes) VALUES ($1, $2)")
            .bind(&r.id)
            .bind(artifact)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await
    }

    pub(super) async fn set_release_channel(
        mut self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Release> {
        let sql = format!(
            "UPDATE releases SET channel = $1 WHERE id = $2 AND org_id = $3 \
             AND withdrawn_at IS NULL RETURNING {RELEASE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(channel)
            .bind(id)
            .bind(org_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(unique(LIVE_RELEASE))?
            .ok_or(DbError::NotFound)?;
        let release = rows::release(&row)?;
        self.journal(journal).await?;
        self.commit().await?;
        Ok(release)
    }

    pub(super) async fn withdraw_release(
        mut self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Release> {
        let sql = format!(
            "UPDATE releases SET withdrawn_at = COALESCE(withdrawn_at, $1) WHERE id = $2 \
             AND org_id = $3 RETURNING {RELEASE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .bind(org_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(backend)?
            .ok_or(DbError::NotFound)?;
        let release = rows::release(&row)?;
        // A withdrawn release is never served again: its bytes need not be kept.
        sqlx::query("DELETE FROM release_artifacts WHERE release_id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        self.journal(journal).await?;
        self.commit().await?;
        Ok(release)
    }

    pub(super) async fn set_device_update_channel(
        mut self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Device> {
        let row = sqlx::query(
            "UPDATE devices SET update_channel = $1 WHERE id = $2 AND org_id = $3 RETURNING *",
        )
        .bind(channel)
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
        // Cached device lookups carry the channel: they must read it again.
        owner.devices_changed();
        Ok(device)
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
    pub(super) async fn list_releases(&self, org_id: &str) -> DbResult<Vec<Release>> {
        let sql = format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE org_id = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        sqlx::query(&sql)
            .bind(org_id)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::release)
            .collect()
    }

    pub(super) async fn release_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<Release>> {
        let sql = format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE org_id = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.owner.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::release)
            .transpose()
    }

    pub(super) async fn offered_releases(
        &self,
        org_id: &str,
        target: &str,
        arch: &str,
        channel: &str,
    ) -> DbResult<Vec<Release>> {
        let sql = format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE org_id = $1 AND target = $2 \
             AND arch = $3 AND channel = $4 AND withdrawn_at IS NULL"
        );
        sqlx::query(&sql)
            .bind(org_id)
            .bind(target)
            .bind(arch)
            .bind(channel)
            .fetch_all(self.owner.read())
            .await
            .map_err(backend)?
            .iter()
            .map(rows::release)
            .collect()
    }

    pub(super) async fn release_artifact(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT a.bytes AS bytes FROM release_artifacts a JOIN releases r ON r.id = a.release_id \
             WHERE r.id = $1 AND r.org_id = $2 AND r.withdrawn_at IS NULL",
        )
        .bind(id)
        .bind(org_id)
        .fetch_optional(self.owner.read())
        .await
        .map_err(backend)?;
        row.map(|r| r.bytes("bytes")).transpose()
    }

    pub(super) async fn record_device_app(&self, id: &str, report: &AppReport) -> DbResult<()> {
        sqlx::query(
            "UPDATE devices SET app_version = $1, app_target = $2, app_arch = $3, \
             app_version_seen_at = $4 WHERE id = $5",
        )
        .bind(&report.version)
        .bind(&report.target)
        .bind(&report.arch)
        .bind(report.seen_at)
        .bind(id)
        .execute(self.owner.write())
        .await
        .map_err(backend)?;
        Ok(())
    }
}
