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
    // A tray menu on Windows: no taskbar button of its own, the notification area
    // icon is the way back (as macOS's accessory policy does for the Dock).
    #[cfg(windows)]
    if let Err(e) = window.set_skip_taskbar(true) {
        tracing::warn!("could not keep the window off the taskbar: {e}");
    }
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

/// Left click on the tray icon: hide when shown, else show next to the icon, kept
/// on the icon's monitor ([`place_near`]).
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
        let (x, y) = place_near(
            Area {
                x: at.x,
                y: at.y,
                width: icon_size.width,
                height: icon_size.height,
            },
            (f64::from(size.width), f64::from(size.height)),
            Area {
                x: f64::from(area.position.x),
                y: f64::from(area.position.y),
                width: f64::from(area.size.width),
                height: f64::from(area.size.height),
            },
        );
        let _ = window.set_position(PhysicalPosition::new(x, y));
    }
    show(app);
}

/// A rectangle in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Where the menu window's top-left corner goes for a tray `icon`, a window of `size`
/// and the monitor's `work_area` (the screen less the menu bar, taskbar or panel). One
/// rule for every desktop: centred on the icon, kept inside the work area; below the
/// icon when it fits (the macOS menu bar, a top panel), else above it (the Windows
/// notification area on a bottom taskbar). The work area leaves the taskbar out, so on
/// Windows the window sits above the notification area, never over the taskbar.
pub fn place_near(icon: Area, size: (f64, f64), work_area: Area) -> (f64, f64) {
    let (w, h) = size;
    let (left, top) = (work_area.x, work_area.y);
    let (right, bottom) = (left + work_area.width, top + work_area.height);
    let x = (icon.x + icon.width / 2.0 - w / 2.0).clamp(left, (right - w).max(left));
    let below = icon.y + icon.height;
    let y = if below + h <= bottom {
        below.max(top)
    } else {
        (icon.y - h).min(bottom - h).max(top)
    };
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: (f64, f64) = (380.0, 560.0);

    #[test]
    fn macos_the_window_opens_under_the_menu_bar_icon() {
        // A 1440×900 screen with a 24 px menu bar; the icon near the right.
        let work_area = Area {
            x: 0.0,
            y: 24.0,
            width: 1440.0,
            height: 876.0,
        };
        let icon = Area {
            x: 1200.0,
            y: 0.0,
            width: 24.0,
            height: 24.0,
        };
        assert_eq!(place_near(icon, WINDOW, work_area), (1022.0, 24.0));
    }

    #[test]
    fn macos_an_icon_at_the_right_edge_keeps_the_window_on_screen() {
        let work_area = Area {
            x: 0.0,
            y: 24.0,
            width: 1440.0,
            height: 876.0,
        };
        let icon = Area {
            x: 1410.0,
            y: 0.0,
            width: 24.0,
            height: 24.0,
        };
        assert_eq!(place_near(icon, WINDOW, work_area), (1060.0, 24.0));
    }

    #[test]
    fn windows_the_window_sits_above_the_notification_area() {
        // 1920×1080 with a 48 px taskbar at the bottom; the icon in the notification area.
        let work_area = Area {
            x: 0.0,
            y: 0.0,
            width: 1920.0,
            height: 1032.0,
        };
        let icon = Area {
            x: 1700.0,
            y: 1040.0,
            width: 32.0,
            height: 32.0,
        };
        let (x, y) = place_near(icon, WINDOW, work_area);
        assert_eq!((x, y), (1526.0, 472.0));
        assert!(y + WINDOW.1 <= 1032.0, "never over the taskbar");
    }

    #[test]
    fn windows_a_taskbar_on_the_right_keeps_the_window_beside_it() {
        let work_area = Area {
            x: 0.0,
            y: 0.0,
            width: 1840.0,
            height: 1080.0,
        };
        let icon = Area {
            x: 1864.0,
            y: 900.0,
            width: 32.0,
            height: 32.0,
        };
        let (x, y) = place_near(icon, WINDOW, work_area);
        assert_eq!(x, 1840.0 - WINDOW.0, "left of the taskbar");
        assert_eq!(y, 340.0, "above the icon, since below it does not fit");
    }

    #[test]
    fn a_screen_smaller_than_the_window_pins_it_to_the_top_left_of_the_work_area() {
        let work_area = Area {
            x: 0.0,
            y: 24.0,
            width: 300.0,
            height: 400.0,
        };
        let icon = Area {
            x: 100.0,
            y: 0.0,
            width: 24.0,
            height: 24.0,
        };
        assert_eq!(place_near(icon, WINDOW, work_area), (0.0, 24.0));
    }
}
