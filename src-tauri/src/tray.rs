//! The tray (menu bar) icon. Its menu lists Open Latchkey, Search, each
//! integration with its status, Settings and Quit; it is rebuilt whenever the state changes.
//! Left click toggles the menu window where the desktop reports clicks
//! (macOS, Windows; most Linux trays only open the menu).

use latchkey_device::describe;
use latchkey_menu::{MenuState, Phase};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Runtime};

use crate::{SHOW_SETTINGS_EVENT, shortcut, window};

const TRAY_ID: &str = "latchkey";

fn build_menu<R: Runtime>(app: &AppHandle<R>, state: Option<&MenuState>) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open Latchkey",
        true,
        None::<&str>,
    )?)?;
    if state.is_some_and(|s| s.phase == Phase::Ready && !s.search_apps.is_empty()) {
        menu.append(&MenuItem::with_id(
            app,
            "search",
            "Search your apps…",
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    match state {
        Some(s) if s.phase == Phase::Ready => {
            for view in &s.integrations {
                let label = format!("{}: {}", view.name, describe(&view.status));
                let id = format!("integration:{}", view.id);
                menu.append(&MenuItem::with_id(app, id, label, true, None::<&str>)?)?;
            }
            if s.integrations.is_empty() {
                menu.append(&MenuItem::new(
                    app,
                    "No integrations enabled yet",
                    false,
                    None::<&str>,
                )?)?;
            }
        }
        Some(s) if s.phase == Phase::Problem => {
            menu.append(&MenuItem::new(
                app,
                "Needs your attention",
                false,
                None::<&str>,
            )?)?;
        }
        _ => {
            menu.append(&MenuItem::new(app, "Not set up yet", false, None::<&str>)?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "settings",
        "Settings…",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        "Quit Latchkey",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Creates the tray icon. A desktop without a tray (no StatusNotifier host)
/// is not an error: the window and a second launch still reach the app.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = build_menu(app, None)?;
    let builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Latchkey")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "quit" => app.exit(0),
            "search" => shortcut::show_search(app),
            "settings" => {
                window::show(app);
                let _ = app.emit(SHOW_SETTINGS_EVENT, ());
            }
            _ => window::show(app),
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                rect,
                ..
            } = event
            {
                window::toggle_near(tray.app_handle(), rect);
            }
        });
    let builder = with_icon(app, builder);
    if let Err(e) = builder.build(app) {
        tracing::warn!(
            "no tray icon on this desktop ({e}); the window stays reachable by launching Latchkey again"
        );
    }
    Ok(())
}

/// macOS: a template image (the keyhole's shape only), which the menu bar tints to
/// match its light or dark appearance, as every menu-bar icon should be.
#[cfg(target_os = "macos")]
fn with_icon<R: Runtime>(_app: &AppHandle<R>, builder: TrayIconBuilder<R>) -> TrayIconBuilder<R> {
    builder
        .icon(tauri::include_image!("icons/tray.png"))
        .icon_as_template(true)
}

/// Windows and Linux: the app's coloured icon; a white template shape would vanish
/// on a light taskbar or panel.
#[cfg(not(target_os = "macos"))]
fn with_icon<R: Runtime>(app: &AppHandle<R>, builder: TrayIconBuilder<R>) -> TrayIconBuilder<R> {
    match app.default_window_icon() {
        Some(icon) => builder.icon(icon.clone()),
        None => builder,
    }
}

/// Rebuilds the tray menu and tooltip for `state`.
pub fn update<R: Runtime>(app: &AppHandle<R>, state: &MenuState) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match build_menu(app, Some(state)) {
        Ok(menu) => {
            let _ = tray.set_menu(Some(menu));
        }
        Err(e) => tracing::warn!("could not update the tray menu: {e}"),
    }
    let connected = state
        .integrations
        .iter()
        .filter(|v| v.status["state"] == "connected" || v.status["state"] == "connected_by_admin")
        .count();
    let tooltip = match state.phase {
        Phase::Ready => format!(
            "Latchkey: {connected} of {} connected",
            state.integrations.len()
        ),
        Phase::Problem => "Latchkey needs your attention".to_owned(),
        Phase::Onboarding => "Latchkey: not set up yet".to_owned(),
    };
    let _ = tray.set_tooltip(Some(tooltip));
}
