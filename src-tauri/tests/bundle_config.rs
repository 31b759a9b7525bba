//! What the bundles promise on each OS, read from the files the Tauri bundler reads
//! (tauri.conf.json and what it points to). The .app, .msi and .exe bundles cannot be
//! built on Linux, so this is what can be checked here (docs/platforms.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn config() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_installer_registers_the_latchkey_scheme() {
    // The bundler turns plugins.deep-link into Info.plist's CFBundleURLTypes (macOS),
    // the installer's URL protocol registry keys (MSI and NSIS on Windows) and the
    // .desktop file's MimeType (Linux).
    let config = config();
    let schemes = &config["plugins"]["deep-link"]["desktop"]["schemes"];
    assert_eq!(schemes, &serde_json::json!(["latchkey"]));
    let targets: Vec<&str> = config["bundle"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for target in ["app", "dmg", "msi", "nsis", "deb", "appimage"] {
        assert!(
            targets.contains(&target),
            "{target} missing from {targets:?}"
        );
    }
    let desktop = std::fs::read_to_string(root().join("src-tauri/linux/latchkey.desktop")).unwrap();
    assert!(desktop.contains("MimeType={{mime_type}}"), "{desktop}");
    assert!(
        desktop.contains("%u"),
        "the link reaches the app as an argument"
    );
}

#[test]
fn the_mac_app_is_a_menu_bar_accessory_without_a_dock_icon() {
    let config = config();
    let plist = config["bundle"]["macOS"]["infoPlist"].as_str().unwrap();
    let text = std::fs::read_to_string(root().join(plist)).unwrap();
    let compact: String = text.split_whitespace().collect();
    assert!(
        compact.contains("<key>LSUIElement</key><true/>"),
        "{plist} must set LSUIElement: {text}"
    );
}

#[test]
fn the_menu_bar_icon_is_a_shape_on_transparency_fit_for_a_template_image() {
    // macOS tints a template image by its alpha channel alone, so the tray icon must
    // be an RGBA PNG (colour type 6); scripts/make-icons.py draws it.
    let png = std::fs::read(root().join("icons/tray.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let (bit_depth, colour_type) = (png[24], png[25]);
    assert_eq!((bit_depth, colour_type), (8, 6), "8-bit RGBA");
}

#[test]
fn updates_are_signed_bound_to_their_version_and_driven_only_from_rust() {
    use base64::Engine;
    let config = config();
    let updater = &config["plugins"]["updater"];
    // The key the plugin checks every update with: base64 of a minisign public key file.
    let key = base64::engine::general_purpose::STANDARD
        .decode(updater["pubkey"].as_str().unwrap())
        .unwrap();
    let key = String::from_utf8(key).unwrap();
    let mut lines = key.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("untrusted comment: minisign public key"),
        "{key}"
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap())
        .unwrap();
    assert_eq!(
        raw.len(),
        42,
        "Ed: 2-byte algorithm, 8-byte key id, 32-byte key"
    );
    assert_eq!(&raw[..2], b"Ed");
    // The manifest is not signed: without this an old, validly signed artifact could be
    // announced under a new version number (a downgrade).
    assert_eq!(updater["requireSignedVersion"], true);
    assert_eq!(config["bundle"]["createUpdaterArtifacts"], true);
    // The window asks Rust to install; it gets none of the plugin's own commands.
    let capability =
        std::fs::read_to_string(root().join("src-tauri/capabilities/menu.json")).unwrap();
    assert!(!capability.contains("updater:"), "{capability}");
    assert!(capability.contains("\"allow-install-update\""));
}
