//! [`Database`] for every [`SqlBackend`]: each method is the shared statement
//! it names (in `queries`, `writes` and the other modules of this directory),
//! run on the backend's pools.

use super::org_tokens::OrgTokens;
use super::queries::Queries;
use super::writes::Writes;
use super::{RecordWrite, SqlBackend};
use crate::rows::{Columns, backend};
use crate::{
    Admin, AdminCredential, AppReport, AuditEvent, AuditQuery, Change, ConnectionRecord,
    ConnectionValues, Database, DbError, DbResult, Device, DeviceSlot, EnrollmentCode,
    EnrollmentCodeStatus, ExcludedUser, Integration, Journal, LostAccess, Millis, NewAudit, Org,
    OrgRefresher, OrgToken, Precondition, Release, ResealedSecrets, RevocationOrder,
    RevocationReceipt, ScimGroup, ScimToken, SlotKey, User,
};
use async_trait::async_trait;
use sqlx::{Encode, Executor, IntoArguments, Type};

#[async_trait]
impl<B> Database for B
where
    B: SqlBackend,
    <B::Db as sqlx::Database>::Connection: sqlx::migrate::Migrate,
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
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn migrate(&self) -> DbResult<()> {
        B::migrator()
            .run(self.write())
            .await
            .map_err(|e| DbError::Backend(format!("migration failed: {e}")))
    }

    async fn ping(&self) -> DbResult<()> {
        self.ready()?;
        sqlx::query("SELECT 1")
            .execute(self.read())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn close(&self) {
        self.read().close().await;
        self.write().close().await;
        self.pools().hot.close();
        self.closed();
    }

    async fn put_record(
        &self,
        slot: &SlotKey,
        envelope: &[u8],
        device_id: &str,
        precondition: Precondition,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<ConnectionRecord> {
        let put = RecordWrite {
            slot,
            envelope,
            device_id,
            precondition,
            now,
            journal,
        };
        match self.write_record(put).await? {
            Some(written) => Ok(written),
            None => {
                let live = Queries { owner: self }.get_record(slot).await?;
                Err(DbError::VersionMismatch {
                    current: live.map(|r| r.version),
                })
            }
        }
    }

    async fn ensure_org(&self, new_id: &str, name: &str, now: Millis) -> DbResult<Org> {
        Writes::begin(self)
            .await?
            .ensure_org(new_id, name, now)
            .await
    }

    async fn create_admin(&self, admin: &Admin, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .create_admin(admin, journal)
            .await
    }

    async fn admin_by_email(&self, org_id: &str, email: &str) -> DbResult<Option<Admin>> {
        Queries { owner: self }.admin_by_email(org_id, email).await
    }

    async fn admin_by_id(&self, id: &str) -> DbResult<Option<Admin>> {
        Queries { owner: self }.admin_by_id(id).await
    }

    async fn count_admins(&self, org_id: &str) -> DbResult<i64> {
        Queries { owner: self }.count_admins(org_id).await
    }

    async fn put_setup_code(
        &self,
        org_id: &str,
        code_hash: &[u8],
        expires_at: Millis,
    ) -> DbResult<()> {
        Queries { owner: self }
            .put_setup_code(org_id, code_hash, expires_at)
            .await
    }

    async fn create_first_admin(
        &self,
        code_hash: &[u8],
        now: Millis,
        admin: &Admin,
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .create_first_admin(code_hash, now, admin, journal)
            .await
    }

    async fn insert_admin_credential(&self, c: &AdminCredential) -> DbResult<()> {
        Queries { owner: self }.insert_admin_credential(c).await
    }

    async fn admin_credential_by_hash(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> DbResult<Option<AdminCredential>> {
        Queries { owner: self }
            .admin_credential_by_hash(token_hash, now)
            .await
    }

    async fn delete_admin_credential(&self, id: &str) -> DbResult<()> {
        Queries { owner: self }.delete_admin_credential(id).await
    }

    async fn list_admins(&self, org_id: &str) -> DbResult<Vec<Admin>> {
        Queries { owner: self }.list_admins(org_id).await
    }

    async fn delete_admin(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .delete_admin(org_id, id, journal)
            .await
    }

    async fn set_admin_password(
        &self,
        org_id: &str,
        admin_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .set_admin_password(org_id, admin_id, password_hash, keep, journal)
            .await
    }

    async fn list_admin_tokens(
        &self,
        org_id: &str,
        admin_id: Option<&str>,
    ) -> DbResult<Vec<AdminCredential>> {
        Queries { owner: self }
            .list_admin_tokens(org_id, admin_id)
            .await
    }

    async fn admin_credential_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<AdminCredential>> {
        Queries { owner: self }
            .admin_credential_by_id(org_id, id)
            .await
    }

    async fn touch_admin_credential(&self, id: &str, now: Millis) -> DbResult<()> {
        Queries { owner: self }
            .touch_admin_credential(id, now)
            .await
    }

    async fn revoke_admin_credential(&self, id: &str, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .revoke_admin_credential(id, journal)
            .await
    }

    async fn reseal_secrets(
        &self,
        org_id: &str,
        resealed: &[ResealedSecrets],
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .reseal_secrets(org_id, resealed, journal)
            .await
    }

    async fn list_enrollment_codes(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<EnrollmentCodeStatus>> {
        Queries { owner: self }
            .list_enrollment_codes(org_id, user_id)
            .await
    }

    async fn create_user(&self, user: &User, journal: &Journal) -> DbResult<()> {
        Writes::begin(self).await?.create_user(user, journal).await
    }

    async fn user_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<User>> {
        Queries { owner: self }.user_by_id(org_id, id).await
    }

    async fn list_users(&self, org_id: &str) -> DbResult<Vec<User>> {
        Queries { owner: self }.list_users(org_id).await
    }

    async fn delete_user(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .delete_user(org_id, id, journal)
            .await
    }

    async fn insert_enrollment_code(&self, c: &EnrollmentCode) -> DbResult<()> {
        Writes::begin(self).await?.insert_enrollment_code(c).await
    }

    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        now: Millis,
        device: &Device,
        journal: &Journal,
    ) -> DbResult<(Device, User)> {
        Writes::begin(self)
            .await?
            .redeem_enrollment_code(code_hash, now, device, journal)
            .await
    }

    async fn device_and_user_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(Device, User)>> {
        Queries { owner: self }
            .device_and_user_by_token_hash(token_hash)
            .await
    }

    async fn device_and_record(
        &self,
        token_hash: &[u8],
        slot: &DeviceSlot,
    ) -> DbResult<Option<(Device, User, Option<ConnectionRecord>)>> {
        Queries { owner: self }
            .device_and_record(token_hash, slot)
            .await
    }

    async fn device_and_integration(
        &self,
        token_hash: &[u8],
        org_id: &str,
        integration_id: &str,
    ) -> DbResult<Option<(Device, User, Option<Integration>)>> {
        Queries { owner: self }
            .device_and_integration(token_hash, org_id, integration_id)
            .await
    }

    async fn list_devices(&self, org_id: &str, user_id: Option<&str>) -> DbResult<Vec<Device>> {
        Queries { owner: self }.list_devices(org_id, user_id).await
    }

    async fn revoke_device(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Device> {
        Writes::begin(self)
            .await?
            .revoke_device(org_id, id, now, journal)
            .await
    }

    async fn touch_device(&self, id: &str, now: Millis) -> DbResult<()> {
        Queries { owner: self }.touch_device(id, now).await
    }

    async fn put_integration_excluding(
        &self,
        i: &Integration,
        journal: &Journal,
        excluded: &[ExcludedUser],
    ) -> DbResult<u64> {
        Writes::begin(self)
            .await?
            .put_integration_excluding(i, journal, excluded)
            .await
    }

    async fn get_integration(&self, org_id: &str, id: &str) -> DbResult<Option<Integration>> {
        Queries { owner: self }.get_integration(org_id, id).await
    }

    async fn list_integrations(&self, org_id: &str) -> DbResult<Vec<Integration>> {
        Queries { owner: self }.list_integrations(org_id).await
    }

    async fn connection_values(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<ConnectionValues>> {
        Queries { owner: self }
            .connection_values(org_id, user_id)
            .await
    }

    async fn put_connection_values(
        &self,
        values: &ConnectionValues,
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .put_connection_values(values, journal)
            .await
    }

    async fn delete_integration(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .delete_integration(org_id, id, journal)
            .await
    }

    async fn get_record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>> {
        Queries { owner: self }.get_record(slot).await
    }

    async fn list_records(
        &self,
        user_id: &str,
        integration_id: Option<&str>,
    ) -> DbResult<Vec<ConnectionRecord>> {
        Queries { owner: self }
            .list_records(user_id, integration_id)
            .await
    }

    async fn delete_record(
        &self,
        slot: &SlotKey,
        version: i64,
        device_id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<i64> {
        Writes::begin(self)
            .await?
            .delete_record(slot, version, device_id, now, journal)
            .await
    }

    async fn delete_user_records(
        &self,
        user_id: &str,
        integration_id: &str,
        reason: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<u64> {
        Writes::begin(self)
            .await?
            .delete_user_records(user_id, integration_id, reason, now, journal)
            .await
    }

    async fn admin_revoked(&self, slot: &SlotKey) -> DbResult<bool> {
        Queries { owner: self }.admin_revoked(slot).await
    }

    async fn clear_admin_revocation(&self, slot: &SlotKey) -> DbResult<()> {
        Queries { owner: self }.clear_admin_revocation(slot).await
    }

    async fn restart_grant(&self, slot: &SlotKey, version: i64, now: Millis) -> DbResult<()> {
        Queries { owner: self }
            .restart_grant(slot, version, now)
            .await
    }

    async fn device_by_order_token(
        &self,
        org_id: &str,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, String)>> {
        Queries { owner: self }
            .device_by_order_token(org_id, token_hash)
            .await
    }

    async fn pending_revocation_orders(&self, device_id: &str) -> DbResult<Vec<RevocationOrder>> {
        Queries { owner: self }
            .pending_revocation_orders(device_id)
            .await
    }

    async fn revocation_orders_for_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<RevocationOrder>> {
        Queries { owner: self }
            .revocation_orders_for_user(org_id, user_id)
            .await
    }

    async fn record_revocation_receipt(
        &self,
        device_id: &str,
        order_id: &str,
        receipt: &RevocationReceipt,
        journal: &Journal,
    ) -> DbResult<bool> {
        Writes::begin(self)
            .await?
            .record_revocation_receipt(device_id, order_id, receipt, journal)
            .await
    }

    async fn create_release(
        &self,
        release: &Release,
        artifact: &[u8],
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .create_release(release, artifact, journal)
            .await
    }

    async fn list_releases(&self, org_id: &str) -> DbResult<Vec<Release>> {
        Queries { owner: self }.list_releases(org_id).await
    }

    async fn release_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<Release>> {
        Queries { owner: self }.release_by_id(org_id, id).await
    }

    async fn offered_releases(
        &self,
        org_id: &str,
        target: &str,
        arch: &str,
        channel: &str,
    ) -> DbResult<Vec<Release>> {
        Queries { owner: self }
            .offered_releases(org_id, target, arch, channel)
            .await
    }

    async fn release_artifact(&self, org_id: &str, id: &str) -> DbResult<Option<Vec<u8>>> {
        Queries { owner: self }.release_artifact(org_id, id).await
    }

    async fn set_release_channel(
        &self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Release> {
        Writes::begin(self)
            .await?
            .set_release_channel(org_id, id, channel, journal)
            .await
    }

    async fn withdraw_release(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Release> {
        Writes::begin(self)
            .await?
            .withdraw_release(org_id, id, now, journal)
            .await
    }

    async fn set_device_update_channel(
        &self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Device> {
        Writes::begin(self)
            .await?
            .set_device_update_channel(org_id, id, channel, journal)
            .await
    }

    async fn record_device_app(&self, id: &str, report: &AppReport) -> DbResult<()> {
        Queries { owner: self }.record_device_app(id, report).await
    }

    async fn update_user(&self, user: &User, journal: &Journal) -> DbResult<User> {
        Writes::begin(self).await?.update_user(user, journal).await
    }

    async fn create_scim_group(&self, group: &ScimGroup, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .create_scim_group(group, journal)
            .await
    }

    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .update_scim_group(group, journal, lost)
            .await
    }

    async fn groups_of_user(&self, org_id: &str, user_id: &str) -> DbResult<Vec<String>> {
        Queries { owner: self }
            .groups_of_user(org_id, user_id)
            .await
    }

    async fn scim_group_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<ScimGroup>> {
        Queries { owner: self }.scim_group_by_id(org_id, id).await
    }

    async fn list_scim_groups(&self, org_id: &str) -> DbResult<Vec<ScimGroup>> {
        Queries { owner: self }.list_scim_groups(org_id).await
    }

    async fn delete_scim_group(
        &self,
        org_id: &str,
        id: &str,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .delete_scim_group(org_id, id, journal, lost)
            .await
    }

    async fn insert_scim_token(&self, token: &ScimToken, journal: &Journal) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .insert_scim_token(token, journal)
            .await
    }

    async fn scim_token_by_hash(&self, token_hash: &[u8]) -> DbResult<Option<ScimToken>> {
        Queries { owner: self }.scim_token_by_hash(token_hash).await
    }

    async fn list_scim_tokens(&self, org_id: &str) -> DbResult<Vec<ScimToken>> {
        Queries { owner: self }.list_scim_tokens(org_id).await
    }

    async fn revoke_scim_token(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<()> {
        Writes::begin(self)
            .await?
            .revoke_scim_token(org_id, id, now, journal)
            .await
    }

    async fn touch_scim_token(&self, id: &str, now: Millis) -> DbResult<()> {
        Queries { owner: self }.touch_scim_token(id, now).await
    }

    async fn append_audit(&self, event: &NewAudit) -> DbResult<()> {
        Writes::begin(self).await?.append_audit(event).await
    }

    async fn list_audit(&self, org_id: &str, query: &AuditQuery) -> DbResult<Vec<AuditEvent>> {
        Queries { owner: self }.list_audit(org_id, query).await
    }

    async fn changes_since(
        &self,
        org_id: &str,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<Change>> {
        Queries { owner: self }
            .changes_since(org_id, user_id, since, limit)
            .await
    }

    async fn latest_change_seq(&self, org_id: &str) -> DbResult<i64> {
        Queries { owner: self }.latest_change_seq(org_id).await
    }

    async fn get_org_token(&self, org_id: &str, id: &str) -> DbResult<Option<OrgToken>> {
        OrgTokens { owner: self }.get(org_id, id).await
    }

    async fn put_org_token(&self, token: &OrgToken, journal: &Journal) -> DbResult<()> {
        OrgTokens { owner: self }.put(token, journal).await
    }

    async fn take_org_token(
        &self,
        org_id: &str,
        id: &str,
        journal: &Journal,
    ) -> DbResult<Option<OrgToken>> {
        OrgTokens { owner: self }.take(org_id, id, journal).await
    }

    async fn touch_org_token(&self, org_id: &str, id: &str, now: Millis) -> DbResult<()> {
        OrgTokens { owner: self }.touch(org_id, id, now).await
    }

    async fn refresh_org_token(
        &self,
        org_id: &str,
        id: &str,
        seen_version: i64,
        refresher: OrgRefresher,
    ) -> DbResult<Option<OrgToken>> {
        OrgTokens { owner: self }
            .refresh(org_id, id, seen_version, refresher)
            .await
    }
}
