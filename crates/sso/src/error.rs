//! Why a company sign-in was refused, in words an admin or user can act on, with a
//! stable code. Never the token itself.

/// A sign-in through the identity provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error(
        "Could not read the identity provider's configuration at {url}: {reason}. Check the issuer URL in the SSO settings."
    )]
    Discovery { url: String, reason: String },
    #[error(
        "The identity provider's configuration names the issuer {found}, not {expected}. The issuer must match exactly (including any trailing slash); check the SSO settings."
    )]
    IssuerMismatch { expected: String, found: String },
    #[error(
        "Could not read the identity provider's signing keys at {url}: {reason}. Try again; if it keeps failing, check the identity provider."
    )]
    Keys { url: String, reason: String },
    #[error(
        "The sign-in was signed with a key the identity provider does not publish (key id {kid}). Sign in again; if it keeps happening, check the identity provider's keys."
    )]
    UnknownKey { kid: String },
    #[error("The sign-in's signature does not verify. Sign in again.")]
    BadSignature,
    #[error(
        "The sign-in uses the signing algorithm {alg}, which Latchkey does not accept (RS256, RS384, RS512, PS256, ES256, ES384, EdDSA). Configure the identity provider to sign ID tokens with one of them."
    )]
    Algorithm { alg: String },
    #[error("The sign-in could not be read: {reason}. Sign in again.")]
    Malformed { reason: String },
    #[error(
        "The sign-in came from {found}, not the configured identity provider {expected}. Sign in again from the company sign-in button."
    )]
    WrongIssuer { expected: String, found: String },
    #[error(
        "The sign-in was made for another application, not this Latchkey (client id {expected}). Check the client id in the SSO settings."
    )]
    WrongAudience { expected: String },
    #[error("The sign-in has expired. Sign in again.")]
    Expired,
    #[error(
        "The sign-in is dated in the future; this computer's or the identity provider's clock is wrong. Fix the clock, then sign in again."
    )]
    IssuedInFuture,
    #[error(
        "The sign-in does not belong to the sign-in this browser started (its nonce differs or is missing). Start the sign-in again."
    )]
    Nonce,
}

impl SsoError {
    /// A stable code the console, the menu and the CLI branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Discovery { .. } => "sso.discovery",
            Self::IssuerMismatch { .. } => "sso.issuer_mismatch",
            Self::Keys { .. } => "sso.keys",
            Self::UnknownKey { .. } => "sso.unknown_key",
            Self::BadSignature => "sso.bad_signature",
            Self::Algorithm { .. } => "sso.algorithm",
            Self::Malformed { .. } => "sso.malformed",
            Self::WrongIssuer { .. } => "sso.wrong_issuer",
            Self::WrongAudience { .. } => "sso.wrong_audience",
            Self::Expired => "sso.expired",
            Self::IssuedInFuture => "sso.issued_in_future",
            Self::Nonce => "sso.nonce",
        }
    }
}
