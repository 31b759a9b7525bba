//! Signed updates through the real window: the real app (debug build) on a private
//! Xvfb display, driven with WebDriver, checking a real Latchkey server for updates.
//!
//! The admin uploads release 9.9.9 for this computer's platform, signed with the
//! organisation's update key (the server checks that signature on upload). Then:
//! - an app that trusts another key sees the update, and pressing Update refuses it
//!   ("its signature does not match"): its AppImage is left untouched;
//! - an app that trusts the right key installs it in place (the AppImage file now
//!   holds the release's bytes) and offers Restart;
//! - an app installed by a package manager (no `APPIMAGE`) says to update there and
//!   offers no button;
//! - the admin sees which version each device runs.
//!
//! The key is overridden with `LATCHKEY_UPDATE_PUBKEY`, which only debug builds read.
//! Linux only: it needs Xvfb, tauri-driver and WebKitWebDriver (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::webdriver::{AppHome, Session, launch_with, window_tools_ready};
use common::{Display, KillOnDrop};
use latchkey_test_peers::update_key::UpdateKey;
use latchkey_test_peers::{AuthServer, TestStore, peers_ready};

/// Far above any real version, so it is always newer than this build.
const NEW_VERSION: &str = "9.9.9";

/// The release's bytes: an ELF header, as an AppImage starts (the updater refuses
/// anything else in its place).
fn artifact() -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01\0".to_vec();
    bytes.extend(b"Latchkey 9.9.9, an AppImage for the update test".repeat(64));
    bytes
}

/// Tauri's `{{arch}}` for this computer.
fn arch() -> &'static str {
    std::env::consts::ARCH
}

/// Starts the enrolled app with `env` and waits for its cards.
async fn app_with(
    display: &Display,
    home: &AppHome,
    env: &[(&str, &str)],
) -> (KillOnDrop, Session) {
    let (driver, ui) = launch_with(display, home.path(), &home.data, &home.browser, &[], env).await;
    ui.wait("[data-phase=\"ready\"]", Duration::from_secs(60))
        .await;
    (driver, ui)
}

/// A fake AppImage on disk, as the AppImage runtime's `APPIMAGE` names it.
fn fake_appimage(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("Latchkey.AppImage");
    std::fs::write(&path, b"\x7fELF the installed AppImage").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_are_offered_verified_and_installed_through_the_real_window() {
    if !window_tools_ready(&[]) {
        return;
    }
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let shots = latchkey_test_peers::repo_root().join("test-output/desktop");
    std::fs::create_dir_all(&shots).unwrap();

    let organisation_key = UpdateKey::generate();
    let other_key = UpdateKey::generate();
    let provider = AuthServer::start(3600);
    let mut store = TestStore::start().await;
    store
        .set_update_public_key(&organisation_key.public_base64())
        .await;
    store
        .enable_demo_oauth(&provider.issuer, "latchkey-static")
        .await;
    let (link, user_id) = store.invite("ada@acme.example").await;
    let artifact = artifact();
    let signature = organisation_key.sign(&artifact, "Latchkey.AppImage", NEW_VERSION);
    store
        .upload_release(
            NEW_VERSION,
            "linux",
            arch(),
            "stable",
            "Faster search.",
            &artifact,
            &signature,
        )
        .await;

    let home = AppHome::new(|_| "exit 0\n".to_owned());
    let appimage = fake_appimage(home.path());
    let installed_before = std::fs::read(&appimage).unwrap();
    let display = Display::start();

    // Enroll from the link; this app trusts another key than the one the release is signed with.
    {
        let appimage_env = appimage.to_str().unwrap();
        let (_driver, ui) = launch_with(
            &display,
            home.path(),
            &home.data,
            &home.browser,
            &[link.as_str()],
            &[
                ("APPIMAGE", appimage_env),
                ("LATCHKEY_UPDATE_PUBKEY", &other_key.public_base64()),
            ],
        )
        .await;
        ui.wait("[data-phase=\"onboarding\"]", Duration::from_secs(60))
            .await;
        ui.click("[data-action=\"enroll\"]").await;
        // The check runs once the app is enrolled: the banner names the version and notes.
        let banner = ui
            .wait_text(".update-banner", NEW_VERSION, Duration::from_secs(120))
            .await;
        assert!(banner.contains(NEW_VERSION), "{banner}");
        // The notes, as plain text (WebKit's driver leaves clipped text out of `text`).
        let notes = ui.content(".update-notes").await;
        assert_eq!(notes, "Faster search.");
        ui.screenshot(&shots, "update-available").await;
        ui.click("[data-action=\"install-update\"]").await;
        ui.wait(
            "[data-update-error=\"update.bad_signature\"]",
            Duration::from_secs(60),
        )
        .await;
        let said = ui.text(".update-banner").await;
        assert!(said.contains("signature does not match"), "{said}");
        ui.screenshot(&shots, "update-refused").await;
        assert_eq!(
            std::fs::read(&appimage).unwrap(),
            installed_before,
            "a refused update changes nothing"
        );
        ui.call(reqwest::Method::DELETE, "", None).await;
    }

    // The admin sees the version this computer reported when it asked.
    let devices = store
        .admin(reqwest::Method::GET, "/v1/admin/devices", None)
        .await;
    let device = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["user_id"] == user_id.as_str())
        .unwrap_or_else(|| panic!("no device for {user_id}: {devices}"));
    assert_eq!(device["app_version"], env!("CARGO_PKG_VERSION"), "{device}");
    assert_eq!(device["app_target"], "linux", "{device}");

    // The same computer with the right key: installed in place, then Restart is offered.
    {
        let appimage_env = appimage.to_str().unwrap();
        let (_driver, ui) = app_with(
            &display,
            &home,
            &[
                ("APPIMAGE", appimage_env),
                ("LATCHKEY_UPDATE_PUBKEY", &organisation_key.public_base64()),
            ],
        )
        .await;
        ui.wait_text(".update-banner", NEW_VERSION, Duration::from_secs(120))
            .await;
        ui.click("[data-action=\"install-update\"]").await;
        ui.wait(
            "[data-update-state=\"installed\"] [data-action=\"restart-to-update\"]",
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(
            std::fs::read(&appimage).unwrap(),
            artifact,
            "the AppImage now holds the signed release"
        );
        ui.screenshot(&shots, "update-installed").await;
        ui.call(reqwest::Method::DELETE, "", None).await;
    }

    // Installed by a package manager: the banner says where to update, and has no button.
    {
        let (_driver, ui) = app_with(
            &display,
            &home,
            &[("LATCHKEY_UPDATE_PUBKEY", &organisation_key.public_base64())],
        )
        .await;
        ui.wait(
            "[data-update-how=\"package-manager\"]",
            Duration::from_secs(120),
        )
        .await;
        assert!(
            ui.find_all("[data-action=\"install-update\"]")
                .await
                .is_empty()
        );
        ui.screenshot(&shots, "update-package-manager").await;
        ui.call(reqwest::Method::DELETE, "", None).await;
    }
    drop(display);
}
