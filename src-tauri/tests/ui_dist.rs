//! The committed menu build (`ui/dist`, what the app embeds) matches its
//! sources (see `latchkey_test_peers::web_dist`), and it is safe to embed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn ui() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

#[test]
fn ui_dist_was_built_from_the_committed_sources() {
    latchkey_test_peers::web_dist::assert_dist_is_fresh(&ui(), "scripts/build-ui.sh");
}

#[test]
fn the_menu_page_has_no_inline_script_or_style_and_no_dev_fake() {
    let html = std::fs::read_to_string(ui().join("dist/index.html")).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "{html}"
    );
    assert!(!html.contains("style="), "{html}");
    for entry in std::fs::read_dir(ui().join("dist/assets")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("scenario"),
            "{} carries the dev-only fake backend",
            path.display()
        );
    }
}
