//! Home-screen widgets on this device: which ones the user's connections offer, their
//! snapshots sealed with the vault key under `widgets/` in the data dir (so the home
//! screen opens instantly and offline, and a stolen disk shows nothing), refreshed
//! through the session's authenticated call, and wiped with the connection (revoke,
//! an admin's order, a revoked computer).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_catalog::Catalog;
use latchkey_search::RecordingCall;
use latchkey_vault::SlotId;
use latchkey_widgets::{Snapshot, WidgetKind, refresh};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::search::session_call;
use crate::session::{Session, SessionError};

/// A widget a connection offers, with what it last showed.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetView {
    pub kind: WidgetKind,
    pub integration: String,
    /// The integration's display name.
    pub name: String,
    /// The catalog's icon name.
    pub icon: String,
    /// The widget's title ("Recent Accounts").
    pub title: String,
    /// The admin offers it on the home screen by default (or left every widget on);
    /// the user may still show or hide it.
    pub offered_by_default: bool,
    /// The last snapshot, when there is one.
    pub snapshot: Option<Snapshot>,
}

const DIR: &str = "widgets";

fn file(dir: &Path, integration: &str, environment: &str, kind: WidgetKind) -> PathBuf {
    dir.join(DIR)
        .join(format!("{integration}.{environment}.{}.lkw", kind.id()))
}

/// Removes the sealed snapshots of `integration` (`None`: all of them). Best effort: a
/// file that cannot be removed is still sealed.
pub fn wipe(dir: &Path, integration: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(dir.join(DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if integration.is_none_or(|id| name.starts_with(&format!("{id}.")))
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!("could not remove a widget snapshot: {e}");
        }
    }
}

impl Session {
    /// The widgets the admin offers by default on the user's connected integrations,
    /// each with its last snapshot (opened from disk; none yet, or one that no longer
    /// opens, shows as empty).
    pub fn widgets(&self) -> Vec<WidgetView> {
        self.available_widgets()
            .into_iter()
            .filter(|w| w.offered_by_default)
            .collect()
    }

    /// Every widget the user's connected integrations can show (what the catalog
    /// offers), each marked with whether the admin offers it by default: the menu lets
    /// the user pick among them.
    pub fn available_widgets(&self) -> Vec<WidgetView> {
        let Ok(catalog) = Catalog::builtin() else {
            return Vec::new();
        };
        let Ok(views) = self.views() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for view in views {
            if view.status["state"].as_str() != Some("connected") {
                continue;
            }
            let Some(search) = catalog
                .get(&view.provider)
                .ok()
                .and_then(|p| p.search.as_ref())
            else {
                continue;
            };
            // The admin's defaults where they chose, else every widget the catalog offers.
            let defaults = self.default_widgets(&view.id);
            for kind in search
                .widgets
                .iter()
                .filter_map(|id| WidgetKind::from_id(id))
            {
                out.push(WidgetView {
                    kind,
                    integration: view.id.clone(),
                    name: view.name.clone(),
                    icon: view.icon.clone(),
                    title: kind.title().to_owned(),
                    offered_by_default: defaults
                        .as_ref()
                        .is_none_or(|ids| ids.iter().any(|id| id == kind.id())),
                    snapshot: self.load_snapshot(&view.id, &view.environment, kind),
                });
            }
        }
        out
    }

    fn load_snapshot(
        &self,
        integration: &str,
        environment: &str,
        kind: WidgetKind,
    ) -> Option<Snapshot> {
        let sealed = std::fs::read(file(self.dir(), integration, environment, kind)).ok()?;
        let slot = SlotId::new(integration, environment).ok()?;
        let plain = self
            .connector()
            .vault()
            .open_snapshot(&slot, kind.number(), &sealed)
            .map_err(|e| {
                tracing::warn!(
                    code = e.code(),
                    "a widget snapshot does not open; it will be fetched again"
                )
            })
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Refreshes one widget (incrementally where its API allows), seals the new
    /// snapshot to disk, and returns it. On failure the last snapshot stays.
    pub async fn refresh_widget(
        self: &Arc<Self>,
        integration: &str,
        kind: WidgetKind,
    ) -> Result<Snapshot, SessionError> {
        let (found, _) = self.find_any(integration, None)?;
        let environment = found.environment.to_string();
        let previous = self.load_snapshot(integration, &environment, kind);
        let web_hosts = Catalog::builtin()
            .ok()
            .and_then(|c| c.get(&found.provider).ok())
            .and_then(|p| p.search.as_ref())
            .map(|s| s.web_hosts.clone())
            .unwrap_or_default();
        let call = RecordingCall::new(session_call(self, integration)?);
        let now = i64::try_from(latchkey_connect::oauth::unix_now()).unwrap_or(i64::MAX);
        let mut snapshot = refresh(kind, &call, previous.as_ref(), now)
            .await
            .map_err(SessionError::WidgetRefresh)?;
        // A row whose link is not on the app's own web hosts is dropped, as in search:
        // opening it later must never send the user somewhere the app did not mean.
        snapshot
            .items
            .retain(|item| call.allows(&item.url, &web_hosts));
        let plain = Zeroizing::new(
            serde_json::to_vec(&snapshot).map_err(|e| SessionError::Widget(e.to_string()))?,
        );
        let slot = SlotId::new(integration, &environment).map_err(SessionError::from)?;
        let sealed = self
            .connector()
            .vault()
            .seal_snapshot(&slot, kind.number(), &plain)
            .map_err(SessionError::from)?;
        // Revoked while the app answered: nothing of it is written back.
        self.find_any(integration, None)?;
        let path = file(self.dir(), integration, &environment, kind);
        latchkey_private_files::create_dir(&self.dir().join(DIR))
            .and_then(|()| latchkey_private_files::write(&path, &sealed))
            .map_err(|e| {
                SessionError::Widget(format!(
                    "could not save the widget to {}: {e}",
                    path.display()
                ))
            })?;
        Ok(snapshot)
    }
}
