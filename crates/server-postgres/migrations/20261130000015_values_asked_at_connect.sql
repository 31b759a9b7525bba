-- Values asked at connect: the catalog placeholders an admin leaves for each user to fill
-- (a Salesforce My Domain, a Zendesk subdomain, a Microsoft tenant), as an encoded list of
-- placeholder names, and what each user gave, per connection. Not secret.
ALTER TABLE integrations ADD COLUMN asked_at_connect TEXT NOT NULL DEFAULT '[]';
CREATE TABLE connection_values (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    -- An encoded map of placeholder name to value, as integrations.params.
    "values" TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id, integration_id)
);
