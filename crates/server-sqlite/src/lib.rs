//! SQLite backend of `latchkey-server`: the default, one file in the data dir.
//!
//! SQLite allows one writer at a time, so every mutation goes through a
//! dedicated one-connection writer pool: writers queue in the pool instead of
//! failing with `SQLITE_BUSY`, and the change log's `AUTOINCREMENT` seq is
//! commit order. Reads use a separate pool and, in WAL mode, never block on writes.
//! `synchronous = FULL`: an acknowledged write survives a crash or power loss.
//!
//! Record writes (the hot path) use group commit on a thread of their own
//! ([`record_writer`]): each batch of queued PUTs is one transaction and one
//! fsync, and no caller is answered before it commits. That thread writes only
//! while holding the write pool's connection, so there is still one writer.
//!
//! Device-token and integration lookups, made on every device request, are
//! served from memory ([`hot_cache`]): one server process owns a SQLite file.

mod hot_cache;
mod record_writer;

use async_trait::async_trait;
use latchkey_server_database::{
    Admin, AdminCredential, AdminRole, AuditEvent, AuditQuery, Change, CodeProblem,
    ConnectionRecord, CredentialKind, Database, DbError, DbResult, Device, EnrollmentCode,
    EnrollmentCodeStatus, Integration, Journal, Millis, NewAudit, Orders, Org, Precondition,
    RESEAL_SQL, ResealedSecrets, RevocationOrder, RevocationReceipt, SlotKey, User, admin_sql,
    decode_list, decode_map, encode_list, encode_map, revocation_reason, revocation_sql,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::hot_cache::HotCache;
use crate::record_writer::PutJob;

type Tx<'a> = Transaction<'a, Sqlite>;

/// A SQLite-backed store.
pub struct SqliteDatabase {
    read: SqlitePool,
    write: SqlitePool,
    puts: mpsc::Sender<PutJob>,
    /// Only in the serving process (see [`SqliteDatabase::serve`]).
    hot: Option<HotCache>,
    /// Held while serving: the lock that keeps a second server off this file.
    /// Held while serving; released by [`Database::close`], not only when the last
    /// handle to the database drops (a finishing connection task may still hold one),
    /// so a server restarted right after a shutdown is not refused.
    serving: std::sync::Mutex<Option<std::fs::File>>,
}

impl SqliteDatabase {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> DbResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let puts = record_writer::start(options.get_filename(), is_in_memory(url), write.clone())?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(false))
            .await
            .map_err(backend)?;
        Ok(Self {
            read,
            write,
            puts,
            hot: None,
            serving: std::sync::Mutex::new(None),
        })
    }

    /// Opens the database for the one server process that serves it: takes
    /// an exclusive lock next to the file (a second server on the same file is
    /// refused, since a SQLite database has one serving process; replicas need
    /// PostgreSQL) and turns on the in-memory lookups of [`hot_cache`], which
    /// that ownership makes sound. One-shot commands (`admin`, `migrate`) use
    /// [`SqliteDatabase::connect`] and may run beside the server.
    pub async fn serve(url: &str) -> DbResult<Self> {
        let lock = serving_lock(url)?;
        let mut db = Self::connect(url).await?;
        db.hot = Some(HotCache::default());
        db.serving = std::sync::Mutex::new(lock);
        Ok(db)
    }

    /// One integration's configuration, from the database.
    async fn load_integration(&self, org_id: &str, id: &str) -> DbResult<Option<Integration>> {
        sqlx::query("SELECT * FROM integrations WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(integration_from)
            .transpose()
    }

    /// The device behind `token_hash`, with its user, from the database.
    async fn load_device_and_user(&self, token_hash: &[u8]) -> DbResult<Option<(Device, User)>> {
        let row = sqlx::query(
            "SELECT d.id, d.org_id, d.user_id, d.name, d.token_hash, d.created_at, d.last_seen_at, \
             d.revoked_at, u.email AS u_email, u.display_name AS u_display_name, \
             u.created_at AS u_created_at \
             FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        let Some(r) = row else { return Ok(None) };
        let device = device_from(&r)?;
        let user = User {
            id: device.user_id.clone(),
            org_id: device.org_id.clone(),
            email: r.try_get("u_email").map_err(backend)?,
            display_name: r.try_get("u_display_name").map_err(backend)?,
            created_at: r.try_get("u_created_at").map_err(backend)?,
        };
        Ok(Some((device, user)))
    }
}

/// The record writer's thread is gone (only a panic ends it early, and a
/// release build aborts on panic): no record write can be committed, so
/// `/readyz` fails too.
fn writer_stopped() -> DbError {
    DbError::Backend(
        "the SQLite record writer has stopped, so connection records cannot be saved; \
         restart latchkey-server (its log says why the writer stopped)"
            .into(),
    )
}

/// Whether `url` names an in-memory database (which sqlx renames `file:sqlx-in-memory-N`).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Locks `<database file>.serving.lock`; `None` for an in-memory database.
fn serving_lock(url: &str) -> DbResult<Option<std::fs::File>> {
    let options = SqliteConnectOptions::from_str(url).map_err(backend)?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || is_in_memory(url) {
        return Ok(None);
    }
    let mut path = file.as_os_str().to_owned();
    path.push(".serving.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DbError::Backend(format!("cannot open {}: {e}", path.to_string_lossy())))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbError::Backend(format!(
            "another latchkey-server is already serving {}. One server process serves a SQLite \
             database; stop the other one, or run several replicas on PostgreSQL \
             (LATCHKEY_DATABASE_URL=postgres://...)",
            file.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(DbError::Backend(format!(
            "cannot lock {}: {e}",
            path.to_string_lossy()
        ))),
    }
}

fn backend(e: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return DbError::AlreadyExists("a row with this key");
    }
    DbError::Backend(e.to_string())
}

fn unique(what: &'static str) -> impl Fn(sqlx::Error) -> DbError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => DbError::AlreadyExists(what),
        _ => DbError::Backend(e.to_string()),
    }
}

async fn write_journal(tx: &mut Tx<'_>, journal: &Journal) -> DbResult<()> {
    insert_audit(&mut **tx, &journal.audit).await?;
    for c in &journal.changes {
        sqlx::query(
            "INSERT INTO changes (org_id, user_id, kind, integration_id, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.org_id)
        .bind(&c.user_id)
        .bind(&c.kind)
        .bind(&c.integration_id)
        .bind(c.at)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn insert_audit<'e, E>(exec: E, a: &NewAudit) -> DbResult<()>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query(
        "INSERT INTO audit_events (org_id, at, actor_kind, actor_id, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.org_id)
    .bind(a.at)
    .bind(&a.actor_kind)
    .bind(&a.actor_id)
    .bind(&a.action)
    .bind(&a.target)
    .bind(&a.detail)
    .execute(exec)
    .await
    .map_err(backend)?;
    Ok(())
}

fn admin_from(r: &SqliteRow) -> DbResult<Admin> {
    Ok(Admin {
        id: r.try_get("id").map_err(backend)?,
        org_id: r.try_get("org_id").map_err(backend)?,
        email: r.try_get("email").map_err(backend)?,
        password_hash: r.try_get("password_hash").map_err(backend)?,
        role: AdminRole::parse(&r.try_get::<String, _>("role").map_err(backend)?)?,
        created_at: r.try_get("created_at").map_err(backend)?,
    })
}

fn user_from(r: &SqliteRow) -> DbResult<User> {
    Ok(User {
        id: r.try_get("id").map_err(backend)?,
        org_id: r.try_get("org_id").map_err(backend)?,
        email: r.try_get("email").map_err(backend)?,
        display_name: r.try_get("display_name").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
    })
}

fn device_from(r: &SqliteRow) -> DbResult<Device> {
    Ok(Device {
        id: r.try_get("id").map_err(backend)?,
        org_id: r.try_get("org_id").map_err(backend)?,
        user_id: r.try_get("user_id").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        token_hash: r.try_get("token_hash").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        last_seen_at: r.try_get("last_seen_at").map_err(backend)?,
        revoked_at: r.try_get("revoked_at").map_err(backend)?,
    })
}

fn integration_from(r: &SqliteRow) -> DbResult<Integration> {
    let scopes: String = r.try_get("scopes").map_err(backend)?;
    let params: String = r.try_get("params").map_err(backend)?;
    let allowed: Option<String> = r.try_get("allowed_users").map_err(backend)?;
    let api_paths: String = r.try_get("api_paths").map_err(backend)?;
    Ok(Integration {
        org_id: r.try_get("org_id").map_err(backend)?,
        id: r.try_get("id").map_err(backend)?,
        enabled: r.try_get("enabled").map_err(backend)?,
        environment: r.try_get("environment").map_err(backend)?,
        client_id: r.try_get("client_id").map_err(backend)?,
        client_secret_sealed: r.try_get("client_secret_sealed").map_err(backend)?,
        scopes: decode_list(&scopes)?,
        params: decode_map(&params)?,
        allowed_users: allowed.as_deref().map(decode_list).transpose()?,
        api_key_sealed: r.try_get("api_key_sealed").map_err(backend)?,
        api_base_url: r.try_get("api_base_url").map_err(backend)?,
        api_paths: decode_list(&api_paths)?,
        api_key_header: r.try_get("api_key_header").map_err(backend)?,
        redirect_host: r.try_get("redirect_host").map_err(backend)?,
        default_widgets: r
            .try_get::<Option<String>, _>("default_widgets")
            .map_err(backend)?
            .as_deref()
            .map(decode_list)
            .transpose()?,
        created_at: r.try_get("created_at").map_err(backend)?,
        updated_at: r.try_get("updated_at").map_err(backend)?,
    })
}

fn record_from(r: &SqliteRow) -> DbResult<ConnectionRecord> {
    let envelope: Option<Vec<u8>> = r.try_get("envelope").map_err(backend)?;
    Ok(ConnectionRecord {
        slot: SlotKey {
            user_id: r.try_get("user_id").map_err(backend)?,
            vault_key_id: r.try_get("vault_key_id").map_err(backend)?,
            integration_id: r.try_get("integration_id").map_err(backend)?,
            environment: r.try_get("environment").map_err(backend)?,
        },
        envelope: envelope
            .ok_or_else(|| DbError::Corrupt("live record without envelope".into()))?,
        version: r.try_get("version").map_err(backend)?,
        device_id: r.try_get("device_id").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        updated_at: r.try_get("updated_at").map_err(backend)?,
    })
}

fn credential_from(r: &SqliteRow) -> DbResult<AdminCredential> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(AdminCredential {
        id: r.try_get("id").map_err(backend)?,
        admin_id: r.try_get("admin_id").map_err(backend)?,
        org_id: r.try_get("org_id").map_err(backend)?,
        kind: CredentialKind::parse(&kind)?,
        token_hash: r.try_get("token_hash").map_err(backend)?,
        csrf_hash: r.try_get("csrf_hash").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        last_used_at: r.try_get("last_used_at").map_err(backend)?,
    })
}

/// The live version in a slot, `None` when empty or a tombstone.
async fn live_version(tx: &mut Tx<'_>, slot: &SlotKey) -> DbResult<Option<i64>> {
    let row = sqlx::query(
        "SELECT version FROM connection_records WHERE user_id = $1 AND vault_key_id = $2 \
         AND integration_id = $3 AND environment = $4 AND deleted = FALSE",
    )
    .bind(&slot.user_id)
    .bind(&slot.vault_key_id)
    .bind(&slot.integration_id)
    .bind(&slot.environment)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    row.map(|r| r.try_get::<i64, _>("version").map_err(backend))
        .transpose()
}

const RECORD_COLUMNS: &str = "user_id, vault_key_id, integration_id, environment, envelope, version, device_id, created_at, updated_at";

#[async_trait]
impl Database for SqliteDatabase {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> DbResult<()> {
        sqlx::migrate!("./migrations")
            .run(&self.write)
            .await
            .map_err(|e| DbError::Backend(format!("migration failed: {e}")))
    }

    async fn ping(&self) -> DbResult<()> {
        if self.puts.is_closed() {
            return Err(writer_stopped());
        }
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
        // The file is closed for good: another server may serve it now.
        drop(
            self.serving
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }

    async fn ensure_org(&self, new_id: &str, name: &str, now: Millis) -> DbResult<Org> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        // Write first (the insert is a no-op once an org exists), so the
        // transaction holds the write lock before it reads.
        sqlx::query(
            "INSERT INTO orgs (id, name, created_at) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM orgs)",
        )
        .bind(new_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let r =
            sqlx::query("SELECT id, name, created_at FROM orgs ORDER BY created_at, id LIMIT 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let org = Org {
            id: r.try_get("id").map_err(backend)?,
            name: r.try_get("name").map_err(backend)?,
            created_at: r.try_get("created_at").map_err(backend)?,
        };
        tx.commit().await.map_err(backend)?;
        Ok(org)
    }

    async fn create_admin(&self, admin: &Admin, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        sqlx::query(admin_sql::INSERT_ADMIN)
            .bind(&admin.id)
            .bind(&admin.org_id)
            .bind(&admin.email)
            .bind(&admin.password_hash)
            .bind(admin.role.as_str())
            .bind(admin.created_at)
            .execute(&mut *tx)
            .await
            .map_err(unique("an admin with this email"))?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn admin_by_email(&self, org_id: &str, email: &str) -> DbResult<Option<Admin>> {
        sqlx::query("SELECT * FROM admins WHERE org_id = $1 AND email = $2")
            .bind(org_id)
            .bind(email)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(admin_from)
            .transpose()
    }

    async fn admin_by_id(&self, id: &str) -> DbResult<Option<Admin>> {
        sqlx::query("SELECT * FROM admins WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(admin_from)
            .transpose()
    }

    async fn count_admins(&self, org_id: &str) -> DbResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admins WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        row.try_get("n").map_err(backend)
    }

    async fn put_setup_code(
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
        .execute(&self.write)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn create_first_admin(
        &self,
        code_hash: &[u8],
        now: Millis,
        admin: &Admin,
        journal: &Journal,
    ) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let used = sqlx::query(
            "DELETE FROM setup_codes WHERE org_id = $1 AND code_hash = $2 AND expires_at > $3",
        )
        .bind(&admin.org_id)
        .bind(code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if used.rows_affected() == 0 {
            return Err(DbError::Code(CodeProblem::Unknown));
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admins WHERE org_id = $1")
            .bind(&admin.org_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if row.try_get::<i64, _>("n").map_err(backend)? > 0 {
            return Err(DbError::AlreadyExists("an admin"));
        }
        sqlx::query(admin_sql::INSERT_ADMIN)
            .bind(&admin.id)
            .bind(&admin.org_id)
            .bind(&admin.email)
            .bind(&admin.password_hash)
            .bind(admin.role.as_str())
            .bind(admin.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_admin_credential(&self, c: &AdminCredential) -> DbResult<()> {
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
            .execute(&self.write)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn admin_credential_by_hash(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> DbResult<Option<AdminCredential>> {
        sqlx::query(
            "SELECT * FROM admin_credentials WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?
        .as_ref()
        .map(credential_from)
        .transpose()
    }

    async fn delete_admin_credential(&self, id: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM admin_credentials WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_admins(&self, org_id: &str) -> DbResult<Vec<Admin>> {
        sqlx::query(admin_sql::LIST_ADMINS)
            .bind(org_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?
            .iter()
            .map(admin_from)
            .collect()
    }

    async fn delete_admin(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        sqlx::query(admin_sql::DELETE_CREDENTIALS)
            .bind(id)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query(admin_sql::DELETE_ADMIN)
            .bind(id)
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn set_admin_password(
        &self,
        org_id: &str,
        admin_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        journal: &Journal,
    ) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let done = sqlx::query(admin_sql::SET_PASSWORD)
            .bind(password_hash)
            .bind(admin_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        sqlx::query(admin_sql::DELETE_CREDENTIALS)
            .bind(admin_id)
            .bind(keep)
            .bind(CredentialKind::Session.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn list_admin_tokens(
        &self,
        org_id: &str,
        admin_id: Option<&str>,
    ) -> DbResult<Vec<AdminCredential>> {
        sqlx::query(admin_sql::LIST_API_TOKENS)
            .bind(org_id)
            .bind(admin_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?
            .iter()
            .map(credential_from)
            .collect()
    }

    async fn admin_credential_by_id(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<AdminCredential>> {
        sqlx::query(admin_sql::CREDENTIAL_BY_ID)
            .bind(org_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(credential_from)
            .transpose()
    }

    async fn touch_admin_credential(&self, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query(admin_sql::TOUCH_CREDENTIAL)
            .bind(now)
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_admin_credential(&self, id: &str, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let done = sqlx::query("DELETE FROM admin_credentials WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(&journal.audit.org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn reseal_secrets(
        &self,
        org_id: &str,
        resealed: &[ResealedSecrets],
        journal: &Journal,
    ) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        for r in resealed {
            sqlx::query(RESEAL_SQL)
                .bind(&r.client_secret_sealed)
                .bind(&r.api_key_sealed)
                .bind(org_id)
                .bind(&r.integration_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.invalidate_integrations();
        }
        Ok(())
    }

    async fn list_enrollment_codes(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<EnrollmentCodeStatus>> {
        sqlx::query(admin_sql::ENROLLMENT_CODES)
            .bind(org_id)
            .bind(user_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(EnrollmentCodeStatus {
                    id: r.try_get("id").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                    expires_at: r.try_get("expires_at").map_err(backend)?,
                    used_at: r.try_get("used_at").map_err(backend)?,
                    device_id: r.try_get("device_id").map_err(backend)?,
                    device_name: r.try_get("device_name").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn create_user(&self, user: &User, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO users (id, org_id, email, display_name, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.org_id)
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(unique("a user with this email"))?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)
    }

    async fn user_by_id(&self, org_id: &str, id: &str) -> DbResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn list_users(&self, org_id: &str) -> DbResult<Vec<User>> {
        sqlx::query("SELECT * FROM users WHERE org_id = $1 ORDER BY created_at, id")
            .bind(org_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn delete_user(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        // A leaver: every device gets an order for every connection before both go.
        let at = journal.audit.at;
        let orders = Orders::new(org_id, revocation_reason::USER_REMOVED, at).user(id);
        insert_orders(&mut tx, &orders).await?;
        for sql in [
            "DELETE FROM connection_records WHERE user_id = $1 AND user_id IN (SELECT id FROM users WHERE org_id = $2)",
            "DELETE FROM devices WHERE user_id = $1 AND org_id = $2",
            "DELETE FROM enrollment_codes WHERE user_id = $1 AND org_id = $2",
        ] {
            sqlx::query(sql)
                .bind(id)
                .bind(org_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.invalidate_devices();
        }
        Ok(())
    }

    async fn insert_enrollment_code(&self, c: &EnrollmentCode) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        // A new code replaces the user's older unused ones: only the latest link works.
        sqlx::query(
            "UPDATE enrollment_codes SET expires_at = $2 WHERE user_id = $1 AND org_id = $3 \
             AND used_at IS NULL AND expires_at > $2",
        )
        .bind(&c.user_id)
        .bind(c.created_at)
        .bind(&c.org_id)
        .execute(&mut *tx)
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
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        now: Millis,
        device: &Device,
        journal: &Journal,
    ) -> DbResult<(Device, User)> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let claimed = sqlx::query(
            "UPDATE enrollment_codes SET used_at = $1, device_id = $3 \
             WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id, org_id",
        )
        .bind(now)
        .bind(code_hash)
        .bind(&device.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(claimed) = claimed else {
            let row = sqlx::query("SELECT used_at FROM enrollment_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let problem = match row {
                None => CodeProblem::Unknown,
                Some(r) => match r.try_get::<Option<i64>, _>("used_at").map_err(backend)? {
                    Some(_) => CodeProblem::AlreadyUsed,
                    None => CodeProblem::Expired,
                },
            };
            return Err(DbError::Code(problem));
        };
        let mut device = device.clone();
        device.user_id = claimed.try_get("user_id").map_err(backend)?;
        device.org_id = claimed.try_get("org_id").map_err(backend)?;
        sqlx::query(
            "INSERT INTO devices (id, org_id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&device.id)
        .bind(&device.org_id)
        .bind(&device.user_id)
        .bind(&device.name)
        .bind(&device.token_hash)
        .bind(device.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let user = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(&device.user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let user = user_from(&user)?;
        let mut journal = journal.clone();
        journal.audit.actor_id = Some(device.id.clone());
        journal.audit.target = Some(user.id.clone());
        write_journal(&mut tx, &journal).await?;
        tx.commit().await.map_err(backend)?;
        // A lookup of this new token before it existed may have been cached as absent.
        if let Some(hot) = &self.hot {
            hot.invalidate_devices();
        }
        Ok((device, user))
    }

    async fn device_by_token_hash(&self, token_hash: &[u8]) -> DbResult<Option<Device>> {
        Ok(self
            .device_and_user_by_token_hash(token_hash)
            .await?
            .map(|(device, _)| device))
    }

    async fn device_and_user_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(Device, User)>> {
        let Some(hot) = &self.hot else {
            return self.load_device_and_user(token_hash).await;
        };
        let seen = match hot.device(token_hash) {
            Ok(found) => return Ok(found),
            Err(generation) => generation,
        };
        let found = self.load_device_and_user(token_hash).await?;
        hot.store_device(seen, token_hash, found.clone());
        Ok(found)
    }

    async fn list_devices(&self, org_id: &str, user_id: Option<&str>) -> DbResult<Vec<Device>> {
        sqlx::query(
            "SELECT * FROM devices WHERE org_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?
        .iter()
        .map(device_from)
        .collect()
    }

    async fn revoke_device(
        &self,
        org_id: &str,
        id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<Device> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        // Orders first (only while the device is still live): it wipes its copies.
        let orders = Orders::new(org_id, revocation_reason::DEVICE_REVOKED, now).device(id);
        insert_orders(&mut tx, &orders).await?;
        let row = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND org_id = $3 RETURNING *",
        )
        .bind(now)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .ok_or(DbError::NotFound)?;
        let device = device_from(&row)?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.invalidate_devices();
        }
        Ok(device)
    }

    async fn touch_device(&self, id: &str, now: Millis) -> DbResult<()> {
        sqlx::query(
            "UPDATE devices SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60_000)
        .execute(&self.write)
        .await
        .map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.touched_device(id, now);
        }
        Ok(())
    }

    async fn put_integration(&self, i: &Integration, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO integrations (org_id, id, enabled, environment, client_id, client_secret_sealed, \
             scopes, allowed_users, api_key_sealed, created_at, updated_at, api_base_url, api_paths, api_key_header, params, redirect_host, default_widgets) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (org_id, id) DO UPDATE SET enabled = excluded.enabled, environment = excluded.environment, \
             client_id = excluded.client_id, client_secret_sealed = excluded.client_secret_sealed, \
             scopes = excluded.scopes, allowed_users = excluded.allowed_users, \
             api_key_sealed = excluded.api_key_sealed, updated_at = excluded.updated_at, \
             api_base_url = excluded.api_base_url, api_paths = excluded.api_paths, \
             api_key_header = excluded.api_key_header, params = excluded.params, \
             redirect_host = excluded.redirect_host, default_widgets = excluded.default_widgets",
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
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if !i.enabled {
            tombstone_integration(
                &mut tx,
                &i.org_id,
                &i.id,
                None,
                revocation_reason::INTEGRATION_DISABLED,
                i.updated_at,
            )
            .await?;
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.invalidate_integrations();
        }
        Ok(())
    }

    async fn get_integration(&self, org_id: &str, id: &str) -> DbResult<Option<Integration>> {
        let Some(hot) = &self.hot else {
            return self.load_integration(org_id, id).await;
        };
        let seen = match hot.integration(org_id, id) {
            Ok(found) => return Ok(found),
            Err(generation) => generation,
        };
        let found = self.load_integration(org_id, id).await?;
        hot.store_integration(seen, org_id, id, found.clone());
        Ok(found)
    }

    async fn list_integrations(&self, org_id: &str) -> DbResult<Vec<Integration>> {
        sqlx::query("SELECT * FROM integrations WHERE org_id = $1 ORDER BY id")
            .bind(org_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?
            .iter()
            .map(integration_from)
            .collect()
    }

    async fn delete_integration(&self, org_id: &str, id: &str, journal: &Journal) -> DbResult<()> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let done = sqlx::query("DELETE FROM integrations WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        tombstone_integration(
            &mut tx,
            org_id,
            id,
            None,
            revocation_reason::INTEGRATION_REMOVED,
            journal.audit.at,
        )
        .await?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        if let Some(hot) = &self.hot {
            hot.invalidate_integrations();
        }
        Ok(())
    }

    async fn get_record(&self, slot: &SlotKey) -> DbResult<Option<ConnectionRecord>> {
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM connection_records WHERE user_id = $1 AND vault_key_id = $2 \
             AND integration_id = $3 AND environment = $4 AND deleted = FALSE"
        ))
        .bind(&slot.user_id)
        .bind(&slot.vault_key_id)
        .bind(&slot.integration_id)
        .bind(&slot.environment)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?
        .as_ref()
        .map(record_from)
        .transpose()
    }

    async fn list_records(
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
        .fetch_all(&self.read)
        .await
        .map_err(backend)?
        .iter()
        .map(record_from)
        .collect()
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
        let (reply, outcome) = oneshot::channel();
        let job = PutJob {
            slot: slot.clone(),
            envelope: envelope.to_vec(),
            device_id: device_id.to_owned(),
            precondition,
            now,
            journal: journal.clone(),
            reply,
        };
        self.puts.send(job).await.map_err(|_| writer_stopped())?;
        outcome.await.map_err(|_| writer_stopped())?
    }

    async fn delete_record(
        &self,
        slot: &SlotKey,
        version: i64,
        device_id: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<i64> {
        let mut tx = self.write.begin().await.map_err(backend)?;
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
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            let current = live_version(&mut tx, slot).await?;
            return Err(match current {
                None => DbError::NotFound,
                Some(_) => DbError::VersionMismatch { current },
            });
        };
        let tombstone: i64 = row.try_get("version").map_err(backend)?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        Ok(tombstone)
    }

    async fn delete_user_records(
        &self,
        user_id: &str,
        integration_id: &str,
        reason: &str,
        now: Millis,
        journal: &Journal,
    ) -> DbResult<u64> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let n = tombstone_integration(
            &mut tx,
            &journal.audit.org_id,
            integration_id,
            Some(user_id),
            reason,
            now,
        )
        .await?;
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn admin_revoked(&self, slot: &SlotKey) -> DbResult<bool> {
        let row = sqlx::query(revocation_sql::ADMIN_REVOKED)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        match row {
            Some(r) => r.try_get("revoked_by_admin").map_err(backend),
            None => Ok(false),
        }
    }

    async fn clear_admin_revocation(&self, slot: &SlotKey) -> DbResult<()> {
        sqlx::query(revocation_sql::CLEAR_ADMIN_REVOKED)
            .bind(&slot.user_id)
            .bind(&slot.vault_key_id)
            .bind(&slot.integration_id)
            .bind(&slot.environment)
            .execute(&self.write)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn device_by_order_token(
        &self,
        org_id: &str,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, String)>> {
        let row = sqlx::query(revocation_sql::DEVICE_BY_ORDER_TOKEN)
            .bind(token_hash)
            .bind(org_id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(Some((
                r.try_get("device_id").map_err(backend)?,
                r.try_get("user_id").map_err(backend)?,
            ))),
            None => Ok(None),
        }
    }

    async fn pending_revocation_orders(&self, device_id: &str) -> DbResult<Vec<RevocationOrder>> {
        let sql = revocation_sql::FOR_DEVICE.replace("{columns}", revocation_sql::COLUMNS);
        let rows = sqlx::query(&sql)
            .bind(device_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter().map(order_from).collect()
    }

    async fn revocation_orders_for_user(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<RevocationOrder>> {
        let sql = revocation_sql::FOR_USER.replace("{columns}", revocation_sql::COLUMNS);
        let rows = sqlx::query(&sql)
            .bind(org_id)
            .bind(user_id)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter().map(order_from).collect()
    }

    async fn record_revocation_receipt(
        &self,
        device_id: &str,
        order_id: &str,
        receipt: &RevocationReceipt,
        journal: &Journal,
    ) -> DbResult<bool> {
        let mut tx = self.write.begin().await.map_err(backend)?;
        let done = sqlx::query(revocation_sql::RECEIPT)
            .bind(receipt.at)
            .bind(&receipt.provider_outcome)
            .bind(&receipt.provider_detail)
            .bind(receipt.local_wiped)
            .bind(order_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_journal(&mut tx, journal).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn append_audit(&self, event: &NewAudit) -> DbResult<()> {
        insert_audit(&self.write, event).await
    }

    async fn list_audit(&self, org_id: &str, query: &AuditQuery) -> DbResult<Vec<AuditEvent>> {
        let (subject_like, integration_like) = query.detail_patterns();
        let rows = sqlx::query(AuditQuery::SQL)
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
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id").map_err(backend)?,
                    org_id: r.try_get("org_id").map_err(backend)?,
                    at: r.try_get("at").map_err(backend)?,
                    actor_kind: r.try_get("actor_kind").map_err(backend)?,
                    actor_id: r.try_get("actor_id").map_err(backend)?,
                    action: r.try_get("action").map_err(backend)?,
                    target: r.try_get("target").map_err(backend)?,
                    detail: r.try_get("detail").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn changes_since(
        &self,
        org_id: &str,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT * FROM changes WHERE org_id = $1 AND seq > $2 AND (user_id IS NULL OR user_id = $3) \
             ORDER BY seq LIMIT $4",
        )
        .bind(org_id)
        .bind(since)
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    seq: r.try_get("seq").map_err(backend)?,
                    org_id: r.try_get("org_id").map_err(backend)?,
                    user_id: r.try_get("user_id").map_err(backend)?,
                    kind: r.try_get("kind").map_err(backend)?,
                    integration_id: r.try_get("integration_id").map_err(backend)?,
                    at: r.try_get("at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn latest_change_seq(&self, org_id: &str) -> DbResult<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        row.try_get("seq").map_err(backend)
    }
}

/// Tombstones the live records of an integration (of one user, or of the whole org).
async fn tombstone_integration(
    tx: &mut Tx<'_>,
    org_id: &str,
    integration_id: &str,
    user_id: Option<&str>,
    reason: &str,
    now: Millis,
) -> DbResult<u64> {
    // Every device of each affected user gets an order, in the same transaction.
    let mut orders = Orders::new(org_id, reason, now).integration(integration_id);
    if let Some(user) = user_id {
        orders = orders.user(user);
    }
    insert_orders(tx, &orders).await?;
    let done = sqlx::query(
        "UPDATE connection_records SET envelope = NULL, deleted = TRUE, version = version + 1, \
         device_id = '', updated_at = $1, revoked_by_admin = TRUE WHERE integration_id = $2 AND deleted = FALSE \
         AND ($3 IS NULL OR user_id = $3) AND user_id IN (SELECT id FROM users WHERE org_id = $4)",
    )
    .bind(now)
    .bind(integration_id)
    .bind(user_id)
    .bind(org_id)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}

fn order_from(r: &SqliteRow) -> DbResult<RevocationOrder> {
    let receipt_at: Option<Millis> = r.try_get("receipt_at").map_err(backend)?;
    let receipt = match receipt_at {
        Some(at) => Some(RevocationReceipt {
            at,
            provider_outcome: r
                .try_get::<Option<String>, _>("provider_outcome")
                .map_err(backend)?
                .unwrap_or_default(),
            provider_detail: r
                .try_get::<Option<String>, _>("provider_detail")
                .map_err(backend)?
                .unwrap_or_default(),
            local_wiped: r
                .try_get::<Option<bool>, _>("local_wiped")
                .map_err(backend)?
                .unwrap_or(false),
        }),
        None => None,
    };
    Ok(RevocationOrder {
        id: r.try_get("id").map_err(backend)?,
        user_id: r.try_get("user_id").map_err(backend)?,
        device_id: r.try_get("device_id").map_err(backend)?,
        integration_id: r.try_get("integration_id").map_err(backend)?,
        environment: r.try_get("environment").map_err(backend)?,
        reason: r.try_get("reason").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
        receipt,
    })
}

/// Writes revocation orders (see [`revocation_sql::INSERT_ORDERS`]).
async fn insert_orders(tx: &mut Tx<'_>, o: &Orders<'_>) -> DbResult<()> {
    let sql = revocation_sql::INSERT_ORDERS.replace("{id}", "lower(hex(randomblob(16)))");
    sqlx::query(&sql)
        .bind(o.now)
        .bind(o.org_id)
        .bind(o.reason)
        .bind(o.integration_id)
        .bind(o.user_id)
        .bind(o.device_id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}
