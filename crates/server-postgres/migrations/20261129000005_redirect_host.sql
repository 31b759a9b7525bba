-- The host name in the loopback redirect URI the admin registered at the provider:
-- '127.0.0.1' (RFC 8252's advice, the default) or 'localhost' for providers that allow it
-- (an existing Salesforce app registered like the Salesforce CLI's). Not secret.
ALTER TABLE integrations ADD COLUMN redirect_host TEXT NOT NULL DEFAULT '127.0.0.1';
