//! What the menu's end-to-end tests share.

use std::sync::Mutex;

use latchkey_connect::{BrowserLauncher, ConnectError};
use latchkey_test_peers::open_in_peer_browser;
use url::Url;

/// The system browser: sign-ins go to the peers' Chromium; anything else (a search
/// result, a widget's row, the console) is only recorded, as the URL the OS would have
/// opened.
#[derive(Default)]
pub struct Browser {
    pub opened: Mutex<Vec<String>>,
}

impl BrowserLauncher for Browser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        self.opened.lock().unwrap().push(url.to_string());
        if url.path() != "/auth" {
            return Ok(());
        }
        open_in_peer_browser(url.as_str(), &[]).map_err(|e| ConnectError::BrowserUnavailable {
            reason: e.to_string(),
        })
    }
}
