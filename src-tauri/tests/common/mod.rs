//! Shared by the desktop tests: a private Xvfb display, child processes that
//! die with the test, and waiting with a deadline.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when the test ends, pass or fail.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Fails under CI (and inside `make test`), skips elsewhere, when tools are missing.
pub fn require(tools: &[(&str, bool)], install: &str) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none()
            && std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() != Ok("required"),
        "missing {missing:?}; run {install}"
    );
    eprintln!("SKIPPED: missing {missing:?}; run {install}");
    false
}

/// Polls `check` every 100 ms until it holds; panics after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private X display, gone when dropped.
pub struct Display {
    _xvfb: KillOnDrop,
    /// `:N`
    pub name: String,
}

impl Display {
    pub fn start() -> Display {
        let number = (90..200)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("a free X display number");
        let name = format!(":{number}");
        let xvfb = KillOnDrop(
            Command::new("Xvfb")
                // -noreset: otherwise Xvfb resets when its last client leaves and
                // drops a connection made during the reset (GTK then fails to start).
                .args([
                    name.as_str(),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for("Xvfb", Duration::from_secs(10), || {
            Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
        });
        Display { _xvfb: xvfb, name }
    }
}
