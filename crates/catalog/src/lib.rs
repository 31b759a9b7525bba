//! The catalog of integrations Latchkey can connect: which endpoints, scopes and quirks each
//! provider has, kept as data so the server and every client agree on them.
//!
//! # Data format
//!
//! One TOML file per provider in `crates/catalog/providers/`, embedded at build time by
//! `build.rs` (every `*.toml` there, sorted by name) and parsed and checked when
//! [`Catalog::builtin`] is first called. Every table rejects unknown keys. In short:
//!
//! ```toml
//! id = "salesforce"                  # ^[a-z0-9][a-z0-9-]*$, unique
//! name = "Salesforce"
//! icon = "salesforce"
//! auth = "oauth2"                    # or "api_key", with an [api_key] table instead
//! environments = ["production", "sandbox", "custom"]
//!
//! [placeholders.login_host]          # used as {login_host} in URLs
//! kind = "host"                      # host | label | segment | origin
//! description = "Salesforce login host"
//! example = "acme.my.salesforce.com"
//! production = "login.salesforce.com"
//! sandbox = "test.salesforce.com"
//! custom_host = true                 # Environment::Custom(host) fills it
//! allowed_suffixes = [".salesforce.com"]
//!
//! [oauth2]
//! authorization_url = "https://{login_host}/services/oauth2/authorize"
//! token_url = "https://{login_host}/services/oauth2/token"
//! pkce = "supported"
//! client_auth = "client_secret_post"
//! expires_in = "never"
//! refresh_rotation = "optional"
//! whoami = { url = "https://{login_host}/services/oauth2/userinfo" }
//! redirect = { path = "/OauthRedirect", port = 1717 }
//! ```
//!
//! `crates/catalog/README.md` lists every field. The types in [`model`] are the format.
//!
//! # Rules
//!
//! Loading refuses a file whose templates use undeclared placeholders, declare unused ones,
//! start with anything but `https://` (or an `origin` placeholder for a local test server),
//! reuse another provider's callback path, or fail to resolve in any environment they offer
//! with their example values. [`resolve`] then checks what callers supply: custom hosts are
//! bare host names ([`validate_host`]), and every final URL is https, or http only to a
//! loopback IP literal (127.0.0.0/8, ::1), never to the name `localhost`.

mod catalog;
mod environment;
mod error;
pub mod model;
mod resolve;
mod template;
mod validate;

pub use catalog::{Catalog, EMBEDDED, parse_provider};
pub use environment::{
    Environment, EnvironmentKind, check_url_security, is_loopback_url, validate_host,
};
pub use error::CatalogError;
pub use model::{
    Api, ApiErrors, ApiKey, ApiKeyTest, AuthType, BodyFormat, ClientAuth, Endpoint, ExpiresIn,
    HttpMethod, OAuth2, Pagination, Pkce, Placeholder, PlaceholderKind, Provider, Redirect,
    RedirectHost, RefreshRotation, Revocation, RevocationMethod, ScopeSeparator, Search,
};
pub use resolve::{
    Params, ResolvedApi, ResolvedApiKey, ResolvedAuth, ResolvedEndpoint, ResolvedOAuth2,
    ResolvedProvider, ResolvedRevocation, host_matches, path_under_any, resolve,
};
pub use template::Template;
