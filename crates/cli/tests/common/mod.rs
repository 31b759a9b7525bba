//! What the CLI end-to-end tests share: running the real `latchkey` binary as a user
//! would, with the peers' Chromium as the system browser.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latchkey_test_peers::browser_script;

/// Runs `latchkey --data-dir DATA ARGS…`.
pub fn latchkey(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("BROWSER", browser_script())
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

/// Everything a run printed, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The sealed copies (`*.lkc`) under `dir`, at any depth.
pub fn sealed_copies(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut sealed = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".lkc") {
                sealed.push(path);
            }
        }
    }
    sealed
}
