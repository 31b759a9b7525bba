//! The thin Tauri shell of Latchkey. It only wires windows, tray and commands to
//! the library crates in `crates/`; no product logic lives here.

/// Starts the desktop app and blocks until it quits.
pub fn run() -> Result<(), tauri::Error> {
    tauri::Builder::default().run(tauri::generate_context!())
}
