-- The kill switch: when an admin takes access away (disconnect, integration disabled or
-- removed, user taken off the allow-list), every device of the user gets an order to revoke
-- the grant at the provider and wipe its sealed copy, and answers with a receipt.
CREATE TABLE revocation_orders (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    receipt_at INTEGER,
    provider_outcome TEXT,
    provider_detail TEXT,
    local_wiped BOOLEAN
);
CREATE INDEX revocation_orders_device ON revocation_orders (device_id, receipt_at);
CREATE INDEX revocation_orders_user ON revocation_orders (user_id, integration_id);

-- A slot an admin emptied is not brought back by an old push (If-None-Match: *); only a
-- fresh grant (the user pressed Connect again) may write it.
ALTER TABLE connection_records ADD COLUMN revoked_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
