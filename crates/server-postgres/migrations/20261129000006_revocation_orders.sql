-- The kill switch: when an admin takes access away (disconnect, integration disabled or
-- removed, user taken off the allow-list, user removed, device revoked), every device
-- concerned gets an order to revoke the grant at the provider (or, for a revoked device,
-- only wipe) and its sealed copy, and answers with a receipt. No foreign keys: an order
-- outlives a removed user or device, whose token (by its hash) may still fetch and answer
-- its own orders and nothing else.
CREATE TABLE revocation_orders (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    device_token_hash BYTEA NOT NULL,
    integration_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    receipt_at BIGINT,
    provider_outcome TEXT,
    provider_detail TEXT,
    local_wiped BOOLEAN
);
CREATE INDEX revocation_orders_device ON revocation_orders (device_id, receipt_at);
CREATE INDEX revocation_orders_user ON revocation_orders (user_id, integration_id);
CREATE INDEX revocation_orders_token ON revocation_orders (device_token_hash);

-- A slot an admin emptied is not brought back by an old push (If-None-Match: *); only a
-- fresh grant (the user pressed Connect again) may write it.
ALTER TABLE connection_records ADD COLUMN revoked_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
