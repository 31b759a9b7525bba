//! The user's menu preferences, a small JSON file next to the vault. A missing
//! or unreadable file means the defaults, so a bad file never stops the app.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::MenuError;

const FILE: &str = "settings.json";

/// Preferences the settings screen edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Start Latchkey when the user signs in to the computer.
    pub start_at_login: bool,
    /// Hide the menu window when it loses focus, like a menu.
    pub hide_on_blur: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            start_at_login: false,
            hide_on_blur: true,
        }
    }
}

impl Settings {
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
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), s);
        fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
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
