//! Revocation orders (the kill switch): what an admin's disconnect asks of a device,
//! and the receipt the device sends back.

use super::*;

/// Why an admin's action revoked a connection. An open set (a newer server may
/// have a new reason, and an order must still be carried out), with the reasons
/// the server gives today as constants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "disconnect")]
pub struct RevocationReason(String);

impl RevocationReason {
    /// The admin disconnected this user from the integration.
    pub const DISCONNECT: &'static str = "disconnect";
    /// The integration was disabled.
    pub const INTEGRATION_DISABLED: &'static str = "integration_disabled";
    /// The integration was removed.
    pub const INTEGRATION_REMOVED: &'static str = "integration_removed";
    /// The user was taken off the integration's allow-list.
    pub const ALLOW_LIST: &'static str = "allow_list";
    /// The user was removed or deactivated: every connection, on every device.
    pub const USER_REMOVED: &'static str = "user_removed";
    /// This device was revoked: it wipes its copies; the grant stays for the user's
    /// other devices.
    pub const DEVICE_REVOKED: &'static str = "device_revoked";

    /// The reason as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RevocationReason {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for RevocationReason {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

impl PartialEq<&str> for RevocationReason {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `GET /v1/revocation-orders`: the orders this device has not answered, oldest
/// first. A revoked device's token (or a removed user's) still opens this and the
/// receipt, for its own orders only.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationOrderList {
    /// The pending orders.
    pub orders: Vec<RevocationOrder>,
}

/// Revoke one connection at the provider and wipe the sealed copy, then answer with
/// a [`RevocationReceipt`].
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationOrder {
    /// The order's id, for the receipt.
    pub id: RevocationOrderId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// The slot's environment.
    pub environment: EnvironmentName,
    /// Why.
    pub reason: RevocationReason,
    /// When the admin acted.
    pub ordered_at: Millis,
    /// The integration's public configuration when the server still has it (a
    /// disabled one's too), so the device can reach the provider; `null` for API-key
    /// integrations and removed ones.
    #[serde(default)]
    pub integration: Option<IntegrationConfig>,
}

/// What the provider said when the device revoked its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderOutcome {
    /// The provider revoked the grant.
    Revoked,
    /// The provider has no revocation; `detail` says where to remove access by hand.
    NotSupported,
    /// The provider was unreachable; the device retries.
    Queued,
    /// The provider refused or failed.
    Failed,
    /// This device held no tokens.
    NoCopy,
    /// A revoked device wiped its copy; the grant stays for the user's other devices.
    Kept,
}

impl ProviderOutcome {
    /// Every outcome.
    pub const ALL: [ProviderOutcome; 6] = [
        Self::Revoked,
        Self::NotSupported,
        Self::Queued,
        Self::Failed,
        Self::NoCopy,
        Self::Kept,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::NotSupported => "not_supported",
            Self::Queued => "queued",
            Self::Failed => "failed",
            Self::NoCopy => "no_copy",
            Self::Kept => "kept",
        }
    }
}

impl FromStr for ProviderOutcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, UnknownOutcome> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or(UnknownOutcome)
    }
}

impl fmt::Display for ProviderOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider outcome that is none of [`ProviderOutcome`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownOutcome;

impl fmt::Display for UnknownOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("provider is one of revoked, not_supported, queued, failed, no_copy, kept")
    }
}

impl std::error::Error for UnknownOutcome {}

/// `POST /v1/revocation-orders/{id}/receipt`: the device's answer to one order,
/// accepted once; the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationReceipt {
    /// What the provider said.
    pub provider: ProviderOutcome,
    /// Plain words, never a secret (the server keeps at most 500 characters).
    #[serde(default)]
    pub detail: String,
    /// Whether the device wiped its sealed copy.
    pub local_wiped: bool,
}

/// The answer to a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptRecorded {
    /// Always `true`.
    pub recorded: bool,
}
