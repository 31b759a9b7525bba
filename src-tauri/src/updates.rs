//! Signed updates: asks the organisation's Latchkey server for a newer version at
//! launch and every few hours, and installs one when the user presses Update.
//! tauri-plugin-updater does the HTTP, checks the minisign signature against the
//! key in `tauri.conf.json` (and that the signed version is the announced one) and
//! installs; what the window shows lives in `latchkey_menu::UpdateNotice`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_menu::{
    BAD_SIGNATURE_MESSAGE, InstallMode, Menu, MenuError, UPDATE_CHECK_INTERVAL, UpdateNotice,
    UpdateProgress, install_mode,
};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};
use tokio_util::sync::CancellationToken;

/// How long one check or download may take before it is given up.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(120);
/// How soon to look again while this computer is not enrolled yet (cheap: no
/// request is made until it is), so a fresh enrollment hears of an update at once.
const NOT_ENROLLED_RETRY: Duration = Duration::from_secs(5);

/// The update the last check found, kept in Rust for [`install`] (the window
/// only ever sees its [`UpdateNotice`]).
#[derive(Default)]
pub struct PendingUpdate(Mutex<Option<Update>>);

impl PendingUpdate {
    fn replace(&self, update: Option<Update>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = update;
    }

    fn take(&self) -> Option<Update> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The update key, overridable only in debug builds (`LATCHKEY_UPDATE_PUBKEY`) so the
/// end-to-end test can sign with its own key; a release build trusts tauri.conf.json alone.
fn pubkey_override() -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var("LATCHKEY_UPDATE_PUBKEY")
            .ok()
            .filter(|k| !k.is_empty())
    } else {
        None
    }
}

/// This install's [`InstallMode`] and, for an AppImage, the file to rewrite.
fn this_install() -> (InstallMode, Option<std::ffi::OsString>) {
    let appimage = std::env::var_os("APPIMAGE").filter(|p| !p.is_empty());
    (
        install_mode(std::env::consts::OS, appimage.as_deref()),
        appimage,
    )
}

/// Checks now, then every [`UPDATE_CHECK_INTERVAL`], until `stop`.
pub async fn run_checks<R: Runtime>(app: AppHandle<R>, menu: Arc<Menu>, stop: CancellationToken) {
    loop {
        let wait = match check_once(&app, &menu).await {
            Checked::NotEnrolled => NOT_ENROLLED_RETRY,
            Checked::Done => UPDATE_CHECK_INTERVAL,
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

enum Checked {
    NotEnrolled,
    Done,
}

async fn check_once<R: Runtime>(app: &AppHandle<R>, menu: &Menu) -> Checked {
    let Some(source) = menu.update_source() else {
        return Checked::NotEnrolled;
    };
    if menu.update().is_some_and(|n| {
        matches!(
            n.progress,
            UpdateProgress::Installing | UpdateProgress::Installed
        )
    }) {
        // Installed and waiting for a restart, or installing now: nothing to ask.
        return Checked::Done;
    }
    let (mode, appimage) = this_install();
    let mut headers = http::HeaderMap::new();
    match http::HeaderValue::from_str(&format!("Bearer {}", source.token.expose())) {
        Ok(mut value) => {
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        Err(_) => {
            tracing::warn!("the device token cannot be sent as a header; not checking for updates");
            return Checked::Done;
        }
    }
    let mut builder = app
        .updater_builder()
        .headers(headers)
        .timeout(UPDATE_TIMEOUT);
    builder = match builder.endpoints(vec![source.endpoint]) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("not checking for updates: {e}");
            return Checked::Done;
        }
    };
    if let Some(key) = pubkey_override() {
        builder = builder.pubkey(key);
    }
    if let Some(path) = &appimage {
        builder = builder.executable_path(path);
    }
    let checked = match builder.build() {
        Ok(updater) => updater.check().await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(Some(update)) => {
            menu.set_update(Some(UpdateNotice {
                version: update.version.clone(),
                notes: update.body.clone().filter(|n| !n.trim().is_empty()),
                install: mode,
                progress: UpdateProgress::Available,
            }));
            app.state::<PendingUpdate>().replace(Some(update));
        }
        Ok(None) => {
            app.state::<PendingUpdate>().replace(None);
            menu.set_update(None);
        }
        // An unreachable server is already shown by the cards; an update check that
        // fails is retried at the next interval without bothering the user.
        Err(e) => tracing::warn!("could not check for updates: {e}"),
    }
    Checked::Done
}

/// Downloads the pending update, checks its signature and installs it. On
/// Windows the installer takes over (and restarts the app); elsewhere the
/// notice then offers a restart.
pub async fn install<R: Runtime>(app: &AppHandle<R>, menu: &Menu) -> Result<(), MenuError> {
    let notice = menu.update().ok_or(MenuError::NoUpdate)?;
    if notice.install == InstallMode::PackageManager {
        return Err(MenuError::UpdateThroughPackageManager);
    }
    if notice.progress == UpdateProgress::Installed {
        return Ok(());
    }
    let update = app
        .state::<PendingUpdate>()
        .take()
        .ok_or(MenuError::NoUpdate)?;
    menu.set_update_progress(UpdateProgress::Installing)?;
    match update.download_and_install(|_, _| {}, || {}).await {
        Ok(()) => menu.set_update_progress(UpdateProgress::Installed),
        Err(e) => {
            let (code, message) = describe(&e, &update.version);
            tracing::warn!(code, "the update was not installed: {e}");
            // Keep it: a network failure can be retried with the same button.
            app.state::<PendingUpdate>().replace(Some(update));
            menu.set_update_progress(UpdateProgress::Failed {
                code: code.to_owned(),
                message,
            })
        }
    }
}

/// A stable code and a plain message for an install failure.
fn describe(error: &tauri_plugin_updater::Error, version: &str) -> (&'static str, String) {
    use tauri_plugin_updater::Error as E;
    match error {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::MissingSignedVersion
        | E::SignedVersionMismatch { .. } => {
            ("update.bad_signature", BAD_SIGNATURE_MESSAGE.to_owned())
        }
        E::Reqwest(_) | E::Network(_) => (
            "update.download_failed",
            format!(
                "Could not download Latchkey {version} from your server. Check your connection and press Update again."
            ),
        ),
        _ => (
            "update.install_failed",
            format!(
                "Latchkey {version} was downloaded but could not be installed ({error}). Nothing was changed; press Update to try again, or ask your admin for the installer."
            ),
        ),
    }
}
