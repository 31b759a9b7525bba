-- latchkey-server schema, PostgreSQL dialect. Times are Unix milliseconds.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE admin_credentials (
    id TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    kind TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    csrf_hash BYTEA,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE enrollment_codes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE integrations (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    id TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    environment TEXT NOT NULL,
    client_id TEXT,
    client_secret_sealed BYTEA,
    scopes TEXT NOT NULL,
    allowed_users TEXT,
    api_key_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- A deleted record stays as a tombstone (deleted, envelope NULL) so that its
-- slot's version keeps growing: a stale If-Match can never hit a recreated record.
CREATE TABLE connection_records (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    vault_key_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    envelope BYTEA,
    deleted BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, vault_key_id, integration_id, environment)
);
CREATE INDEX connection_records_integration ON connection_records (integration_id);

CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL
);

-- The change feed. Appends take a transaction-scoped advisory lock, so seq order is commit order.
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT,
    kind TEXT NOT NULL,
    integration_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX changes_org_seq ON changes (org_id, seq);
