//! Signed app updates from the organisation's own Latchkey server.
//!
//! The shell's updater (tauri-plugin-updater) does the HTTP, the minisign check
//! and the install; this module holds what it needs and what the window shows:
//! where to ask ([`UpdateSource`]), whether this install can update itself
//! ([`InstallMode`]), and the notice ([`UpdateNotice`]) in [`crate::MenuState`].

use std::ffi::OsStr;
use std::time::Duration;

use latchkey_secret::SecretString;
use serde::Serialize;
use url::Url;

use crate::{Menu, MenuError};

/// How often the app asks its server for a newer version (and once at launch).
pub const UPDATE_CHECK_INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);

/// The path the updater asks, with the plugin's placeholders (`{{target}}` is
/// `linux`, `windows` or `darwin`). The server answers 204 when up to date.
pub const UPDATE_PATH_TEMPLATE: &str = "/v1/updates/{{target}}/{{arch}}/{{current_version}}";

/// Whether this copy of Latchkey can replace itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallMode {
    /// The app installs the update and restarts (Windows and macOS installers,
    /// a Linux AppImage rewritten in place).
    InPlace,
    /// Installed by a package manager (a .deb, an .rpm, a build run from a
    /// checkout): replacing files behind it would break it, so the notice says
    /// to update through the package manager instead of failing on every launch.
    PackageManager,
}

/// Decides [`InstallMode`] for `os` (`std::env::consts::OS`), given the
/// `APPIMAGE` variable the AppImage runtime sets for the app it starts.
pub fn install_mode(os: &str, appimage: Option<&OsStr>) -> InstallMode {
    match os {
        "windows" | "macos" => InstallMode::InPlace,
        _ if appimage.is_some_and(|p| !p.is_empty()) => InstallMode::InPlace,
        _ => InstallMode::PackageManager,
    }
}

/// Where this running copy stands on an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateProgress {
    /// Found; nothing done yet.
    Available,
    /// Downloading and checking the signature, then installing.
    Installing,
    /// Installed: it runs after a restart.
    Installed,
    /// Not installed; `message` says why and what to do.
    Failed {
        /// Stable code the window can branch on.
        code: String,
        /// What happened and what to do.
        message: String,
    },
}

/// A newer version the server offers, as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateNotice {
    /// The new version.
    pub version: String,
    /// The admin's release notes (plain text; the window does not render HTML).
    pub notes: Option<String>,
    /// Whether the app installs it or the package manager must.
    pub install: InstallMode,
    /// Where it stands.
    pub progress: UpdateProgress,
}

/// What the updater needs to ask this device's server. The token goes in the
/// `Authorization` header only, never into the URL or the window.
#[derive(Debug)]
pub struct UpdateSource {
    /// `{server}/v1/updates/{{target}}/{{arch}}/{{current_version}}`.
    pub endpoint: Url,
    /// The device token.
    pub token: SecretString,
}

/// Builds the endpoint on `server` (an origin such as `https://latchkey.acme.com`).
pub fn update_endpoint(server: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}{UPDATE_PATH_TEMPLATE}",
        server.trim_end_matches('/')
    ))
}

/// The message for an update whose signature did not verify.
pub const BAD_SIGNATURE_MESSAGE: &str = "The update was not installed: its signature does not match this app's update key, so it may not come from your organisation. Tell your admin; keep using this version meanwhile.";

impl Menu {
    /// Where to check for updates: `None` until this computer is enrolled (and
    /// while its device token cannot be read, e.g. after an admin revoked it).
    pub fn update_source(&self) -> Option<UpdateSource> {
        let device = self.inner().device.clone()?;
        let token = device.token().ok()?;
        let endpoint = update_endpoint(device.server()).ok()?;
        Some(UpdateSource { endpoint, token })
    }

    /// Shows (or, with `None`, clears) the update notice.
    pub fn set_update(&self, notice: Option<UpdateNotice>) {
        self.inner().update = notice;
        self.changed();
    }

    /// Moves the current notice to `progress`; an error when there is none.
    pub fn set_update_progress(&self, progress: UpdateProgress) -> Result<(), MenuError> {
        {
            let mut inner = self.inner();
            let notice = inner.update.as_mut().ok_or(MenuError::NoUpdate)?;
            notice.progress = progress;
        }
        self.changed();
        Ok(())
    }

    /// The current notice.
    pub fn update(&self) -> Option<UpdateNotice> {
        self.inner().update.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_appimage_replaces_itself_on_linux() {
        assert_eq!(install_mode("windows", None), InstallMode::InPlace);
        assert_eq!(install_mode("macos", None), InstallMode::InPlace);
        assert_eq!(
            install_mode("linux", Some(OsStr::new("/home/ada/Latchkey.AppImage"))),
            InstallMode::InPlace
        );
        assert_eq!(install_mode("linux", None), InstallMode::PackageManager);
        assert_eq!(
            install_mode("linux", Some(OsStr::new(""))),
            InstallMode::PackageManager
        );
        assert_eq!(install_mode("freebsd", None), InstallMode::PackageManager);
    }

    #[test]
    fn the_endpoint_keeps_the_plugins_placeholders_and_drops_a_trailing_slash() {
        let url = update_endpoint("https://latchkey.acme.com/").unwrap();
        assert_eq!(
            url.as_str(),
            "https://latchkey.acme.com/v1/updates/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D"
        );
        assert!(update_endpoint("not a url").is_err());
    }

    #[test]
    fn the_notice_serialises_for_the_window_without_surprises() {
        let notice = UpdateNotice {
            version: "0.2.0".into(),
            notes: Some("Faster search".into()),
            install: InstallMode::PackageManager,
            progress: UpdateProgress::Failed {
                code: "update.bad_signature".into(),
                message: BAD_SIGNATURE_MESSAGE.into(),
            },
        };
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(json["install"], "package_manager");
        assert_eq!(json["progress"]["state"], "failed");
        assert_eq!(json["progress"]["code"], "update.bad_signature");
    }
}
