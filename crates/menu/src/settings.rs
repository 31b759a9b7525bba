//! The user's menu preferences, a small JSON file next to the vault. A missing
//! or unreadable file means the defaults, so a bad file never stops the app; a
//! file from an older version (fewer fields) keeps what it has and gets the
//! defaults for the rest.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::MenuError;

const FILE: &str = "settings.json";

/// The search shortcut unless the user picks another: Ctrl+Shift+Space, and
/// ⌘⇧Space on macOS (the accelerator syntax Tauri's global shortcuts read).
pub const DEFAULT_SEARCH_SHORTCUT: &str = "CommandOrControl+Shift+Space";
/// How long one app may take to answer a search before its row says so.
pub const DEFAULT_SEARCH_DEADLINE_MS: u64 = 3_000;
/// The range the settings screen allows for [`Settings::search_deadline_ms`]: less
/// than half a second fails every real provider, more than 30 s keeps rows spinning.
pub const SEARCH_DEADLINE_RANGE_MS: std::ops::RangeInclusive<u64> = 500..=30_000;
/// How often the home screen's widgets refresh unless the user picks another.
pub const DEFAULT_WIDGET_REFRESH_MINUTES: u64 = 5;
/// The range the settings screen allows for [`Settings::widget_refresh_minutes`]: more
/// often than every minute spends the user's API limits, less than hourly is stale.
pub const WIDGET_REFRESH_RANGE_MINUTES: std::ops::RangeInclusive<u64> = 1..=60;

/// Preferences the settings screen edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Start Latchkey when the user signs in to the computer.
    pub start_at_login: bool,
    /// Hide the menu window when it loses focus, like a menu.
    pub hide_on_blur: bool,
    /// How long each app may take to answer a search, in milliseconds.
    pub search_deadline_ms: u64,
    /// The global shortcut that shows the window with the search box focused.
    pub search_shortcut: String,
    /// How often the home screen's widgets refresh, in minutes (with ±20% jitter).
    pub widget_refresh_minutes: u64,
    /// The user's choice per widget (`integration/widget` → shown); a widget not named
    /// here follows the admin's default.
    pub widgets: std::collections::BTreeMap<String, bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            start_at_login: false,
            hide_on_blur: true,
            search_deadline_ms: DEFAULT_SEARCH_DEADLINE_MS,
            search_shortcut: DEFAULT_SEARCH_SHORTCUT.to_owned(),
            widget_refresh_minutes: DEFAULT_WIDGET_REFRESH_MINUTES,
            widgets: std::collections::BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The per-app search deadline, kept inside [`SEARCH_DEADLINE_RANGE_MS`] even
    /// when the file was edited by hand.
    pub fn search_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.search_deadline_ms.clamp(
            *SEARCH_DEADLINE_RANGE_MS.start(),
            *SEARCH_DEADLINE_RANGE_MS.end(),
        ))
    }

    /// The widgets' refresh interval, kept inside [`WIDGET_REFRESH_RANGE_MINUTES`].
    pub fn widget_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            60 * self.widget_refresh_minutes.clamp(
                *WIDGET_REFRESH_RANGE_MINUTES.start(),
                *WIDGET_REFRESH_RANGE_MINUTES.end(),
            ),
        )
    }

    /// The saved settings, or the defaults when there are none or the file is damaged.
    pub fn load(dir: &Path) -> Settings {
        match fs::read(dir.join(FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "settings.json is damaged; using the defaults");
                Settings::default()
            }),
            Err(_) => Settings::default(),
        }
    }

    /// Saves atomically (write, then rename).
    pub fn save(&self, dir: &Path) -> Result<(), MenuError> {
        let path = dir.join(FILE);
        let error = |e: &dyn std::fmt::Display| MenuError::Settings {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| error(&e))?;
        latchkey_private_files::write(&path, &bytes).map_err(|e| error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_damaged_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
        let s = Settings {
            start_at_login: true,
            hide_on_blur: false,
            search_deadline_ms: 5_000,
            search_shortcut: "Alt+Space".to_owned(),
            widget_refresh_minutes: 15,
            widgets: [(
                "demo-salesforce/salesforce.recent_accounts".to_owned(),
                false,
            )]
            .into(),
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), s);
        fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
    }

    /// A file saved before search existed keeps its choices and gets the search defaults;
    /// a deadline edited out of range by hand is kept in range when used.
    #[test]
    fn an_older_file_gets_the_search_defaults() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(FILE),
            br#"{"start_at_login":true,"hide_on_blur":false}"#,
        )
        .unwrap();
        let s = Settings::load(dir.path());
        assert!(s.start_at_login && !s.hide_on_blur);
        assert_eq!(s.search_shortcut, "CommandOrControl+Shift+Space");
        assert_eq!(s.search_deadline(), std::time::Duration::from_secs(3));
        assert_eq!(s.widget_interval(), std::time::Duration::from_secs(300));
        assert!(
            s.widgets.is_empty(),
            "every widget follows the admin's default"
        );
        let s = Settings {
            search_deadline_ms: 1,
            widget_refresh_minutes: 100_000,
            ..Settings::default()
        };
        assert_eq!(s.search_deadline(), std::time::Duration::from_millis(500));
        assert_eq!(s.widget_interval(), std::time::Duration::from_secs(3600));
    }

    /// Settings are often saved before the computer is enrolled: the data dir they
    /// create (or find) is the user's alone.
    #[cfg(unix)]
    #[test]
    fn settings_saved_before_enrollment_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("latchkey");
        Settings::default().save(&data).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(FILE)), 0o600);
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        Settings::default().save(&data).unwrap();
        assert_eq!(mode(&data), 0o700, "an existing looser folder is tightened");
    }
}
