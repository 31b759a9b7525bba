-- Org connections (server-to-server): an integration the admin authorizes once in the
-- console, whose tokens the server keeps and uses through its proxy for every permitted
-- user. require_customize_application: "Test connection" also demands Salesforce's
-- "Customize Application" permission of the authorizing user.
ALTER TABLE integrations ADD COLUMN org_wide BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE integrations ADD COLUMN require_customize_application BOOLEAN NOT NULL DEFAULT FALSE;

-- The tokens of an org connection, sealed with the server key (never in plaintext, never
-- returned by any API). One row per integration; version grows with each write, so a
-- refresh under the row lock can tell whether another replica refreshed first.
-- needs_reauth: why the admin must authorize again (NULL: healthy).
CREATE TABLE org_tokens (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    integration_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    access_sealed BLOB NOT NULL,
    refresh_sealed BLOB,
    instance_url TEXT,
    expires_at INTEGER,
    authorized_by TEXT NOT NULL,
    authorized_at INTEGER NOT NULL,
    last_used_at INTEGER,
    refreshed_at INTEGER,
    needs_reauth TEXT,
    version INTEGER NOT NULL,
    PRIMARY KEY (org_id, integration_id)
);
