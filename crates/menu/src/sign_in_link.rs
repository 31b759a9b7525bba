//! The sign-in links the menu opened, kept so a card can offer "Copy sign-in
//! link" when the system browser does not open (no default browser, a remote
//! session): the user pastes it into a browser on this computer, like
//! `gh auth login` prints its link. The link carries `state` and the PKCE
//! challenge, never a token, code or verifier; it goes to the clipboard from
//! Rust, never to the webview.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey_connect::{BrowserLauncher, ConnectError};
use url::Url;

/// One sign-in's link, and whether the browser failed to open it.
#[derive(Debug, Clone)]
pub struct SignInLink {
    /// The authorization URL that was (or should have been) opened.
    pub url: Url,
    /// Why the system browser could not open it, if it could not.
    pub browser_failed: Option<String>,
}

/// A [`BrowserLauncher`] that remembers each link by its callback path (one per
/// provider in the catalog), then hands it to the real browser. A browser
/// that cannot be started is not an error here: the sign-in keeps waiting and
/// the card offers the link.
pub struct SignInLinks {
    browser: Arc<dyn BrowserLauncher>,
    links: Mutex<HashMap<String, SignInLink>>,
    on_link: Option<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for SignInLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInLinks").finish_non_exhaustive()
    }
}

impl SignInLinks {
    /// Wraps the system browser (or a test double).
    pub fn new(browser: Arc<dyn BrowserLauncher>) -> Self {
        Self {
            browser,
            links: Mutex::new(HashMap::new()),
            on_link: None,
        }
    }

    /// Calls `f` after each link is recorded (the menu re-renders its cards).
    pub fn on_link(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_link = Some(Box::new(f));
        self
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, SignInLink>> {
        match self.links.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The link of the sign-in whose callback path is `path`.
    pub fn get(&self, path: &str) -> Option<SignInLink> {
        self.links().get(path).cloned()
    }

    /// Forgets the link for `path` (the sign-in ended).
    pub fn forget(&self, path: &str) {
        self.links().remove(path);
    }

    /// Opens a non-sign-in URL (the admin console): no link is kept, and a
    /// failure is the caller's.
    pub fn open_plain(&self, url: &Url) -> Result<(), ConnectError> {
        self.browser.open(url)
    }
}

/// The path of the `redirect_uri` an authorization URL carries.
fn callback_path(url: &Url) -> Option<String> {
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())?;
    Url::parse(&redirect).ok().map(|r| r.path().to_owned())
}

impl BrowserLauncher for SignInLinks {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        let Some(path) = callback_path(url) else {
            return self.browser.open(url);
        };
        let browser_failed = self.browser.open(url).err().map(|e| e.to_string());
        if let Some(reason) = &browser_failed {
            tracing::warn!(
                "the browser did not open for a sign-in ({reason}); the card offers the link"
            );
        }
        self.links().insert(
            path,
            SignInLink {
                url: url.clone(),
                browser_failed,
            },
        );
        if let Some(f) = &self.on_link {
            f();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoBrowser;
    impl BrowserLauncher for NoBrowser {
        fn open(&self, _: &Url) -> Result<(), ConnectError> {
            Err(ConnectError::BrowserUnavailable {
                reason: "no default browser".into(),
            })
        }
    }

    #[test]
    fn a_sign_in_link_is_kept_by_its_callback_path_even_when_the_browser_fails() {
        let links = SignInLinks::new(Arc::new(NoBrowser));
        let url = Url::parse(
            "https://login.salesforce.com/services/oauth2/authorize?response_type=code&client_id=c&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A1717%2FOauthRedirect",
        )
        .unwrap();
        assert!(links.open(&url).is_ok(), "the sign-in keeps waiting");
        let kept = links.get("/OauthRedirect").unwrap();
        assert_eq!(kept.url, url);
        assert!(kept.browser_failed.unwrap().contains("no default browser"));
        links.forget("/OauthRedirect");
        assert!(links.get("/OauthRedirect").is_none());
        // A URL that is not a sign-in (the console) is not kept, and its failure is reported.
        let console = Url::parse("https://latchkey.example/console").unwrap();
        assert!(links.open_plain(&console).is_err());
    }
}
