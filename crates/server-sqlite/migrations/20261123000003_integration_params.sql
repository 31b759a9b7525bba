-- Values for the provider catalog's placeholders (tenant, subdomain, issuer),
-- as a JSON object of strings. Not secret.
ALTER TABLE integrations ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
