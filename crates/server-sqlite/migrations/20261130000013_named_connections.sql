-- Named connections: an integrations row is one *connection* of a catalog provider, and an
-- org may have several of one provider (its production org and its UAT sandbox). `id` stays
-- the connection's id (records, feed events and sealed envelopes keep naming it), `provider`
-- names the catalog entry, `display_name` tells connections apart (NULL: the catalog's
-- name). Today's one row per provider becomes that provider's first connection, with the
-- same id, so nothing is resealed and nobody reconnects.
ALTER TABLE integrations ADD COLUMN provider TEXT NOT NULL DEFAULT '';
UPDATE integrations SET provider = id;
ALTER TABLE integrations ADD COLUMN display_name TEXT;
-- One connection per system and environment: the same provider, environment (or login
-- host) and placeholder values (tenant, subdomain) twice would be one system twice.
CREATE UNIQUE INDEX integrations_one_per_system ON integrations (org_id, provider, environment, params);
