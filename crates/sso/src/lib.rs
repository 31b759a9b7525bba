//! Company sign-in (single sign-on) through the organisation's OpenID Connect identity
//! provider: the parts that must be exactly right before anyone is let in.
//!
//! - [`discover`]: the provider's `/.well-known/openid-configuration`, with the issuer
//!   checked to be exactly the one configured (a lookalike document is refused).
//! - [`KeySet`]: the provider's signing keys (JWKS), fetched again when a token names a
//!   key id it has not seen (key rotation), at most once a minute.
//! - [`IdTokenValidator`]: an ID token's signature, `iss`, `aud` (and `azp`), `exp`,
//!   `iat`, `nbf` and `nonce`, each refused with its own [`SsoError`] code.
//!
//! The console and device enrollment build their sign-in flows on these.

#![forbid(unsafe_code)]

mod discovery;
mod error;
mod id_token;
mod keys;

pub use discovery::{Discovery, discover};
pub use error::SsoError;
pub use id_token::{Clock, IdClaims, IdTokenValidator, SystemClock};
pub use keys::KeySet;
