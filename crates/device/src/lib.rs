//! This computer's side of Latchkey, shared by the `latchkey` CLI and the
//! desktop menu so both stay thin:
//!
//! - [`enrollment`]: enrolling with a server; the device token lives only in
//!   the OS keychain, the rest in `device.json`.
//! - [`session`]: an enrolled device at work — the integrations the admin
//!   enabled (cached for offline use, without secrets), the connector wired to
//!   the vault and the server, and [`IntegrationView`]s for a UI. Views carry
//!   names, environments, states, identities and errors; never a token.
//! - [`token_agent`]: the menu app hands `latchkey token` its tokens over a
//!   private local socket, so scripts skip the vault's key derivation.

pub mod enrollment;
pub mod search;
pub mod session;
pub mod token_agent;
pub mod widgets;

pub use enrollment::{Device, DeviceError, default_data_dir, default_device_name};
pub use search::search_targets;
pub use session::{IntegrationView, Session, SessionError, describe, exec_variables};
pub use widgets::WidgetView;
