-- API-key integrations: where the server's proxy may send the key.
-- api_base_url: fixed scheme+host(+path prefix); api_paths: JSON list of allowed
-- path prefixes; api_key_header: header carrying the key ('authorization' = Bearer).
ALTER TABLE integrations ADD COLUMN api_base_url TEXT;
ALTER TABLE integrations ADD COLUMN api_paths TEXT NOT NULL DEFAULT '[]';
ALTER TABLE integrations ADD COLUMN api_key_header TEXT;
