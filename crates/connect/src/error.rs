//! Connect errors: typed, with stable codes the UI branches on, and messages
//! that say what happened and what to do. None carries a token, a code, a
//! verifier or a raw provider response body.

use latchkey_catalog::CatalogError;
use latchkey_vault::VaultError;

/// Everything that can go wrong while connecting, refreshing or revoking.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The integration's catalog entry or configuration is unusable.
    #[error(transparent)]
    Catalog(#[from] CatalogError),

    /// Sealing, opening or storing tokens failed.
    #[error(transparent)]
    Vault(#[from] VaultError),

    /// This integration is not an OAuth one (API keys are connected by the admin).
    #[error(
        "{provider} is connected by your admin with an API key; there is nothing to connect here."
    )]
    NotOAuth { provider: String },

    /// The admin's configuration lacks something the provider requires.
    #[error("{provider} is not fully configured: {what}. Ask your Latchkey admin to complete it.")]
    Misconfigured { provider: String, what: String },

    /// The loopback port could not be opened.
    #[error(
        "Could not listen on 127.0.0.1:{port} for the sign-in to {provider} ({reason}). \
         Close the program using that port and try again."
    )]
    ListenerUnavailable {
        provider: String,
        port: u16,
        reason: String,
    },

    /// The system browser could not be started.
    #[error("Could not open your web browser ({reason}). Set a default browser and try again.")]
    BrowserUnavailable { reason: String },

    /// A URL about to be opened in the browser failed the safety check.
    #[error("Refused to open {origin} in the browser: {reason}.")]
    UnsafeUrl {
        origin: String,
        reason: &'static str,
    },

    /// Nobody completed the sign-in in time.
    #[error(
        "The sign-in to {provider} was not completed within {seconds} seconds. Press Connect to try again."
    )]
    TimedOut { provider: String, seconds: u64 },

    /// The user (or the app) cancelled.
    #[error("The sign-in to {provider} was cancelled. Nothing was saved.")]
    Cancelled { provider: String },

    /// The callback named another issuer (RFC 9207): a possible mix-up attack.
    #[error(
        "The sign-in response claims to come from {received}, not {provider} ({expected}); it was \
         refused and nothing was saved. Try again; if it keeps happening, tell your admin."
    )]
    IssuerMismatch {
        provider: String,
        expected: String,
        received: String,
    },

    /// The provider always sends `iss` but this response had none.
    #[error(
        "The sign-in response from {provider} is missing its issuer, so it was refused and nothing \
         was saved. Try again."
    )]
    IssuerMissing { provider: String },

    /// The provider answered the authorization request with an error.
    #[error("{provider} did not grant access ({error}{}). Nothing was saved. Press Connect to try again.", describe(.description))]
    AuthorizationDenied {
        provider: String,
        error: String,
        description: Option<String>,
    },

    /// The token endpoint refused a request (bad code or verifier, expired grant).
    #[error("{provider} refused the {request} ({error}{}). Nothing was saved.", describe(.description))]
    TokenRequestRejected {
        provider: String,
        request: &'static str,
        error: String,
        description: Option<String>,
    },

    /// The provider's answer was not a valid token response.
    #[error(
        "{provider} sent an unusable answer to the {request} ({reason}). Nothing was saved. Try again later."
    )]
    InvalidTokenResponse {
        provider: String,
        request: &'static str,
        reason: String,
    },

    /// The provider could not be reached; stored tokens are kept.
    #[error(
        "Could not reach {provider} ({reason}). Your connection is kept; check your network and try again."
    )]
    Network {
        provider: String,
        reason: String,
        /// Whether the request may have reached the provider (a retry could replay it).
        maybe_sent: bool,
    },

    /// The stored grant is dead (revoked, expired, or the vault key is gone):
    /// only a new sign-in helps.
    #[error("Your connection to {provider} needs to be renewed: {reason}. Press Reconnect.")]
    NeedsReconnect { provider: String, reason: String },

    /// A new sign-in here would sign out another of the user's devices: the provider
    /// keeps `limit` grants per user and app and revokes the oldest on the next one.
    /// Nothing was started; connecting again with confirmation goes ahead.
    #[error(
        "Connecting {provider} here signs out {device} (connected {connected_on}): {provider} \
         keeps {} sign-ins per person and app and signs the oldest out. Nothing was started; \
         connect anyway to go ahead, or first revoke {provider} on a computer you no longer use.",
        crate::approval_limit::in_words(*.limit)
    )]
    ApprovalLimit {
        provider: String,
        limit: u32,
        /// The device that would be signed out, by its name.
        device: String,
        /// Its id, for a UI that links to it.
        device_id: String,
        /// When it connected, `YYYY-MM-DD`.
        connected_on: String,
    },

    /// The provider revoked this device's grant because the user connected on `limit`
    /// other devices since (Salesforce's sixth approval signs out the oldest).
    #[error(
        "{}. {provider} keeps {} sign-ins per person and app and signed this computer out; press \
         Reconnect to sign in here again (that signs out the oldest of the others).",
        signed_out_reason(*.limit),
        crate::approval_limit::in_words(*.limit)
    )]
    SignedOutByApprovalLimit { provider: String, limit: u32 },

    /// The admin took this connection away (the server refused an old copy).
    #[error(
        "Your admin disconnected {provider}; the saved sign-in was wiped from this computer. Press Connect if your admin allows it again."
    )]
    DisconnectedByAdmin { provider: String },

    /// There is no connection to use or revoke.
    #[error("You are not connected to {provider}. Press Connect first.")]
    NotConnected { provider: String },

    /// The server offered an older record than this device has seen.
    #[error(
        "The Latchkey server offered an older copy of your {provider} connection (version {offered}; \
         this computer has seen version {seen}). It was refused. Reconnect, and tell your admin."
    )]
    Rollback {
        provider: String,
        offered: u64,
        seen: u64,
    },

    /// An API call was malformed before anything was sent.
    #[error("The request is not valid: {reason}.")]
    InvalidRequest { reason: String },

    /// A token was about to go to a host the catalog does not name for the provider.
    #[error(
        "Refused to send your {provider} token to {url}: that host is not one of {provider}'s. \
         Use a path under the API base, or a link {provider} itself gave."
    )]
    HostNotAllowed { provider: String, url: String },

    /// The catalog does not describe this provider's API.
    #[error("Latchkey does not know {provider}'s API yet, so it cannot call it for you.")]
    NoApi { provider: String },

    /// The provider answered an API call with an error.
    #[error("{provider} answered {status}: {message}{}", hint(*.status))]
    ApiError {
        provider: String,
        status: u16,
        code: Option<String>,
        message: String,
    },

    /// A local file (lock, queue) could not be used.
    #[error("Could not use {path}: {reason}. Check that the disk is writable.")]
    LocalIo { path: String, reason: String },
}

/// What a card says about a grant the provider's approval limit ended.
pub fn signed_out_reason(limit: u32) -> String {
    format!(
        "Signed out because this account was connected on {} other devices",
        crate::approval_limit::in_words(limit)
    )
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => ". The token was refused even after a refresh; press Reconnect if it persists",
        403 => ". Your account or the app's scopes do not allow this; ask your admin",
        429 => ". Too many requests; wait a moment and try again",
        500..=599 => ". The provider has a problem; try again later",
        _ => "",
    }
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl ConnectError {
    /// A stable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Catalog(e) => e.code(),
            Self::Vault(e) => e.code(),
            Self::NotOAuth { .. } => "connect.not_oauth",
            Self::Misconfigured { .. } => "connect.misconfigured",
            Self::ListenerUnavailable { .. } => "connect.listener_unavailable",
            Self::BrowserUnavailable { .. } => "connect.browser_unavailable",
            Self::UnsafeUrl { .. } => "connect.unsafe_url",
            Self::TimedOut { .. } => "connect.timed_out",
            Self::Cancelled { .. } => "connect.cancelled",
            Self::IssuerMismatch { .. } => "connect.issuer_mismatch",
            Self::IssuerMissing { .. } => "connect.issuer_missing",
            Self::AuthorizationDenied { .. } => "connect.denied",
            Self::TokenRequestRejected { .. } => "connect.token_rejected",
            Self::InvalidTokenResponse { .. } => "connect.invalid_token_response",
            Self::Network { .. } => "connect.network",
            Self::NeedsReconnect { .. } => "connect.needs_reconnect",
            Self::ApprovalLimit { .. } => "connect.approval_limit",
            Self::SignedOutByApprovalLimit { .. } => "connect.approval_limit_signed_out",
            Self::NotConnected { .. } => "connect.not_connected",
            Self::DisconnectedByAdmin { .. } => "connect.disconnected_by_admin",
            Self::Rollback { .. } => "connect.rollback",
            Self::InvalidRequest { .. } => "connect.invalid_request",
            Self::HostNotAllowed { .. } => "connect.host_not_allowed",
            Self::NoApi { .. } => "connect.no_api",
            Self::ApiError { .. } => "connect.api_error",
            Self::LocalIo { .. } => "connect.local_io",
        }
    }

    /// True when only a new sign-in can help.
    pub fn needs_reconnect(&self) -> bool {
        match self {
            Self::NeedsReconnect { .. } | Self::SignedOutByApprovalLimit { .. } => true,
            Self::Vault(e) => e.needs_reconnect(),
            _ => false,
        }
    }
}

/// Provider-supplied text is shown to users: keep it short and printable.
pub(crate) fn sanitize_provider_text(text: &str) -> String {
    let cleaned: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    cleaned.trim().to_owned()
}
