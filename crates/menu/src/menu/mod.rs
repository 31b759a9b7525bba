//! [`Menu`]: the app's state and the actions behind the window's buttons.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use latchkey_catalog::is_loopback_url;
use latchkey_client::EnrollLink;
use latchkey_connect::{BrowserLauncher, ConnectOptions, RevokeReport};
use latchkey_device::{
    Device, IntegrationView, Session, SessionError, default_device_name, search_targets,
};
use latchkey_search::{OpaqueId, Query};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::search::{MenuSearch, SearchSink, search_apps};
use crate::settings::{SEARCH_DEADLINE_RANGE_MS, WIDGET_REFRESH_RANGE_MINUTES};
use crate::state::{Account, EnrollPrefill, MenuState, Phase, Problem};
use crate::updates::UpdateNotice;
use crate::widgets::MenuWidgets;
use crate::{MenuError, Settings, SignInLinks};

mod background;
mod enrollment;

/// Called with the new state whenever it changes (the shell emits it to the
/// webview as the `menu-state` event).
pub type Notifier = Arc<dyn Fn(&MenuState) + Send + Sync>;

/// The desktop menu: one per app, shared by every command.
pub struct Menu {
    dir: PathBuf,
    /// The system browser, remembering each sign-in link for "Copy sign-in link".
    browser: Arc<SignInLinks>,
    notify: Notifier,
    device_name: String,
    inner: Mutex<Inner>,
    /// Serialises whole-session changes (load, enroll, reset) so two never interleave.
    reload: tokio::sync::Mutex<()>,
    /// Becomes true once the first [`Menu::load`] finished.
    loaded: tokio::sync::watch::Sender<bool>,
    /// Federated search: this session's engine and the run in flight.
    search: MenuSearch,
    /// The home screen's widgets: their health, row ids and background refresh.
    pub(crate) widgets: MenuWidgets,
}

impl std::fmt::Debug for Menu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Menu").field("dir", &self.dir).finish()
    }
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) device: Option<Arc<Device>>,
    session: Option<Arc<Session>>,
    problem: Option<Problem>,
    /// Sign-ins waiting for the browser, by integration id.
    connecting: HashMap<String, CancellationToken>,
    /// The last failed action per card, cleared by the next attempt.
    errors: HashMap<String, (String, String)>,
    /// A `latchkey://enroll` link received before the user pressed Enroll.
    pending_link: Option<EnrollLink>,
    /// A newer version the server offers, and how far its install got.
    pub(crate) update: Option<UpdateNotice>,
    /// A company sign-in waiting for the browser (Cancel ends it).
    enrolling_sso: Option<CancellationToken>,
}

/// The catalog's callback path for the connection `id` (one per provider), which keys
/// its sign-in link.
fn callback_path(session: &Session, id: &str) -> Option<String> {
    session
        .catalog_entry(id)?
        .oauth2
        .as_ref()
        .map(|o| o.redirect.path.clone())
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn error_status(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "state": "error", "code": code, "message": message })
}

/// The enrollment an open session belongs to (server and device id), if one is open.
fn enrollment_of(inner: &Inner) -> Option<(String, String)> {
    inner.session.as_ref()?;
    let device = inner.device.as_ref()?;
    Some((device.server().to_owned(), device.device_id().to_owned()))
}

/// Whether the system browser may be handed `url`: https, or http on this computer
/// (a development server, a test org), and never with credentials in it. The admin
/// console and search results both go through it.
fn openable(url: &Url) -> bool {
    url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && is_loopback_url(url)))
}

impl Menu {
    /// A menu over the data in `dir`. Call [`Menu::load`] next.
    pub fn new(dir: &Path, browser: Arc<dyn BrowserLauncher>, notify: Notifier) -> Arc<Menu> {
        Arc::new_cyclic(|me: &std::sync::Weak<Menu>| Menu {
            dir: dir.to_path_buf(),
            // A recorded link changes what the connecting card offers: tell the window.
            browser: Arc::new(SignInLinks::new(browser).on_link({
                let me = me.clone();
                move || {
                    if let Some(menu) = me.upgrade() {
                        menu.changed();
                    }
                }
            })),
            notify,
            device_name: default_device_name(),
            inner: Mutex::new(Inner::default()),
            reload: tokio::sync::Mutex::new(()),
            loaded: tokio::sync::watch::Sender::new(false),
            search: MenuSearch::new(&Settings::load(dir)),
            widgets: MenuWidgets::new(),
        })
    }

    pub(crate) fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in a
        // way that matters more than losing the app, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when the open session came from the cache because the server was
    /// unreachable (cheap: no card is read).
    fn offline(&self) -> bool {
        self.inner()
            .session
            .as_ref()
            .is_some_and(|s| s.offline().is_some())
    }

    /// The data directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn session(&self) -> Result<Arc<Session>, MenuError> {
        self.inner().session.clone().ok_or(MenuError::NotReady)
    }

    /// Reads the enrollment and opens the session: the cards when all is
    /// well, onboarding when not enrolled, or a problem with its way out.
    pub async fn load(&self) -> MenuState {
        let _reload = self.reload.lock().await;
        self.load_locked().await;
        self.loaded.send_replace(true);
        self.changed()
    }

    /// The state once the first load has finished, so a window opening while
    /// the app starts never flashes the onboarding screen at an enrolled user.
    pub async fn loaded_state(&self) -> MenuState {
        let mut loaded = self.loaded.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = loaded.wait_for(|done| *done).await;
        self.state()
    }

    async fn load_locked(&self) {
        let (device, session, problem) = match Device::load(&self.dir) {
            Err(latchkey_device::DeviceError::NotEnrolled) => (None, None, None),
            Err(e) => (
                None,
                None,
                Some(Problem::from_session_error(&SessionError::Device(e))),
            ),
            Ok(device) => {
                let device = Arc::new(device);
                let browser: Arc<dyn BrowserLauncher> = self.browser.clone();
                match Session::open(&device, &self.dir, browser).await {
                    Ok(session) => (Some(device), Some(Arc::new(session)), None),
                    Err(e) => {
                        tracing::warn!(code = %e.code(), "the session could not open");
                        (Some(device), None, Some(Problem::from_session_error(&e)))
                    }
                }
            }
        };
        let same_enrollment = {
            let mut inner = self.inner();
            let before = enrollment_of(&inner);
            inner.device = device;
            inner.session = session;
            inner.problem = problem;
            inner.errors.clear();
            before.is_some() && before == enrollment_of(&inner)
        };
        // The change feed reloads the session on every change the admin makes; the search
        // goes on across those (an app that stopped being searchable is forgotten when the
        // state is published). Another enrollment, or none, starts it afresh: nothing found
        // before can be opened any more.
        if !same_enrollment {
            self.search.reset(&self.settings());
            self.widgets.clear();
        }
    }

    /// The state as the window shows it now.
    pub fn state(&self) -> MenuState {
        let inner = self.inner();
        let account = inner.device.as_ref().map(|d| Account {
            email: d.email().to_owned(),
            server: d.server().to_owned(),
        });
        let enroll_prefill = inner.pending_link.as_ref().map(|l| EnrollPrefill {
            server: l.server.clone(),
            from_link: true,
        });
        let mut problem = inner.problem.clone();
        let mut integrations = Vec::new();
        let mut offline = None;
        if let Some(session) = &inner.session {
            offline = session.offline().map(str::to_owned);
            match session.views() {
                Ok(views) => integrations = views,
                Err(e) => problem = Some(Problem::from_session_error(&e)),
            }
        }
        // From the stored states, before a card shows what the user is doing to it.
        let mut search_apps = search_apps(&integrations);
        for view in &mut integrations {
            if inner.connecting.contains_key(&view.id) {
                let link = inner
                    .session
                    .as_deref()
                    .and_then(|session| callback_path(session, &view.id))
                    .and_then(|p| self.browser.get(&p));
                view.status = serde_json::json!({
                    "state": "connecting",
                    // The card offers "Copy sign-in link" once there is one; the link
                    // itself never reaches the webview.
                    "sign_in_link": link.is_some(),
                    "browser_failed": link.and_then(|l| l.browser_failed),
                });
            } else if let Some((code, message)) = inner.errors.get(&view.id) {
                view.status = error_status(code, message);
            }
        }
        let phase = if problem.is_some() {
            Phase::Problem
        } else if inner.session.is_some() {
            Phase::Ready
        } else {
            Phase::Onboarding
        };
        if phase != Phase::Ready {
            search_apps.clear();
        }
        MenuState {
            phase,
            account,
            offline,
            problem,
            integrations,
            enroll_prefill,
            search_apps,
            update: inner.update.clone(),
            enrolling_sso: inner.enrolling_sso.is_some(),
        }
    }

    /// Recomputes the state and tells the window.
    pub(crate) fn changed(&self) -> MenuState {
        let state = self.state();
        self.publish(&state);
        state
    }

    /// Tells the window, and forgets the search results of any app that can no longer
    /// search (disconnected by the admin, revoked, its grant found dead). That is decided
    /// from the records as they are now, not from `state`, which another thread may have
    /// overtaken since it was computed.
    fn publish(&self, state: &MenuState) {
        if state.phase == Phase::Ready
            && let Ok(views) = self.session().and_then(|s| Ok(s.views()?))
        {
            self.search.keep_only(&search_apps(&views));
        }
        (self.notify)(state);
        // A card that changed may add or take away widgets; the loop looks again.
        self.widgets.wake();
        self.send_widgets();
    }

    /// Re-reads everything from the server (or the cache when offline).
    pub async fn refresh(&self) -> MenuState {
        self.load().await
    }

    /// Gives the server the values the connection `id` asks of this user (a login host,
    /// a subdomain), checked there with the catalog's rules, then loads the cards again
    /// so the card can connect with them. A refused value comes back as the error.
    pub async fn set_connection_values(
        &self,
        id: &str,
        values: std::collections::BTreeMap<String, String>,
    ) -> Result<MenuState, MenuError> {
        let session = self.session()?;
        session.set_values(id, values).await?;
        Ok(self.load().await)
    }

    /// Signs in to `id` through the system browser. Resolves when the tokens
    /// are stored (or the sign-in failed or was cancelled).
    pub async fn connect(&self, id: &str) -> Result<IntegrationView, MenuError> {
        self.connect_with(id, false).await
    }

    /// [`Menu::connect`], saying whether the user agreed to sign out another of their
    /// devices (the provider's approval limit). Without that agreement such a connect
    /// fails with `connect.approval_limit`, naming the device, and the card asks; that
    /// question is not recorded as the card's error.
    pub async fn connect_with(
        &self,
        id: &str,
        confirm_approval_limit: bool,
    ) -> Result<IntegrationView, MenuError> {
        let session = self.session()?;
        let cancel = CancellationToken::new();
        {
            let mut inner = self.inner();
            if inner.connecting.contains_key(id) {
                let name = self.name_of(&session, id);
                return Err(MenuError::AlreadyConnecting { name });
            }
            inner.connecting.insert(id.to_owned(), cancel.clone());
            inner.errors.remove(id);
        }
        self.changed();
        let options = ConnectOptions {
            cancel,
            confirm_approval_limit,
            ..ConnectOptions::default()
        };
        let result = session.connect(id, None, &options).await;
        if let Some(path) = callback_path(&session, id) {
            self.browser.forget(&path);
        }
        {
            let mut inner = self.inner();
            inner.connecting.remove(id);
            if let Err(e) = &result
                && e.code() != "connect.cancelled"
                && e.code() != "connect.approval_limit"
            {
                inner
                    .errors
                    .insert(id.to_owned(), (e.code(), e.to_string()));
            }
        }
        let state = self.changed();
        result?;
        state
            .integrations
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| MenuError::Session(SessionError::UnknownIntegration(id.to_owned())))
    }

    /// The link of the sign-in waiting for `id`, for the clipboard (never the
    /// webview): the user opens it in a browser when the system one did not open.
    pub fn sign_in_link(&self, id: &str) -> Result<Url, MenuError> {
        let session = self.session()?;
        let waiting = self.inner().connecting.contains_key(id);
        let link = callback_path(&session, id).and_then(|p| self.browser.get(&p));
        match (waiting, link) {
            (true, Some(link)) => Ok(link.url),
            _ => Err(MenuError::NoSignIn {
                name: session.display_name(id),
            }),
        }
    }

    /// Cancels a pending sign-in; the card goes back to its previous state.
    pub fn cancel_connect(&self, id: &str) {
        if let Some(cancel) = self.inner().connecting.get(id) {
            cancel.cancel();
        }
    }

    /// Revokes at the provider, deletes here and on the server, and reports each step.
    pub async fn revoke(&self, id: &str) -> Result<RevokeReport, MenuError> {
        let session = self.session()?;
        self.inner().errors.remove(id);
        // Whatever the provider says, nothing found in this app is opened again.
        self.search.forget(id);
        self.widgets.forget(id);
        let result = session.revoke(id, None).await;
        self.search.forget(id);
        self.widgets.forget(id);
        if let Err(e) = &result {
            self.inner()
                .errors
                .insert(id.to_owned(), (e.code(), e.to_string()));
        }
        self.changed();
        Ok(result?)
    }

    /// The way out when the vault key is gone: a new key, every old token void.
    pub async fn reset_vault(&self) -> Result<MenuState, MenuError> {
        let _reload = self.reload.lock().await;
        let device = Device::load(&self.dir).map_err(SessionError::from)?;
        device.reset_vault(&self.dir).map_err(SessionError::from)?;
        self.search.reset(&self.settings());
        self.widgets.clear();
        self.load_locked().await;
        Ok(self.changed())
    }

    /// The admin console's address, checked before anything opens it.
    pub fn console_url(&self) -> Result<Url, MenuError> {
        let server = self
            .inner()
            .device
            .as_ref()
            .map(|d| d.server().to_owned())
            .ok_or(MenuError::NotReady)?;
        let unsafe_url = || MenuError::UnsafeUrl {
            url: server.clone(),
        };
        let url = Url::parse(&server)
            .and_then(|u| u.join("/console/"))
            .map_err(|_| unsafe_url())?;
        if openable(&url) {
            Ok(url)
        } else {
            Err(unsafe_url())
        }
    }

    /// Opens the admin console in the system browser.
    pub fn open_console(&self) -> Result<(), MenuError> {
        let url = self.console_url()?;
        self.browser
            .open_plain(&url)
            .map_err(|e| MenuError::Session(SessionError::Connect(e)))
    }

    /// The saved settings.
    pub fn settings(&self) -> Settings {
        Settings::load(&self.dir)
    }

    /// Saves the settings (the shell applies start-at-login and the shortcut itself).
    /// A new search deadline takes effect with the next search.
    pub fn set_settings(&self, settings: Settings) -> Result<Settings, MenuError> {
        if !SEARCH_DEADLINE_RANGE_MS.contains(&settings.search_deadline_ms) {
            let seconds = |ms: u64| format!("{}", ms as f64 / 1000.0);
            return Err(MenuError::SearchDeadline {
                min: seconds(*SEARCH_DEADLINE_RANGE_MS.start()),
                max: seconds(*SEARCH_DEADLINE_RANGE_MS.end()),
            });
        }
        if !WIDGET_REFRESH_RANGE_MINUTES.contains(&settings.widget_refresh_minutes) {
            return Err(MenuError::WidgetInterval {
                min: *WIDGET_REFRESH_RANGE_MINUTES.start(),
                max: *WIDGET_REFRESH_RANGE_MINUTES.end(),
            });
        }
        let before = self.settings();
        settings.save(&self.dir)?;
        if before.search_deadline_ms != settings.search_deadline_ms {
            self.search.reset(&settings);
        }
        if before.widgets != settings.widgets
            || before.widget_refresh_minutes != settings.widget_refresh_minutes
        {
            self.widgets.wake();
            self.send_widgets();
        }
        Ok(settings)
    }

    /// Searches every connected app that can search (or those the query's `in:` filters
    /// name) and streams what each answers to `sink`, ending the previous search first
    /// (its requests are dropped mid-flight). Returns the run id every update carries.
    /// `refresh` asks the apps again instead of using the five-minute cache.
    pub async fn search(
        &self,
        text: &str,
        refresh: bool,
        sink: SearchSink,
    ) -> Result<u64, MenuError> {
        self.search.cancel();
        let query = Query::parse(text);
        if query.text.chars().count() < 2 {
            return Err(MenuError::SearchTooShort);
        }
        let session = self.session()?;
        let targets: Vec<_> = search_targets(&session)
            .into_iter()
            .filter(|t| query.includes(&t.integration, &t.name))
            .collect();
        if targets.is_empty() {
            return Err(if query.only.is_empty() {
                MenuError::NothingToSearch
            } else {
                MenuError::NoAppMatches {
                    filters: query
                        .only
                        .iter()
                        .map(|f| format!("in:{f}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            });
        }
        Ok(self.search.start(&query, targets, refresh, sink))
    }

    /// Ends the search in flight (Escape, the box emptied): its requests are dropped.
    pub fn cancel_search(&self) {
        self.search.cancel();
    }

    /// The id of the search in flight, if one is.
    pub fn search_running(&self) -> Option<u64> {
        self.search.running()
    }

    /// Opens a search result in the system browser: its opaque id is mapped back to the
    /// record's web link here (the webview never had it), which must still belong to a
    /// connected app and pass the same checks as any URL the menu opens.
    pub fn open_search_result(&self, id: &str) -> Result<(), MenuError> {
        let (integration, link) = self
            .search
            .resolve(&OpaqueId(id.to_owned()))
            .ok_or(MenuError::SearchResultGone)?;
        let still_connected = self
            .session()
            .ok()
            .and_then(|s| s.views().ok())
            .is_some_and(|views| search_apps(&views).iter().any(|a| a.id == integration));
        if !still_connected {
            self.search.forget(&integration);
            return Err(MenuError::SearchResultGone);
        }
        self.open_link(&link, "the result's link")
    }

    /// Opens `link` (a search result's or a widget row's, which the webview never
    /// had) in the system browser, after the checks every URL the menu opens passes.
    pub(crate) fn open_link(&self, link: &str, what: &str) -> Result<(), MenuError> {
        let url = Url::parse(link)
            .ok()
            .filter(openable)
            .ok_or_else(|| MenuError::UnsafeUrl {
                url: what.to_owned(),
            })?;
        self.browser
            .open_plain(&url)
            .map_err(|e| MenuError::Session(SessionError::Connect(e)))
    }

    /// Drops every search result and cached answer, and the widgets' row ids (the app
    /// quits or signs out). The sealed snapshots stay on disk for the next start.
    pub fn clear_search(&self) {
        self.search.clear();
        self.widgets.clear();
    }

    fn name_of(&self, session: &Session, id: &str) -> String {
        session.display_name(id)
    }
}
