//! The desktop binary really opens its window: it is launched on a private
//! Xvfb display and the test waits for a top-level window titled "Latchkey".
//! `make test` installs Xvfb and xwininfo; under CI their absence fails the
//! test instead of skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_display() -> u32 {
    (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display number")
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_desktop_app_opens_its_window() {
    if !have("Xvfb") || !have("xwininfo") {
        assert!(
            std::env::var_os("CI").is_none(),
            "Xvfb and xwininfo are required under CI"
        );
        eprintln!("SKIPPED: Xvfb or xwininfo missing; run scripts/install-deps.sh");
        return;
    }
    let display = free_display();
    let display_name = format!(":{display}");
    let _xvfb = KillOnDrop(
        Command::new("Xvfb")
            .args([
                display_name.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("Xvfb", Duration::from_secs(10), || {
        Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
    });

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
