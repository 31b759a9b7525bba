//! `GET /v1/integrations/{id}/grants`: which of the user's devices hold a live grant
//! of one connection (one OAuth client), and the provider's cap on them, so a device
//! can say who a new sign-in would sign out (Salesforce: five approvals per user per
//! app; the sixth silently revokes the oldest).

use super::*;

/// The user's live grants of one connection, oldest first, with the provider's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    /// The connection asked about.
    pub integration_id: IntegrationId,
    /// How many live authorizations the provider keeps per user and OAuth client
    /// before it revokes the oldest (the catalog's `approval_limit`); `null`: no cap.
    #[serde(default)]
    pub limit: Option<u32>,
    /// One per stored connection record of this user and connection, oldest
    /// `connected_at` first.
    pub grants: Vec<Grant>,
}

/// One device's stored connection of the asked connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    /// The device that wrote the record.
    pub device_id: DeviceId,
    /// What the user calls that device ("Ada's laptop"); `null` when the device is gone.
    #[serde(default)]
    pub device_name: Option<String>,
    /// When the record was first stored (ms since the epoch): the grant's age.
    pub connected_at: Millis,
    /// Whether the asking device wrote it.
    pub this_device: bool,
}
