//! The committed console build matches its sources (see
//! `latchkey_test_peers::web_dist`), and the console's API types match the
//! committed OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

#[test]
fn console_dist_was_built_from_the_committed_sources() {
    latchkey_test_peers::web_dist::assert_dist_is_fresh(&console_dir(), "scripts/build-console.sh");
}

#[test]
fn console_api_types_were_generated_from_the_committed_document() {
    let generator = console_dir().join("node_modules/.bin/openapi-typescript");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(node && generator.exists()) {
        let why = format!(
            "node: {node}, {}: {}",
            generator.display(),
            generator.exists()
        );
        assert!(
            !latchkey_test_peers::required(),
            "cannot check the console's API types ({why}): run scripts/install-console-deps.sh"
        );
        eprintln!(
            "NOTICE: skipping the console API types check ({why}). Run scripts/install-console-deps.sh"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("api-types.ts");
    let script = latchkey_test_peers::repo_root().join("scripts/gen-console-types.sh");
    let out = std::process::Command::new(&script)
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let committed =
        std::fs::read_to_string(console_dir().join("src/lib/api-types.ts")).unwrap_or_default();
    assert!(
        committed == std::fs::read_to_string(&fresh).unwrap(),
        "crates/server/console/src/lib/api-types.ts is stale against docs/openapi.json: \
         run scripts/gen-console-types.sh, then scripts/build-console.sh, and commit both"
    );
}
