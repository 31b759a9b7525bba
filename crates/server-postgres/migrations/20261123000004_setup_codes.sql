-- The one-time setup code printed at start while the org has no admin.
CREATE TABLE setup_codes (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id),
    code_hash BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
