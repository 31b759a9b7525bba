//! The menu window: shown next to the tray icon, hidden (not closed) when
//! dismissed so the app keeps running in the tray, and hidden when it loses
//! focus if the user's settings say so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use latchkey_menu::Menu;
use tauri::{AppHandle, Manager, PhysicalPosition, Rect, Runtime, WebviewWindow, WindowEvent};

const LABEL: &str = "main";

fn main_window<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    app.get_webview_window(LABEL)
}

/// Wires the window's focus and close events.
pub fn attach<R: Runtime>(app: &AppHandle<R>, menu: Arc<Menu>) {
    let Some(window) = main_window(app) else {
        tracing::warn!("the menu window is missing from tauri.conf.json");
        return;
    };
    // Some desktops send a focus-out before the window ever had focus; only
    // hide after it was really focused.
    let had_focus = Arc::new(AtomicBool::new(false));
    let target = window.clone();
    window.on_window_event(move |event| match event {
        WindowEvent::Focused(true) => had_focus.store(true, Ordering::Relaxed),
        WindowEvent::Focused(false)
            if had_focus.swap(false, Ordering::Relaxed) && menu.settings().hide_on_blur =>
        {
            let _ = target.hide();
        }
        WindowEvent::CloseRequested { api, .. } => {
            // Closing the menu leaves Latchkey in the tray; Quit is in the tray menu.
            api.prevent_close();
            let _ = target.hide();
        }
        _ => {}
    });
}

/// Shows and focuses the window.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = main_window(app) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Hides the window.
pub fn hide<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = main_window(app) {
        let _ = window.hide();
    }
}

/// Left click on the tray icon: hide when shown, else show under (or above)
/// the icon, kept on the icon's monitor.
pub fn toggle_near<R: Runtime>(app: &AppHandle<R>, icon: Rect) {
    let Some(window) = main_window(app) else {
        return;
    };
    if window.is_visible().unwrap_or(false) {
        let _ = window.hide();
        return;
    }
    if let (Ok(size), Ok(Some(monitor))) = (window.outer_size(), window.current_monitor()) {
        let scale = monitor.scale_factor();
        let at = icon.position.to_physical::<f64>(scale);
        let icon_size = icon.size.to_physical::<f64>(scale);
        let area = monitor.work_area();
        let (w, h) = (f64::from(size.width), f64::from(size.height));
        let (left, top) = (f64::from(area.position.x), f64::from(area.position.y));
        let (right, bottom) = (
            left + f64::from(area.size.width),
            top + f64::from(area.size.height),
        );
        let x = (at.x + icon_size.width / 2.0 - w / 2.0).clamp(left, (right - w).max(left));
        // A tray at the top of the screen opens the menu below the icon; at the bottom, above it.
        let below = at.y + icon_size.height;
        let y = if below + h <= bottom {
            below
        } else {
            (at.y - h).max(top)
        };
        let _ = window.set_position(PhysicalPosition::new(x, y));
    }
    show(app);
}
