//! The commands the menu webview may call (each also granted, one by one, in
//! `src-tauri/capabilities/menu.json`). They return names, states,
//! identities and errors only: no command can hand a token to the webview.

use std::sync::Arc;

use latchkey_connect::RevokeReport;
use latchkey_device::IntegrationView;
use latchkey_menu::{Menu, MenuError, MenuState, SearchUpdate, Settings, WidgetCard};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_autostart::ManagerExt;

use crate::{SEARCH_EVENT, shortcut, window};

type Result<T> = std::result::Result<T, MenuError>;

#[tauri::command]
pub async fn menu_state(menu: State<'_, Arc<Menu>>) -> Result<MenuState> {
    Ok(menu.loaded_state().await)
}

#[tauri::command]
pub async fn refresh(menu: State<'_, Arc<Menu>>) -> Result<MenuState> {
    Ok(menu.refresh().await)
}

#[tauri::command]
pub async fn enroll(
    menu: State<'_, Arc<Menu>>,
    link: Option<String>,
    server: Option<String>,
    code: Option<String>,
) -> Result<MenuState> {
    menu.enroll(link.as_deref(), server.as_deref(), code.as_deref())
        .await
}

/// Enrolls with the company account: the system browser signs in; nothing is typed
/// but the server's address.
#[tauri::command]
pub async fn enroll_sso(menu: State<'_, Arc<Menu>>, server: Option<String>) -> Result<MenuState> {
    menu.enroll_sso(server.as_deref()).await
}

#[tauri::command]
pub fn cancel_enroll_sso(menu: State<'_, Arc<Menu>>) {
    menu.cancel_enroll_sso();
}

/// Connects `id`. `confirm_approval_limit`: the user agreed, on the card's question,
/// that this sign-in signs out another of their devices (the provider's approval limit).
#[tauri::command]
pub async fn connect(
    menu: State<'_, Arc<Menu>>,
    id: String,
    confirm_approval_limit: Option<bool>,
) -> Result<IntegrationView> {
    menu.connect_with(&id, confirm_approval_limit.unwrap_or(false))
        .await
}

/// The values a connection asks of the user (a login host, a subdomain); not secret.
#[tauri::command]
pub async fn set_connection_values(
    menu: State<'_, Arc<Menu>>,
    id: String,
    values: std::collections::BTreeMap<String, String>,
) -> Result<MenuState> {
    menu.set_connection_values(&id, values).await
}

#[tauri::command]
pub fn cancel_connect(menu: State<'_, Arc<Menu>>, id: String) {
    menu.cancel_connect(&id);
}

/// Copies the waiting sign-in's link to the clipboard, for a user whose
/// browser did not open. The link goes from Rust to the clipboard; the webview
/// only learns that it was copied.
#[tauri::command]
pub fn copy_sign_in_link(app: AppHandle, menu: State<'_, Arc<Menu>>, id: String) -> Result<()> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let link = menu.sign_in_link(&id)?;
    app.clipboard()
        .write_text(link.to_string())
        .map_err(|e| MenuError::Clipboard {
            reason: e.to_string(),
        })
}

#[tauri::command]
pub async fn revoke(menu: State<'_, Arc<Menu>>, id: String) -> Result<RevokeReport> {
    menu.revoke(&id).await
}

#[tauri::command]
pub async fn reset_vault(menu: State<'_, Arc<Menu>>) -> Result<MenuState> {
    menu.reset_vault().await
}

#[tauri::command]
pub fn get_settings(menu: State<'_, Arc<Menu>>) -> Settings {
    menu.settings()
}

/// Saves the settings and applies start-at-login through the OS (a login
/// item, a registry Run key, or an XDG autostart entry) and a new search
/// shortcut (refused, with nothing saved, when it cannot be used).
#[tauri::command]
pub fn set_settings(
    app: AppHandle,
    menu: State<'_, Arc<Menu>>,
    settings: Settings,
) -> Result<Settings> {
    let autostart = app.autolaunch();
    let applied = if settings.start_at_login {
        autostart.enable()
    } else {
        autostart.disable()
    };
    if let Err(e) = applied {
        return Err(MenuError::StartAtLogin {
            reason: e.to_string(),
        });
    }
    let old = menu.settings().search_shortcut;
    let new = settings.search_shortcut.clone();
    let moved = old != new;
    if moved {
        shortcut::replace(&app, &old, &new)?;
    }
    let saved = menu.set_settings(settings);
    if saved.is_err()
        && moved
        && let Err(e) = shortcut::replace(&app, &new, &old)
    {
        tracing::warn!("could not restore the search shortcut: {e}");
    }
    saved
}

/// Opens the admin console in the system browser. The URL is built and
/// checked in Rust (https, or http on this computer); the webview cannot
/// choose what is opened.
#[tauri::command]
pub fn open_console(menu: State<'_, Arc<Menu>>) -> Result<()> {
    menu.open_console()
}

/// Searches the connected apps. Returns the run id at once; what each app answers
/// follows as `search-results` events carrying that id (titles and opaque ids only:
/// never a link, a record id or a token).
#[tauri::command]
pub async fn search(
    app: AppHandle,
    menu: State<'_, Arc<Menu>>,
    query: String,
    refresh: bool,
) -> Result<u64> {
    let sink = Arc::new(move |update: &SearchUpdate| {
        if let Err(e) = app.emit(SEARCH_EVENT, update) {
            tracing::warn!("could not send search results to the window: {e}");
        }
    });
    menu.search(&query, refresh, sink).await
}

/// Ends the search in flight; its requests are dropped.
#[tauri::command]
pub fn cancel_search(menu: State<'_, Arc<Menu>>) {
    menu.cancel_search();
}

/// Opens a search result in the system browser. The webview sends the opaque id it
/// was given; Rust maps it to the record's link and checks it before opening.
#[tauri::command]
pub fn open_search_result(menu: State<'_, Arc<Menu>>, id: String) -> Result<()> {
    menu.open_search_result(&id)
}

/// Hides the window (Escape), ending the search in flight.
#[tauri::command]
pub fn hide_window(app: AppHandle, menu: State<'_, Arc<Menu>>) {
    menu.cancel_search();
    window::hide(&app);
}

/// The home screen's widgets (and the ones the settings can show): titles, rows and
/// opaque row ids, never a link or a record id.
#[tauri::command]
pub fn widgets(menu: State<'_, Arc<Menu>>) -> Vec<WidgetCard> {
    menu.widgets()
}

/// Refreshes every shown widget now (the Refresh button); progress also arrives as
/// `widgets` events.
#[tauri::command]
pub async fn refresh_widgets(menu: State<'_, Arc<Menu>>) -> Result<Vec<WidgetCard>> {
    Ok(menu.inner().refresh_widgets(true).await)
}

/// Shows or hides one widget on the home screen.
#[tauri::command]
pub fn set_widget_shown(
    menu: State<'_, Arc<Menu>>,
    key: String,
    shown: bool,
) -> Result<Vec<WidgetCard>> {
    menu.set_widget_shown(&key, shown)
}

/// Opens a widget's row in the system browser (Rust maps the opaque id to its link).
#[tauri::command]
pub fn open_widget_row(menu: State<'_, Arc<Menu>>, id: String) -> Result<()> {
    menu.open_widget_row(&id)
}

/// Downloads, verifies and installs the update the last check found.
#[tauri::command]
pub async fn install_update(app: AppHandle, menu: State<'_, Arc<Menu>>) -> Result<MenuState> {
    crate::updates::install(&app, &menu).await?;
    Ok(menu.state())
}

/// Restarts into the update just installed (the window asked, after Update).
#[tauri::command]
pub fn restart_to_update(app: AppHandle, menu: State<'_, Arc<Menu>>) -> Result<()> {
    match menu.update() {
        Some(notice) if notice.progress == latchkey_menu::UpdateProgress::Installed => {
            app.restart()
        }
        _ => Err(MenuError::NoUpdate),
    }
}
