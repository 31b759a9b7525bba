//! The desktop menu's model, kept out of the Tauri crate so it can be tested
//! without a window and the shell stays a few lines per command.
//!
//! - [`Menu`]: the app's state (onboarding, ready, or a problem with its way
//!   out) and the actions behind the window's buttons: enroll, connect, cancel,
//!   revoke, reset the vault key, open the admin console.
//! - [`MenuState`]: exactly what the webview may see — names, environments,
//!   states, identities and errors. It has no field that could hold a token.
//! - [`Settings`]: the user's preferences, stored next to the vault.
//! - [`Menu::follow_changes`]: the server's change feed, so a card changes when
//!   the admin changes something.
//! - [`Menu::search`]: one query fanned out to every connected app that can
//!   search, streamed to the window as [`SearchUpdate`]s; results carry opaque
//!   ids that [`Menu::open_search_result`] maps back to their web links.
//! - [`Menu::widgets`] and [`Menu::run_widgets`]: the home screen's widgets, kept
//!   current in the background, shown as [`WidgetCard`]s with opaque row ids.
//! - [`UpdateNotice`]: a newer, signed version from the organisation's server,
//!   and whether this install can replace itself ([`install_mode`]).

mod error;
mod menu;
mod search;
mod settings;
mod sign_in_link;
mod state;
mod updates;
mod widgets;

pub use error::MenuError;
pub use menu::{Menu, Notifier};
pub use search::{SearchApp, SearchSink, SearchUpdate};
pub use settings::{
    DEFAULT_SEARCH_DEADLINE_MS, DEFAULT_SEARCH_SHORTCUT, DEFAULT_WIDGET_REFRESH_MINUTES,
    SEARCH_DEADLINE_RANGE_MS, Settings, WIDGET_REFRESH_RANGE_MINUTES,
};
pub use sign_in_link::{SignInLink, SignInLinks};
pub use state::{Account, EnrollPrefill, MenuState, Phase, Problem, ProblemAction};
pub use updates::{
    BAD_SIGNATURE_MESSAGE, InstallMode, UPDATE_CHECK_INTERVAL, UPDATE_PATH_TEMPLATE, UpdateNotice,
    UpdateProgress, UpdateSource, install_mode, update_endpoint,
};
pub use widgets::{WIDGET_ROWS, WidgetCard, WidgetProblem, WidgetRow, WidgetSink, widget_key};
