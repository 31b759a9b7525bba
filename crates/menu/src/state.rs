//! What the menu window shows. Serialized as the `menu-state` event and the
//! result of `menu_state`; see `ui/src/lib/commands.ts` for the TypeScript side.

use latchkey_device::{IntegrationView, SessionError};
use serde::Serialize;

use crate::SearchApp;
use crate::updates::UpdateNotice;

/// Which screen the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not enrolled: ask for the server and the enrollment code.
    Onboarding,
    /// Enrolled and the vault is open: the integration cards.
    Ready,
    /// Something stops the app working; [`Problem`] says what and the way out.
    Problem,
}

/// The way out of a [`Problem`], as a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemAction {
    /// Enroll again (the device was revoked or its token is gone).
    Enroll,
    /// Create a new vault key; old tokens are void, the user reconnects.
    ResetVault,
    /// Try again (the keychain was locked or unavailable, the server failed).
    Retry,
}

/// Why the app cannot show the cards, in plain words, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable error code.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The button that gets the user out.
    pub action: ProblemAction,
}

impl Problem {
    /// Classifies an error that stopped the session from opening.
    pub fn from_session_error(error: &SessionError) -> Problem {
        let code = error.code();
        let action = match code.as_str() {
            "vault.salt_missing" | "vault.salt_invalid" | "vault.key_changed" => {
                ProblemAction::ResetVault
            }
            "device.not_enrolled"
            | "device.token_missing"
            | "device.revoked_by_admin"
            | "device.removed_by_admin"
            | "device.damaged"
            | "client.unauthorized"
            | "client.not_enrolled" => ProblemAction::Enroll,
            _ => ProblemAction::Retry,
        };
        let message = match action {
            ProblemAction::ResetVault => format!(
                "{error} Your saved connections cannot be opened without it: create a new key, then press Connect on each app again."
            ),
            _ => error.to_string(),
        };
        Problem {
            code,
            message,
            action,
        }
    }
}

/// Who this computer is enrolled as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The user's email.
    pub email: String,
    /// The Latchkey server's origin.
    pub server: String,
}

/// A `latchkey://enroll` link arrived: onboarding shows its server. Its
/// one-time code stays in Rust; pressing Enroll with empty fields uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollPrefill {
    /// The server's origin.
    pub server: String,
    /// Always true: a link with a code arrived; Enroll uses it.
    pub from_link: bool,
}

/// Everything the window shows. Nothing here can hold a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuState {
    /// Which screen.
    pub phase: Phase,
    /// Who this computer is enrolled as.
    pub account: Option<Account>,
    /// Why the server is unreachable, when the cards come from this computer's cache.
    pub offline: Option<String>,
    /// What stops the app, in phase `problem`.
    pub problem: Option<Problem>,
    /// The cards.
    pub integrations: Vec<IntegrationView>,
    /// From a `latchkey://enroll` link.
    pub enroll_prefill: Option<EnrollPrefill>,
    /// The connected apps the search box asks (one `in:` chip each).
    pub search_apps: Vec<SearchApp>,
    /// A newer version of Latchkey from the organisation's server.
    pub update: Option<UpdateNotice>,
    /// A company sign-in is waiting for the browser (onboarding shows Cancel).
    pub enrolling_sso: bool,
}
