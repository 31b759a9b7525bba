-- SCIM 2.0 provisioning (docs/scim.md). A user provisioned by the identity provider keeps
-- the IdP's id (external_id) and its SCIM attributes as JSON (scim_profile: what the IdP
-- sent, returned as sent); a deactivated user (active = FALSE) keeps its row so the IdP can
-- read it back, but has no devices, connections or codes left and cannot enroll.
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN provisioned_by TEXT;
ALTER TABLE users ADD COLUMN scim_profile TEXT;
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE users SET updated_at = created_at;

-- Groups pushed by the identity provider, and who is in them.
CREATE TABLE scim_groups (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    display_name TEXT NOT NULL,
    external_id TEXT,
    scim_profile TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX scim_groups_org ON scim_groups (org_id, display_name);
CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user ON scim_group_members (user_id);

-- Bearer tokens the identity provider calls /scim/v2 with: only SHA-256 hashes, an
-- expiry, and revoked rows kept (revoked_at) so a later use is audited as such.
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);
