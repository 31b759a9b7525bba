//! Revocation orders: what an admin's action asks each device to do with the
//! connections it takes away (revoke at the provider, wipe the sealed copy), and
//! the receipts devices send back.

use crate::Millis;

/// Why an admin's action revoked a connection (the order's `reason`).
pub mod revocation_reason {
    /// The admin disconnected this user from the integration.
    pub const DISCONNECT: &str = "disconnect";
    /// The integration was disabled.
    pub const INTEGRATION_DISABLED: &str = "integration_disabled";
    /// The integration was removed.
    pub const INTEGRATION_REMOVED: &str = "integration_removed";
    /// The user was taken off the integration's allow-list.
    pub const ALLOW_LIST: &str = "allow_list";
    /// The user was removed or deactivated (a leaver): every connection, on every device.
    pub const USER_REMOVED: &str = "user_removed";
    /// This device was revoked: it wipes its copies; the user's grants stay for their
    /// other devices.
    pub const DEVICE_REVOKED: &str = "device_revoked";
}

/// An order to one device: revoke one connection at the provider and wipe its sealed copy,
/// then answer with a receipt. Created with the admin's action, in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationOrder {
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub integration_id: String,
    pub environment: String,
    /// One of [`revocation_reason`].
    pub reason: String,
    pub created_at: Millis,
    /// The device's answer, once it came.
    pub receipt: Option<RevocationReceipt>,
}

/// What a device did with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationReceipt {
    pub at: Millis,
    /// `revoked`, `not_supported` (the provider has no revocation; `detail` says where to
    /// remove access), `queued` (the provider was unreachable; the device retries),
    /// `failed`, `no_copy` (this device held no tokens), or `kept` (a revoked device wiped
    /// its copy; the grant stays for the user's other devices).
    pub provider_outcome: String,
    /// Plain words, never a secret.
    pub provider_detail: String,
    /// Whether the device wiped its sealed copy.
    pub local_wiped: bool,
}

/// The provider outcomes a receipt may report.
pub const RECEIPT_OUTCOMES: &[&str] = &[
    "revoked",
    "not_supported",
    "queued",
    "failed",
    "no_copy",
    "kept",
];

/// Which revocation orders to write: the admin action's reason, and the records it
/// concerns narrowed by integration, user and device (each `None`: any).
#[derive(Debug, Clone, Copy)]
pub struct Orders<'a> {
    pub org_id: &'a str,
    pub reason: &'a str,
    pub now: Millis,
    pub integration_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
}

impl<'a> Orders<'a> {
    /// Orders for every live record of the org (narrow them with the methods below).
    pub fn new(org_id: &'a str, reason: &'a str, now: Millis) -> Self {
        Self {
            org_id,
            reason,
            now,
            integration_id: None,
            user_id: None,
            device_id: None,
        }
    }

    /// Only records of this integration.
    pub fn integration(mut self, id: &'a str) -> Self {
        self.integration_id = Some(id);
        self
    }

    /// Only records of this user.
    pub fn user(mut self, id: &'a str) -> Self {
        self.user_id = Some(id);
        self
    }

    /// Only for this device.
    pub fn device(mut self, id: &'a str) -> Self {
        self.device_id = Some(id);
        self
    }
}
