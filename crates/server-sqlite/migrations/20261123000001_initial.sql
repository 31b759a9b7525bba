-- latchkey-server schema, SQLite dialect. Times are Unix milliseconds.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE admin_credentials (
    id TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    kind TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    csrf_hash BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE enrollment_codes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE integrations (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    id TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    environment TEXT NOT NULL,
    client_id TEXT,
    client_secret_sealed BLOB,
    scopes TEXT NOT NULL,
    allowed_users TEXT,
    api_key_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- A deleted record stays as a tombstone (deleted, envelope NULL) so that its
-- slot's version keeps growing: a stale If-Match can never hit a recreated record.
CREATE TABLE connection_records (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    vault_key_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    envelope BLOB,
    deleted BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, vault_key_id, integration_id, environment)
);
CREATE INDEX connection_records_integration ON connection_records (integration_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL
);

-- The change feed. SQLite has one writer at a time, so seq order is commit order.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL,
    user_id TEXT,
    kind TEXT NOT NULL,
    integration_id TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX changes_org_seq ON changes (org_id, seq);
