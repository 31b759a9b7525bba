//! What every mutation records beside itself, in its own transaction: the audit
//! event and the change-feed entries devices follow, and how they are read back.

use crate::Millis;

/// An audit event to append. `detail` is a JSON object that never holds secret material.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub org_id: String,
    pub at: Millis,
    /// `admin`, `device`, `scim` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
}

/// A stored audit event.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub org_id: String,
    pub at: Millis,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
}

/// Which audit events to list, newest first; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// At most this many events.
    pub limit: i64,
    /// Only events older than this id: the cursor of the next page.
    pub before_id: Option<i64>,
    /// Only this action (`integration.put`).
    pub action: Option<String>,
    /// Only events where this id is the actor or the target, or the detail's `user_id`.
    pub subject: Option<String>,
    /// Only events about this integration: the target of `integration.*` events, or the
    /// detail's `integration_id`.
    pub integration: Option<String>,
    /// Only events at or after this time.
    pub since: Option<Millis>,
    /// Only events at or before this time.
    pub until: Option<Millis>,
}

impl AuditQuery {
    /// The one SQL statement both backends run (`$N` placeholders, LIKE over the
    /// compact JSON detail), binds in the order of `AuditQuery::binds`.
    pub const SQL: &'static str = "SELECT * FROM audit_events WHERE org_id = $1 \
        AND ($2 IS NULL OR id < $2) \
        AND ($3 IS NULL OR action = $3) \
        AND ($4 IS NULL OR actor_id = $4 OR target = $4 OR detail LIKE $5) \
        AND ($6 IS NULL OR (target = $6 AND action LIKE 'integration.%') OR detail LIKE $7) \
        AND ($8 IS NULL OR at >= $8) \
        AND ($9 IS NULL OR at <= $9) \
        ORDER BY id DESC LIMIT $10";

    /// The LIKE patterns for `$5` and `$7`: the detail is compact JSON
    /// (`{"user_id":"…"}`); ids hold no LIKE wildcards once validated.
    pub fn detail_patterns(&self) -> (Option<String>, Option<String>) {
        (
            self.subject
                .as_ref()
                .map(|s| format!("%\"user_id\":\"{s}\"%")),
            self.integration
                .as_ref()
                .map(|i| format!("%\"integration_id\":\"{i}\"%")),
        )
    }
}

/// A change-feed entry to append: what changed, for whom (`None`: every user).
#[derive(Debug, Clone)]
pub struct NewChange {
    pub org_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub integration_id: Option<String>,
    pub at: Millis,
}

/// A stored change-feed entry. A feed is only ever served entries above every
/// `seq` it has already seen (see `SqlBackend::SETTLED_CHANGES_SQL`), which is
/// what lets a poller on any replica resume from the last seq it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub org_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub integration_id: Option<String>,
    pub at: Millis,
}

/// A user an integration's allow-list leaves out, and what is journalled if
/// that user loses records by it.
#[derive(Debug, Clone)]
pub struct ExcludedUser {
    pub user_id: String,
    pub journal: Journal,
}

/// A user a SCIM group change takes an integration away from (it names the group in
/// `allowed_groups`); revoked like an [`ExcludedUser`], in the group change's transaction.
#[derive(Debug, Clone)]
pub struct LostAccess {
    pub integration_id: String,
    pub user: ExcludedUser,
}

/// What a mutation records beside itself, in the same transaction.
#[derive(Debug, Clone)]
pub struct Journal {
    pub audit: NewAudit,
    pub changes: Vec<NewChange>,
}
