//! Connecting integrations: the heart of Latchkey.
//!
//! - [`loopback`]: the one-shot callback listener on 127.0.0.1 (RFC 8252).
//! - [`browser`]: opening the authorization page in the system browser, and
//!   only there, after checking the URL.
//! - [`oauth`]: authorization URL with PKCE S256 and `state`, code exchange,
//!   refresh and RFC 7009 revocation, over an injected HTTP client.
//! - [`engine`]: connect, keep fresh, revoke, with every token sealed by the
//!   vault before it is stored.
//! - [`sync`]: sealed records to and from the remote store, offline-first.
//! - [`approval_limit`]: whom a new sign-in would sign out at a provider that
//!   keeps a few grants per user and app (Salesforce: five), and whether a dead
//!   grant was signed out that way.
//! - [`api`] and `calls`: calls made with the user's token, refreshed once and
//!   retried once when the provider refuses it.

mod admin_revocation;
pub mod api;
pub mod approval_limit;
pub mod browser;
mod calls;
pub mod engine;
mod error;
pub mod http;
pub mod loopback;
mod nested_tokens;
pub mod oauth;
pub mod sync;
mod token_response;

pub use admin_revocation::RevocationReceipt;
pub use api::{ApiRequest, ApiResponse};
pub use browser::{BrowserLauncher, SystemBrowser};
pub use calls::TokenInfo;
pub use engine::{
    ConnectOptions, ConnectionState, Connector, Integration, RevokeReport, RevokeStep,
};
pub use error::ConnectError;
pub use sync::RemoteStore;
