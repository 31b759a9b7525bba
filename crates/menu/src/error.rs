//! The error a menu command returns to the webview: a stable code to branch
//! on and a message in plain words. Never a token, never a secret.

use latchkey_device::SessionError;
use serde::Serialize;

/// Why a menu action failed.
#[derive(Debug, thiserror::Error)]
pub enum MenuError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(
        "This computer is not enrolled yet. Enter your Latchkey server and the enrollment code from your admin."
    )]
    NotReady,
    #[error(
        "{name} is already waiting for you to sign in in your browser. Finish there, or press Cancel."
    )]
    AlreadyConnecting { name: String },
    #[error(
        "The address {url} is not safe to open: only https (or http on this computer) is allowed."
    )]
    UnsafeUrl { url: String },
    #[error("Could not save your settings to {path}: {reason}. Check that the disk is writable.")]
    Settings { path: String, reason: String },
    #[error(
        "Enter your Latchkey server's address and the enrollment code from your admin, or paste the whole latchkey://enroll link."
    )]
    EnrollInputMissing,
    #[error(
        "Could not change whether Latchkey starts when you sign in: {reason}. Your other settings were not changed."
    )]
    StartAtLogin { reason: String },
    #[error("No sign-in to {name} is waiting. Press Connect first.")]
    NoSignIn { name: String },
    #[error("Could not copy the sign-in link: {reason}. Press Cancel and Connect to try again.")]
    Clipboard { reason: String },
    #[error("Type at least two characters to search your apps.")]
    SearchTooShort,
    #[error(
        "None of your connected apps can search yet. Connect one (Salesforce, Slack, GitHub…), then search again."
    )]
    NothingToSearch,
    #[error(
        "No connected app that can search matches {filters}. Remove the filter to search every app."
    )]
    NoAppMatches { filters: String },
    #[error(
        "That result is no longer available: its app was disconnected or the search was cleared. Search again."
    )]
    SearchResultGone,
    #[error(
        "That row is no longer available: its app was disconnected or the widget was refreshed. Press Refresh."
    )]
    WidgetRowGone,
    #[error(
        "There is no widget {key} among your connected apps. Reopen the settings and try again."
    )]
    UnknownWidget { key: String },
    #[error("The widget refresh interval must be between {min} and {max} minutes.")]
    WidgetInterval { min: u64, max: u64 },
    #[error("The search time limit must be between {min} and {max} seconds.")]
    SearchDeadline { min: String, max: String },
    #[error(
        "Could not use the shortcut {shortcut}: {reason}. Pick another, like CommandOrControl+Shift+Space. Your other settings were not changed."
    )]
    Shortcut { shortcut: String, reason: String },
    #[error(
        "Enter your Latchkey server's address (for example https://latchkey.acme.com), then sign in with your company account."
    )]
    SsoServerMissing,
    #[error(
        "A sign-in with your company account is already waiting in your browser. Finish it there, or press Cancel."
    )]
    AlreadyEnrolling,
    #[error("There is no update to install. Latchkey checks your server for one every few hours.")]
    NoUpdate,
    #[error(
        "This copy of Latchkey was installed by a package manager: update it there (for example sudo apt upgrade latchkey)."
    )]
    UpdateThroughPackageManager,
}

impl MenuError {
    /// A stable code the UI branches on.
    pub fn code(&self) -> String {
        match self {
            Self::Session(e) => e.code(),
            Self::NotReady => "menu.not_enrolled".to_owned(),
            Self::AlreadyConnecting { .. } => "menu.already_connecting".to_owned(),
            Self::UnsafeUrl { .. } => "menu.unsafe_url".to_owned(),
            Self::Settings { .. } => "menu.settings_io".to_owned(),
            Self::EnrollInputMissing => "menu.enroll_input_missing".to_owned(),
            Self::StartAtLogin { .. } => "menu.start_at_login".to_owned(),
            Self::NoSignIn { .. } => "menu.no_sign_in".to_owned(),
            Self::Clipboard { .. } => "menu.clipboard".to_owned(),
            Self::SearchTooShort => "menu.search_too_short".to_owned(),
            Self::NothingToSearch => "menu.search_nothing_connected".to_owned(),
            Self::NoAppMatches { .. } => "menu.search_no_app_matches".to_owned(),
            Self::SearchResultGone => "menu.search_result_gone".to_owned(),
            Self::SearchDeadline { .. } => "menu.search_deadline".to_owned(),
            Self::WidgetRowGone => "menu.widget_row_gone".to_owned(),
            Self::UnknownWidget { .. } => "menu.unknown_widget".to_owned(),
            Self::WidgetInterval { .. } => "menu.widget_interval".to_owned(),
            Self::Shortcut { .. } => "menu.shortcut".to_owned(),
            Self::NoUpdate => "menu.no_update".to_owned(),
            Self::SsoServerMissing => "menu.sso_server_missing".to_owned(),
            Self::AlreadyEnrolling => "menu.already_enrolling".to_owned(),
            Self::UpdateThroughPackageManager => "menu.update_through_package_manager".to_owned(),
        }
    }

    /// True when only a new sign-in helps.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, Self::Session(e) if e.needs_reconnect())
    }
}

/// The shape the webview receives when a command fails.
impl Serialize for MenuError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("CommandError", 3)?;
        s.serialize_field("code", &self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("needs_reconnect", &self.needs_reconnect())?;
        s.end()
    }
}
