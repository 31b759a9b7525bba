-- Signed app updates (issue 16). A release is one signed artifact of the desktop app for
-- one (target, arch) on one update channel; devices are offered the newest release on
-- their channel. The artifact bytes live in their own table so that listing releases
-- never reads them, and so that withdrawing a release can drop them; they are kept in
-- the database (not the data dir) so every replica serves the same bytes.
CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    version TEXT NOT NULL,
    target TEXT NOT NULL,
    arch TEXT NOT NULL,
    channel TEXT NOT NULL,
    notes TEXT NOT NULL,
    signature TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    withdrawn_at BIGINT
);
-- One live release per version, platform and channel; a withdrawn one may be uploaded again.
CREATE UNIQUE INDEX releases_live ON releases (org_id, version, target, arch, channel)
    WHERE withdrawn_at IS NULL;
CREATE INDEX releases_offer ON releases (org_id, target, arch, channel);
CREATE TABLE release_artifacts (
    release_id TEXT PRIMARY KEY REFERENCES releases(id) ON DELETE CASCADE,
    bytes BYTEA NOT NULL
);
-- What each device's app last reported when it asked for an update, and the channel
-- its admin put it on.
ALTER TABLE devices ADD COLUMN update_channel TEXT NOT NULL DEFAULT 'stable';
ALTER TABLE devices ADD COLUMN app_version TEXT;
ALTER TABLE devices ADD COLUMN app_target TEXT;
ALTER TABLE devices ADD COLUMN app_arch TEXT;
ALTER TABLE devices ADD COLUMN app_version_seen_at BIGINT;
