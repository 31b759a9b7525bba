//! Shared by the desktop tests: a private Xvfb display, child processes that
//! die with the test, and waiting with a deadline.
#![allow(dead_code)]

pub mod webdriver;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when the test ends, pass or fail.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    /// SIGTERM first, so a server such as Xvfb removes its lock file and socket;
    /// SIGKILL if it is still there after two seconds.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
    /// Xvfb picks the display number itself (`-displayfd`): it skips live servers and
    /// clears the lock files of dead ones, which a scan of `/tmp/.X*-lock` cannot tell apart.
    pub fn start() -> Display {
        let mut child = Command::new("Xvfb")
            // -noreset: otherwise Xvfb resets when its last client leaves and
            // drops a connection made during the reset (GTK then fails to start).
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let xvfb = KillOnDrop(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        let number = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("Xvfb to print its display number within 10 s");
        let number = number.trim();
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
            "Xvfb printed {number:?} instead of a display number (is another Xvfb hung?)"
        );
        wait_for("Xvfb", Duration::from_secs(10), || {
            Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
        });
        Display {
            _xvfb: xvfb,
            name: format!(":{number}"),
        }
    }
}
