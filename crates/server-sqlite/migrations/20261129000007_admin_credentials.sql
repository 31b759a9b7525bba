-- Admin credentials that can be told apart and taken back: API tokens get a name and a
-- last-used time; admins get a role (the first admin of an org is its owner, who may
-- list and revoke everyone's tokens and remove admins); an enrollment code remembers the
-- device that redeemed it, for the console.
ALTER TABLE admin_credentials ADD COLUMN name TEXT;
ALTER TABLE admin_credentials ADD COLUMN last_used_at INTEGER;
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
UPDATE admins SET role = 'owner'
 WHERE id IN (SELECT a.id FROM admins a
              WHERE NOT EXISTS (SELECT 1 FROM admins b WHERE b.org_id = a.org_id
                                AND (b.created_at < a.created_at
                                     OR (b.created_at = a.created_at AND b.id < a.id))));
ALTER TABLE enrollment_codes ADD COLUMN device_id TEXT;
CREATE INDEX admin_credentials_admin ON admin_credentials (admin_id, kind);
