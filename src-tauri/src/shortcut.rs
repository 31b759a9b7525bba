//! The global search shortcut (Settings; Ctrl+Shift+Space by default, ⌘⇧Space on
//! macOS): it shows the window with the search box focused. A desktop that will not
//! give the app a global shortcut (Wayland, a key another app holds, a display that
//! refuses the grab) is logged and the app carries on: the tray still opens the window.

use latchkey_menu::MenuError;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcut, Shortcut, ShortcutState};

use crate::{FOCUS_SEARCH_EVENT, window};

/// Installs the plugin and registers `accelerator`; failures are logged, never fatal.
pub fn init<R: Runtime>(app: &AppHandle<R>, accelerator: &str) {
    if let Err(e) = app.plugin(tauri_plugin_global_shortcut::Builder::new().build()) {
        tracing::warn!(
            "global shortcuts are unavailable on this desktop ({e}); open search from the tray"
        );
        return;
    }
    if let Err(reason) = register(app, accelerator) {
        tracing::warn!(
            "the search shortcut {accelerator} could not be registered ({reason}); open search from the tray or pick another shortcut in Settings"
        );
    }
}

/// Shows the window and asks the webview to focus its search box.
pub fn show_search<R: Runtime>(app: &AppHandle<R>) {
    window::show(app);
    if let Err(e) = app.emit(FOCUS_SEARCH_EVENT, ()) {
        tracing::warn!("could not focus the search box: {e}");
    }
}

fn parse(accelerator: &str) -> Result<Shortcut, String> {
    accelerator.parse::<Shortcut>().map_err(|e| e.to_string())
}

fn register<R: Runtime>(app: &AppHandle<R>, accelerator: &str) -> Result<(), String> {
    let shortcut = parse(accelerator)?;
    let manager = app
        .try_state::<GlobalShortcut<R>>()
        .ok_or("this desktop does not allow global shortcuts")?;
    manager
        .on_shortcut(shortcut, |app, _, event| {
            if event.state == ShortcutState::Pressed {
                show_search(app);
            }
        })
        .map_err(|e| e.to_string())
}

/// Moves the search shortcut from `old` to `new`. When `new` cannot be used the old
/// one stays registered and the error says why (the settings are then not saved).
pub fn replace<R: Runtime>(app: &AppHandle<R>, old: &str, new: &str) -> Result<(), MenuError> {
    let refused = |reason: String| MenuError::Shortcut {
        shortcut: new.to_owned(),
        reason,
    };
    parse(new).map_err(refused)?;
    let manager = app
        .try_state::<GlobalShortcut<R>>()
        .ok_or_else(|| refused("this desktop does not allow global shortcuts".to_owned()))?;
    if let Ok(old_shortcut) = parse(old)
        && manager.is_registered(old_shortcut)
        && let Err(e) = manager.unregister(old_shortcut)
    {
        tracing::warn!("could not release the old search shortcut: {e}");
    }
    register(app, new).map_err(|reason| {
        if let Err(e) = register(app, old) {
            tracing::warn!("could not restore the old search shortcut: {e}");
        }
        refused(reason)
    })
}
