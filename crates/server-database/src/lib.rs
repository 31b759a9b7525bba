//! The storage contract of `latchkey-server`: the models it keeps, the one
//! error type storage returns, and the [`Database`] trait. Both backends
//! (SQLite, PostgreSQL) share one implementation of it over SQL ([`SqlBackend`]:
//! the statements, row mapping and journal writes are written once); each
//! backend crate brings its migrations and what its engine does differently.
//!
//! Why a trait object and not sqlx's `Any` driver: the two dialects differ
//! exactly where correctness lives (autoincrement ids, the commit order of the
//! change log, locking), and a trait lets each backend do the right thing for
//! its engine while the server stays ignorant of SQL. The server holds an
//! `Arc<dyn Database>` chosen at start from the database URL.
//!
//! Every mutation takes a [`Journal`]: the audit event (and, when clients must
//! hear of it, the change-feed entry) is written in the same transaction as the
//! change itself, so the audit trail and the feed can never disagree with the data.

mod error;
mod journal;
mod model;
mod revocation;
pub mod rows;
pub mod sql;
mod sql_store;

pub use error::*;
pub use journal::*;
pub use model::*;
pub use revocation::*;
pub use sql::{RESEAL_SQL, admin_sql, revocation_sql};
pub use sql_store::{HotConn, HotPool, Pools, RecordWrite, STALE_AFTER, SqlBackend};

use async_trait::async_trait;

/// The storage a server needs. Implemented by `latchkey-server-sqlite` and
/// `latchkey-server-postgres`; both pass the same conformance story.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> DbResult<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> DbResult<()>;
    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);

    /// The deployment's organisation, created with `new_id`/`name` if the database has none.
    async fn ensure_org(&self, new_id: &str, name: &str, now: Millis) -> DbResult<Org>;

    async fn create_admin(&self, admin: &Admin, journal: &Journal) -> DbResult<()>;
    async fn admin_by_email(&self, org_id: &str, email: &str) -> DbResult<Option<Admin>>;
    async fn admin_by_id(&self, id: &str) -> DbResult<Option<Admin>>;
    async fn count_admins(&self, org_id: &str) -> DbResult<i64>;
    /// Stores (replacing any previous) the one-time setup code of an org without admins.
    async fn put_setup_code(
        &self,
        org_id: &str,
        code_hash: &[u8],
        expires_at: Millis,
    ) -> DbResult<()>;
    /// Consumes the setup code and creates the first admin, atomically.
    /// `DbError::Code` if the code is unknown or expired, `AlreadyExists` if an admin exists.
    async fn create_first_admin(
        &self,
        code_hash: &[u8],
        now: Millis,
        admin: &Admin,
        journal: &Journal,
    ) -> DbResult<()>;
    async fn insert_admin_credential(&self, cred: &AdminCredential) -> DbResult<()>;
    /// The credential with this token hash, if it exists and has not expired at `now`.
    async fn admin_credential_by_hash(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> DbResult<Option<AdminCredential>>;
    async fn delete_admin_credential(&self, id: &str) -> DbResult<()>;
    /// Every admin of the org, oldest first.
    async fn list_admins(&self, org_id: &str) -> DbResult<Vec<Admin>>;
    /// Removes an admin and, in the same transaction, every session and token of theirs.
    async fn delete_admin(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;
    /// Sets an admin's password hash and ends their other sessions (all but `keep`).
    async fn set_admin_password(
        &self,
        org_id: &str,
        admin_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        journal: &Journal,
    ) -> DbResult<()>;
    /// API tokens, newest first: one admin's, or (`None`) everyone's.
    async fn list_admin_tokens(
        &self,
        org_id: &str,
        admin_id: Option<&str>,
    ) -> DbResult<Vec<AdminCredential>>;
    async fn admin_credential_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<AdminCredential>>;
    /// Records that a credential was used at `now`.
    async fn touch_admin_credential(&self, id: &str, now: Millis) -> DbResult<()>;
    /// Revokes one credential with its audit event.
    async fn revoke_admin_credential(&self, id: &str, journal: &Journal) -> DbResult<()>;
    /// Replaces every listed integration's sealed secrets in one transaction (all or none).
    async fn reseal_secrets(
        &self,
        org_id: &str,
        resealed: &[ResealedSecrets],
        journal: &Journal,
    ) -> DbResult<()>;
    /// A user's enrollment codes, newest first, with the device that redeemed each.
    async fn list_enrollment_codes(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<EnrollmentCodeStatus>>;

    async fn create_user(&self, user: &User, journal: &Journal) -> DbResult<()>;
    async fn user_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<User>>;
    async fn list_users(&self, org_id: &str) -> DbResult<Vec<User>>;
    /// Deletes the user with their devices, codes and records. `NotFound` if absent.
    async fn delete_user(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;

    async fn insert_enrollment_code(&self, code: &EnrollmentCode) -> DbResult<()>;
    /// Atomically marks the code used and creates `device` for its user (the
    /// device's `user_id`/`org_id` are taken from the code). Fails with
    /// `DbError::Code` if the code is unknown, expired or already used.
    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        now: Millis,
        device: &Device,
        journal: &Journal,
    ) -> DbResult<(Device, User)>;

    /// The device holding this token hash, revoked or not (the caller decides).
    async fn device_by_token_hash(&self, token_hash: &[u8]) -> DbResult<Option<Device>> {
        Ok(self
            .device_and_user_by_token_hash(token_hash)
            .await?
            .map(|(device, _)| device))
    }
    /// The device holding this token hash and its user, in one round trip
    /// (every client request authenticates with it).
    async fn device_and_user_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(Device, User)>>;
    /// [`Self::device_and_user_by_token_hash`] and, for a device not revoked, its user's
    /// live record in `slot`, in one round trip: a record GET authenticates and reads
    /// with it. The caller still checks the device (token, revocation, org) before
    /// using the record.
    async fn device_and_record(
        &self,
        token_hash: &[u8],
        slot: &DeviceSlot,
    ) -> DbResult<Option<(Device, User, Option<ConnectionRecord>)>>;
    /// [`Self::device_and_user_by_token_hash`] and the org's integration `integration_id`
    /// (as [`Self::get_integration`] reads it), in one round trip: a record PUT
    /// authenticates and reads what it checks the write against with it.
    async fn device_and_integration(
        &self,
        token_hash: &[u8],
        org_id: &str,
        integration_id: &str,
    ) -> DbResult<Option<(Device, User, Option<Integration>)>>;
    async fn list_devices(&self, org_id: &str, user_id: Option<&str>) -> DbResult<Vec<Device>>;
    /// Marks the device revoked. `NotFound` if absent.
    async fn revoke_device(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Device>;
    /// Records that the device was seen (rate-limited by the backend to one write a minute).
    async fn touch_device(&self, id: &str, now: Millis) -> DbResult<()>;

    /// Creates or replaces an integration's configuration. When it goes from
    /// enabled to disabled, its connection records are deleted in the same transaction.
    async fn put_integration(&self, integration: &Integration, journal: &Journal) -> DbResult<()> {
        self.put_integration_excluding(integration, journal, &[])
            .await
            .map(|_| ())
    }
    /// Saves an integration and, in the same transaction, revokes the records of it
    /// held by the users its allow-list leaves out: each user's journal is written
    /// only if that user had records. Returns how many records were revoked.
    async fn put_integration_excluding(
        &self,
        integration: &Integration,
        journal: &Journal,
        excluded: &[ExcludedUser],
    ) -> DbResult<u64>;
    async fn get_integration(&self, org_id: &str, id: &str) -> DbResult<Option<Integration>>;
    async fn list_integrations(&self, org_id: &str) -> DbResult<Vec<Integration>>;
    /// What `user_id` gave for the values their connections ask at connect, one entry
    /// per connection they answered.
    async fn connection_values(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<ConnectionValues>>;
    /// Saves one user's values for one connection (replacing what they gave before).
    async fn put_connection_values(
        &self,
        values: &ConnectionValues,
        journal: &Journal,
    ) -> DbResult<()>;
    /// Removes the configuration and every record of the integration. `NotFound` if absent.
    async fn delete_integration(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()>;

    /// The live record in `slot`, if any.
    async fn get_record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>>;
    /// The user's live records, optionally for one integration.
    async fn list_records(
        &self,
        user_id: &str,
        integration_id: Option<&str>,
    ) -> DbResult<Vec<ConnectionRecord>>;
    /// Compare-and-swap write. Versions grow monotonically per slot, across
    /// deletes too (a delete leaves a tombstone), so a stale `If-Match` can never
    /// succeed against a recreated record.
    async fn put_record(
        &self,
        slot: &SlotKey,
        envelope: &[u8],
        device_id: &str,
        precondition: Precondition,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<ConnectionRecord>;
    /// Compare-and-swap delete; returns the tombstone's version.
    async fn delete_record(
        &self,
        slot: &SlotKey,
        version: i64,
        device_id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<i64>;
    /// Deletes (tombstones) every live record of `user_id` for `integration_id`;
    /// returns how many. Used by an admin's "disconnect".
    async fn delete_user_records(
        &self,
        user_id: &str,
        integration_id: &str,
        reason: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<u64>;

    /// Whether the slot is a tombstone an admin left (an old push must not revive it).
    async fn admin_revoked(&self, slot: &SlotKey) -> DbResult<bool>;
    /// A fresh grant (the user pressed Connect again) may write an admin-emptied slot.
    async fn clear_admin_revocation(&self, slot: &SlotKey) -> DbResult<()>;
    /// Dates the grant in `slot` from `now` when its record is still at `version`: that
    /// version holds the tokens of a sign-in the user just made, so the grant (and the
    /// device a provider's approval limit would sign out first) is new, whatever age
    /// the slot has.
    async fn restart_grant(&self, slot: &SlotKey, version: i64, now: Millis) -> DbResult<()>;
    /// For a token whose device was revoked or removed: the (device id, user id) its
    /// orders were written for, if any. Such a token may fetch and answer those orders only.
    async fn device_by_order_token(
        &self,
        org_id: &str,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, String)>>;
    /// The orders `device_id` has not answered yet, oldest first.
    async fn pending_revocation_orders(&self, device_id: &str) -> DbResult<Vec<RevocationOrder>>;
    /// A user's orders with their receipts, newest first (at most 500).
    async fn revocation_orders_for_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<RevocationOrder>>;
    /// Records `device_id`'s receipt for an order; `false` when the order is not this
    /// device's or was already answered.
    async fn record_revocation_receipt(
        &self,
        device_id: &str,
        order_id: &str,
        receipt: &RevocationReceipt,
        journal: &Journal,
    ) -> DbResult<bool>;

    /// Stores a release and its artifact in one transaction. `AlreadyExists` when a live
    /// release has the same version, target, arch and channel. The artifact goes to the
    /// database, not to a disk of one replica, so every replica serves the same bytes;
    /// the price is that it is held in memory whole on upload and on download, which the
    /// server bounds with its largest accepted artifact.
    async fn create_release(
        &self,
        release: &Release,
        artifact: &[u8],
        journal: &Journal,
    ) -> DbResult<()>;
    /// Every release of the org, withdrawn ones too, newest first (never the bytes).
    async fn list_releases(&self, org_id: &str) -> DbResult<Vec<Release>>;
    async fn release_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<Release>>;
    /// The live (not withdrawn) releases for one platform on one channel, in no order:
    /// versions are compared as semver by the caller, which SQL cannot do.
    async fn offered_releases(
        &self,
        org_id: &str,
        target: &str,
        arch: &str,
        channel: &str,
    ) -> DbResult<Vec<Release>>;
    /// A live release's artifact (`None`: no such release, or withdrawn).
    async fn release_artifact(&self, org_id: &str, id: &str) -> DbResult<Option<Vec<u8>>>;
    /// Moves a live release to another channel. `NotFound` if absent or withdrawn,
    /// `AlreadyExists` if that channel has a live release of the same version and platform.
    async fn set_release_channel(
        &self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Release>;
    /// Withdraws a release (it is never offered or served again; its bytes are dropped).
    /// Withdrawing twice keeps the first time. `NotFound` if absent.
    async fn withdraw_release(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Release>;
    /// Puts a device on an update channel. `NotFound` if absent.
    async fn set_device_update_channel(
        &self,
        org_id: &str,
        id: &str,
        channel: &str,
        journal: &Journal,
    ) -> DbResult<Device>;
    /// Records what the device's app reported on an update check.
    async fn record_device_app(&self, id: &str, report: &AppReport) -> DbResult<()>;

    // ---- SCIM provisioning (docs/scim.md) ----

    /// Replaces a user's profile (email, names, external id, SCIM attributes) and, when
    /// `user.active` goes from true to false, does the leaver flow of [`Self::delete_user`]
    /// in the same transaction but keeps the row: orders for every connection to every
    /// device, records deleted, devices revoked, unused codes expired. `NotFound` if absent.
    async fn update_user(&self, user: &User, journal: &Journal) -> DbResult<User>;
    async fn create_scim_group(&self, group: &ScimGroup, journal: &Journal) -> DbResult<()>;
    /// Replaces a group's attributes and members and, in the same transaction, revokes
    /// the records of each `lost` user's integration as [`Self::put_integration_excluding`]
    /// does for its excluded users. `NotFound` if absent.
    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()>;
    /// The ids of the groups `user_id` is a member of, sorted.
    async fn groups_of_user(&self, org_id: &str, user_id: &str) -> DbResult<Vec<String>>;
    async fn scim_group_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<ScimGroup>>;
    /// Every group with its members, oldest first.
    async fn list_scim_groups(&self, org_id: &str) -> DbResult<Vec<ScimGroup>>;
    /// Deletes a group and, in the same transaction, revokes as [`Self::update_scim_group`]
    /// does for `lost`. `NotFound` if absent.
    async fn delete_scim_group(
        &self,
        org_id: &str,
        id: &str,
        journal: &Journal,
        lost: &[LostAccess],
    ) -> DbResult<()>;
    async fn insert_scim_token(&self, token: &ScimToken, journal: &Journal) -> DbResult<()>;
    /// The token with this hash, expired or revoked or not (the caller decides and audits).
    async fn scim_token_by_hash(&self, token_hash: &[u8]) -> DbResult<Option<ScimToken>>;
    /// Newest first, revoked ones included.
    async fn list_scim_tokens(&self, org_id: &str) -> DbResult<Vec<ScimToken>>;
    /// Marks a token revoked at `now`. `NotFound` if absent or already revoked.
    async fn revoke_scim_token(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<()>;
    /// Records that a token was used at `now`.
    async fn touch_scim_token(&self, id: &str, now: Millis) -> DbResult<()>;

    async fn append_audit(&self, event: &NewAudit) -> DbResult<()>;
    /// Newest first.
    async fn list_audit(&self, org_id: &str, query: &AuditQuery) -> DbResult<Vec<AuditEvent>>;
    /// Changes after `since` that concern `user_id` (theirs or everyone's), oldest first.
    async fn changes_since(
        &self,
        org_id: &str,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<Change>>;
    /// The newest change seq (0 when the log is empty).
    async fn latest_change_seq(&self, org_id: &str) -> DbResult<i64>;

    // ---- org connections (server-held tokens) ----
    async fn get_org_token(&self, org_id: &str, integration_id: &str)
    -> DbResult<Option<OrgToken>>;
    /// Stores a fresh authorization, replacing any earlier one (health reset).
    async fn put_org_token(&self, token: &OrgToken, journal: &Journal) -> DbResult<()>;
    /// Deletes the tokens and returns them, to revoke at the provider.
    async fn take_org_token(
        &self,
        org_id: &str,
        integration_id: &str,
        journal: &Journal,
    ) -> DbResult<Option<OrgToken>>;
    /// Records a use at `now` (to the minute).
    async fn touch_org_token(
        &self,
        org_id: &str,
        integration_id: &str,
        now: Millis,
    ) -> DbResult<()>;
    /// Runs `refresher` holding the row's lock (one refresh across callers and replicas),
    /// unless the row changed since `seen_version`; returns the row as it then is.
    async fn refresh_org_token(
        &self,
        org_id: &str,
        integration_id: &str,
        seen_version: i64,
        refresher: OrgRefresher,
    ) -> DbResult<Option<OrgToken>>;
}
