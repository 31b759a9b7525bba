-- SCIM groups whose members may use an integration, beside allowed_users (an encoded list
-- of scim_groups ids); NULL with allowed_users NULL: every user of the org.
ALTER TABLE integrations ADD COLUMN allowed_groups TEXT;
