//! The desktop binary really opens its window: it is launched on a private
//! Xvfb display and the test waits for a top-level window titled "Latchkey".
//! `make test` installs Xvfb and xwininfo; under CI their absence fails the
//! test instead of skipping it.
//! Linux only: it needs Xvfb and xwininfo (docs/platforms.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Display, KillOnDrop, have, require, wait_for};

#[test]
fn the_desktop_app_opens_its_window() {
    if !require(
        &[("Xvfb", have("Xvfb")), ("xwininfo", have("xwininfo"))],
        "scripts/install-deps.sh",
    ) {
        return;
    }
    let display = Display::start();
    let display_name = display.name.clone();

    let data = tempfile::tempdir().unwrap();
    let mut app = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_latchkey-desktop"))
            .env("DISPLAY", &display_name)
            .env("NO_AT_BRIDGE", "1")
            .env("XDG_DATA_HOME", data.path())
            .env("XDG_CONFIG_HOME", data.path())
            .env("XDG_CACHE_HOME", data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let mut tree = String::new();
    wait_for(
        "a window titled \"Latchkey\"",
        Duration::from_secs(60),
        || {
            if let Ok(Some(status)) = app.0.try_wait() {
                panic!("the app exited early with {status}");
            }
            let out = Command::new("xwininfo")
                .args(["-root", "-tree"])
                .env("DISPLAY", &display_name)
                .output()
                .unwrap();
            tree = String::from_utf8_lossy(&out.stdout).into_owned();
            tree.lines().any(|l| l.contains("\"Latchkey\":"))
        },
    );
    let line = tree.lines().find(|l| l.contains("\"Latchkey\":")).unwrap();
    assert!(
        line.contains("380x560"),
        "the window has the configured size: {line}"
    );
}
