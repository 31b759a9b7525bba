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
        fs::create_dir_all(dir).map_err(|e| error(&e))?;
        let tmp = dir.join("settings.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| error(&e))?;
        fs::write(&tmp, bytes).map_err(|e| error(&e))?;
        fs::rename(&tmp, &path).map_err(|e| error(&e))
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
}
