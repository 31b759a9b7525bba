//! The thin Tauri shell of Latchkey: it wires the tray, the menu window, the
//! single-instance and deep-link plugins and the webview's commands to
//! `latchkey-menu`, where the behaviour lives. Every command is a few lines.
//!
//! - `commands`: what the webview may call (and nothing that returns a token).
//! - `tray`: the tray icon and its menu, rebuilt when the state changes.
//! - `window`: showing, hiding and placing the menu window.
//! - `shortcut`: the global shortcut that opens search.
//! - `updates`: signed updates from the organisation's server.

mod commands;
mod shortcut;
mod tray;
mod updates;
mod window;

use std::path::PathBuf;
use std::sync::Arc;

use latchkey_connect::SystemBrowser;
use latchkey_menu::{Menu, MenuState};
use tauri::{Emitter, Manager};
use tauri_plugin_deep_link::DeepLinkExt;
use tokio_util::sync::CancellationToken;

/// The event the webview listens to for a new [`MenuState`].
pub const STATE_EVENT: &str = "menu-state";
/// Asks the webview to show its settings screen (from the tray menu).
pub const SHOW_SETTINGS_EVENT: &str = "show-settings";
/// One search's progress ([`latchkey_menu::SearchUpdate`]), tagged with its run id.
pub const SEARCH_EVENT: &str = "search-results";
/// Every home-screen widget ([`latchkey_menu::WidgetCard`]s), sent when one changes.
pub const WIDGETS_EVENT: &str = "widgets";
/// Asks the webview to focus its search box (the global shortcut).
pub const FOCUS_SEARCH_EVENT: &str = "focus-search";
/// Start at login with this argument: stay in the tray until needed.
pub const BACKGROUND_ARG: &str = "--background";

/// Where Latchkey keeps its data: `LATCHKEY_DATA_DIR`, else the default the
/// `latchkey` CLI uses too, so both share one enrollment.
fn data_dir() -> PathBuf {
    std::env::var_os("LATCHKEY_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(latchkey_device::default_data_dir)
}

/// Hands every `latchkey://` argument to the menu (first launch, a second
/// launch forwarded by the single-instance plugin, or the deep-link plugin).
fn receive_links<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    args: impl IntoIterator<Item = String>,
) {
    let menu = app.state::<Arc<Menu>>();
    for arg in args.into_iter().filter(|a| a.starts_with("latchkey:")) {
        match menu.receive_link(&arg) {
            Ok(_) => window::show(app),
            Err(e) => tracing::warn!(code = %e.code(), "ignored a latchkey:// link: {e}"),
        }
    }
}

/// Starts the desktop app and blocks until it quits.
pub fn run() -> Result<(), tauri::Error> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let background = std::env::args().any(|a| a == BACKGROUND_ARG);
    let stop = CancellationToken::new();
    let app = tauri::Builder::default()
        // First: a second launch focuses this one and hands over its link.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            window::show(app);
            receive_links(app, argv);
        }))
        .plugin(tauri_plugin_deep_link::init())
        // Rust writes the sign-in link to the clipboard; the window gets no clipboard access.
        .plugin(tauri_plugin_clipboard_manager::init())
        // Signed updates: the key and `requireSignedVersion` are in tauri.conf.json.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(updates::PendingUpdate::default())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(BACKGROUND_ARG)
                .build(),
        )
        .invoke_handler(tauri::generate_handler![
            commands::menu_state,
            commands::refresh,
            commands::enroll,
            commands::enroll_sso,
            commands::cancel_enroll_sso,
            commands::connect,
            commands::cancel_connect,
            commands::copy_sign_in_link,
            commands::set_connection_values,
            commands::revoke,
            commands::reset_vault,
            commands::get_settings,
            commands::set_settings,
            commands::open_console,
            commands::search,
            commands::cancel_search,
            commands::open_search_result,
            commands::hide_window,
            commands::widgets,
            commands::refresh_widgets,
            commands::set_widget_shown,
            commands::open_widget_row,
            commands::install_update,
            commands::restart_to_update,
        ])
        .setup({
            let stop = stop.clone();
            move |app| {
                // A menu-bar app on macOS: no Dock icon, no entry in the app switcher
                // (Info.plist's LSUIElement does the same for a bundled launch).
                #[cfg(target_os = "macos")]
                app.set_activation_policy(tauri::ActivationPolicy::Accessory);
                let handle = app.handle().clone();
                let notify = {
                    let handle = handle.clone();
                    Arc::new(move |state: &MenuState| {
                        if let Err(e) = handle.emit(STATE_EVENT, state) {
                            tracing::warn!("could not update the window: {e}");
                        }
                        tray::update(&handle, state);
                    })
                };
                let menu = Menu::new(&data_dir(), Arc::new(SystemBrowser), notify);
                app.manage(menu.clone());
                tray::create(&handle)?;
                window::attach(&handle, menu.clone());
                shortcut::init(&handle, &menu.settings().search_shortcut);

                let links = app.deep_link();
                let from_plugin = links
                    .get_current()
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .into_iter()
                    .map(String::from);
                let on_open = handle.clone();
                links.on_open_url(move |event| {
                    receive_links(&on_open, event.urls().into_iter().map(String::from));
                });
                // On Linux and Windows the plugin reads the same argv: each link once.
                let mut startup_links: Vec<String> = Vec::new();
                for link in std::env::args().skip(1).chain(from_plugin) {
                    if !startup_links.contains(&link) {
                        startup_links.push(link);
                    }
                }

                tauri::async_runtime::spawn(async move {
                    let state = menu.load().await;
                    receive_links(&handle, startup_links);
                    // At login the app waits in the tray, unless it needs the user.
                    if background && state.phase == latchkey_menu::Phase::Ready {
                        window::hide(&handle);
                    }
                    tokio::spawn(
                        menu.clone()
                            .watch_local(std::time::Duration::from_secs(20), stop.clone()),
                    );
                    let to_window = handle.clone();
                    let widgets_sink: latchkey_menu::WidgetSink = Arc::new(move |cards| {
                        if let Err(e) = to_window.emit(WIDGETS_EVENT, cards) {
                            tracing::warn!("could not send the widgets to the window: {e}");
                        }
                    });
                    tokio::spawn(menu.clone().run_widgets(widgets_sink, stop.clone()));
                    // `latchkey token` asks the running app instead of deriving the vault key.
                    tokio::spawn(menu.clone().serve_tokens(stop.clone()));
                    tokio::spawn(updates::run_checks(
                        handle.clone(),
                        menu.clone(),
                        stop.clone(),
                    ));
                    menu.follow_changes(stop).await;
                });
                Ok(())
            }
        })
        .build(tauri::generate_context!())?;
    app.run(move |app, event| {
        if let tauri::RunEvent::Exit = event {
            stop.cancel();
            // Search results and row ids live in memory only; quitting drops them.
            if let Some(menu) = app.try_state::<Arc<Menu>>() {
                menu.clear_search();
            }
        }
    });
    Ok(())
}
