-- The home-screen widgets an admin offers by default for an integration (an encoded list
-- of catalog widget ids); NULL: every widget the catalog offers for the provider.
ALTER TABLE integrations ADD COLUMN default_widgets TEXT;
