//! Generates the Tauri context (config, assets, capabilities) at build time.
//! Capabilities live under src-tauri/ because the manifest sits at the repo root.
//!
//! The app manifest lists Latchkey's commands so each gets its own
//! `allow-<command>` permission: without it Tauri lets every window call every
//! app command; with it a window may call only what its capability grants.

const COMMANDS: &[&str] = &[
    "menu_state",
    "refresh",
    "enroll",
    "enroll_sso",
    "cancel_enroll_sso",
    "connect",
    "cancel_connect",
    "copy_sign_in_link",
    "set_connection_values",
    "revoke",
    "reset_vault",
    "get_settings",
    "set_settings",
    "open_console",
    "search",
    "cancel_search",
    "open_search_result",
    "hide_window",
    "widgets",
    "refresh_widgets",
    "set_widget_shown",
    "open_widget_row",
    "install_update",
    "restart_to_update",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
