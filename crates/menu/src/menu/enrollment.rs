//! Enrolling this computer: an enrollment link or code, or the company sign-in.

use std::time::Duration;

use latchkey_client::EnrollLink;
use latchkey_device::{Device, SessionError};
use tokio_util::sync::CancellationToken;

use super::{Menu, nonempty};
use crate::MenuError;
use crate::state::MenuState;

/// How long a company sign-in may wait for the browser.
const SSO_ENROLL_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl Menu {
    /// Remembers a `latchkey://enroll` link (from the command line or a second
    /// launch) and shows onboarding prefilled with its server. The code stays
    /// in Rust: the webview only learns that a link arrived.
    pub fn receive_link(&self, link: &str) -> Result<MenuState, MenuError> {
        let parsed = EnrollLink::parse(link, None).map_err(SessionError::from)?;
        self.inner().pending_link = Some(parsed);
        Ok(self.changed())
    }

    /// Enrolls this computer: a whole link, or a server and a code, or (all
    /// `None`) the link received earlier. Creates the vault key in the keychain.
    pub async fn enroll(
        &self,
        link: Option<&str>,
        server: Option<&str>,
        code: Option<&str>,
    ) -> Result<MenuState, MenuError> {
        let parsed = match (nonempty(link), nonempty(server), nonempty(code)) {
            (Some(link), server, _) => EnrollLink::parse(link, server),
            (None, Some(server), Some(code)) => EnrollLink::parse(code, Some(server)),
            (None, _, _) => match self.inner().pending_link.take() {
                Some(pending) => Ok(pending),
                None => return Err(MenuError::EnrollInputMissing),
            },
        }
        .map_err(SessionError::from)?;
        let _reload = self.reload.lock().await;
        Device::enroll(&self.dir, &parsed, &self.device_name)
            .await
            .map_err(SessionError::from)?;
        self.inner().pending_link = None;
        self.search.reset(&self.settings());
        self.widgets.clear();
        self.load_locked().await;
        Ok(self.changed())
    }

    /// Enrolls with the user's company account: the system browser signs in at the
    /// company's identity provider through `server` (or the server of a
    /// `latchkey://enroll` link that arrived), and the server hands this computer a
    /// one-time code on a loopback listener. Nothing is typed but the server's address.
    /// Resolves when enrolled, refused, timed out or cancelled.
    pub async fn enroll_sso(&self, server: Option<&str>) -> Result<MenuState, MenuError> {
        let server = match nonempty(server) {
            Some(server) => server.to_owned(),
            None => self
                .inner()
                .pending_link
                .as_ref()
                .map(|l| l.server.clone())
                .ok_or(MenuError::SsoServerMissing)?,
        };
        let cancel = CancellationToken::new();
        {
            let mut inner = self.inner();
            if inner.enrolling_sso.is_some() {
                return Err(MenuError::AlreadyEnrolling);
            }
            inner.enrolling_sso = Some(cancel.clone());
        }
        self.changed();
        let result = {
            let _reload = self.reload.lock().await;
            let enrolled = Device::enroll_sso(
                &self.dir,
                &server,
                &self.device_name,
                self.browser.as_ref(),
                SSO_ENROLL_TIMEOUT,
                cancel,
            )
            .await;
            if enrolled.is_ok() {
                {
                    let mut inner = self.inner();
                    inner.pending_link = None;
                    inner.enrolling_sso = None;
                }
                self.search.reset(&self.settings());
                self.widgets.clear();
                self.load_locked().await;
            }
            enrolled
        };
        self.inner().enrolling_sso = None;
        match result {
            Ok(_) => Ok(self.changed()),
            Err(e) => {
                self.changed();
                Err(SessionError::from(e).into())
            }
        }
    }

    /// Stops waiting for a company sign-in (the pending `enroll_sso` then fails with
    /// `connect.cancelled`, which the window does not show as an error).
    pub fn cancel_enroll_sso(&self) {
        if let Some(cancel) = self.inner().enrolling_sso.take() {
            cancel.cancel();
        }
        self.changed();
    }
}
