//! One window and a tray icon, nothing else: what any Tauri 2 tray app costs.
fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the minimal app runs");
}
