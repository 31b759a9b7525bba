//! Home-screen widgets: small live lists from the user's connected apps, fetched with
//! the user's own token through the same authenticated call as search
//! ([`ProviderCall`]). A widget's [`Snapshot`] (its items and, where the API allows an
//! incremental sync, its cursor) is sealed with the vault key by the device before it
//! touches disk, so the home screen opens instantly and offline; see
//! `latchkey_device::widgets`.
//!
//! - [`WidgetKind`]: which widgets exist and for which integration.
//! - [`refresh`]: one refresh, incremental when a cursor allows it.
//! - [`next_refresh`]: when to refresh next (interval with jitter, backoff on failure).

#![forbid(unsafe_code)]

mod github;
mod google_drive;
mod jira;
mod onedrive;
mod salesforce;
mod schedule;

use latchkey_search::{ProviderCall, SearchError};
use serde::{Deserialize, Serialize};

pub use schedule::{next_refresh, random_jitter};

/// The widgets this build offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetKind {
    /// Salesforce: Accounts changed most recently (incremental on `SystemModstamp`).
    SalesforceRecentAccounts,
    /// GitHub: open pull requests waiting for the user's review.
    GithubReviewRequests,
    /// Google Drive: files changed most recently.
    DriveRecentFiles,
    /// Jira: issues assigned to the user, not done.
    JiraAssigned,
    /// OneDrive and SharePoint: files the user opened most recently.
    OneDriveRecentFiles,
}

impl WidgetKind {
    pub const ALL: [WidgetKind; 5] = [
        Self::SalesforceRecentAccounts,
        Self::GithubReviewRequests,
        Self::DriveRecentFiles,
        Self::JiraAssigned,
        Self::OneDriveRecentFiles,
    ];

    /// The stable id (`salesforce.recent_accounts`), for settings and file names.
    pub fn id(self) -> &'static str {
        match self {
            Self::SalesforceRecentAccounts => "salesforce.recent_accounts",
            Self::GithubReviewRequests => "github.review_requests",
            Self::DriveRecentFiles => "drive.recent_files",
            Self::JiraAssigned => "jira.assigned",
            Self::OneDriveRecentFiles => "onedrive.recent_files",
        }
    }

    /// The widget's number, bound into its sealed snapshot (frozen: never reuse one).
    pub fn number(self) -> u64 {
        match self {
            Self::SalesforceRecentAccounts => 1,
            Self::GithubReviewRequests => 2,
            Self::DriveRecentFiles => 3,
            Self::JiraAssigned => 4,
            Self::OneDriveRecentFiles => 5,
        }
    }

    /// The title shown on the home screen.
    pub fn title(self) -> &'static str {
        match self {
            Self::SalesforceRecentAccounts => "Recent Accounts",
            Self::GithubReviewRequests => "Waiting for your review",
            Self::DriveRecentFiles => "Recent files",
            Self::JiraAssigned => "Assigned to you",
            Self::OneDriveRecentFiles => "Recent files",
        }
    }

    /// The catalog search adapter of the integrations it works with (Salesforce's
    /// widget works for any integration whose search adapter is `salesforce`).
    pub fn adapter(self) -> &'static str {
        match self {
            Self::SalesforceRecentAccounts => "salesforce",
            Self::GithubReviewRequests => "github",
            Self::DriveRecentFiles => "google_drive",
            Self::JiraAssigned => "atlassian",
            Self::OneDriveRecentFiles => "microsoft_graph",
        }
    }

    /// The widgets for an integration whose search adapter is `adapter`.
    pub fn for_adapter(adapter: &str) -> Vec<WidgetKind> {
        Self::ALL
            .into_iter()
            .filter(|k| k.adapter() == adapter)
            .collect()
    }

    /// The widget with this stable id (the catalog's `[search] widgets`).
    pub fn from_id(id: &str) -> Option<WidgetKind> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }
}

/// One row of a widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The provider's id (stays on the device; the webview gets an opaque id).
    pub native_id: String,
    pub title: String,
    pub subtitle: Option<String>,
    /// Where it opens (checked against the catalog's web hosts before opening).
    pub url: String,
    /// Seconds since the epoch.
    pub updated_at: Option<i64>,
}

/// What a widget shows, and where an incremental refresh resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Newest first, at most [`MAX_ITEMS`].
    pub items: Vec<Item>,
    /// The provider's own change marker to resume from (Salesforce: the newest
    /// `SystemModstamp` seen). `None`: the next refresh is a full one.
    pub cursor: Option<String>,
    /// When it was last refreshed, seconds since the epoch.
    pub refreshed_at: i64,
    /// How many rows the last refresh fetched (a full refresh fetches them all; an
    /// incremental one only what changed).
    pub fetched: usize,
}

impl Snapshot {
    /// What a full refresh shows: these items, no cursor.
    pub(crate) fn full(items: Vec<Item>) -> Self {
        Self {
            fetched: items.len(),
            items,
            cursor: None,
            refreshed_at: 0,
        }
    }
}

/// The list under `key` in a provider's answer, or why the answer cannot be read.
pub(crate) fn list<'a>(
    call: &dyn ProviderCall,
    body: &'a serde_json::Value,
    key: &str,
) -> Result<&'a Vec<serde_json::Value>, WidgetError> {
    body.get(key)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| WidgetError::Unreadable {
            provider: call.provider().to_owned(),
            reason: format!("no {key} in the answer"),
        })
}

/// Items a snapshot keeps.
pub const MAX_ITEMS: usize = 50;

/// Why a widget could not refresh (the last snapshot stays shown).
pub type WidgetError = SearchError;

/// Refreshes `kind` from `previous` (incrementally where it can) at time `now`.
pub async fn refresh(
    kind: WidgetKind,
    call: &dyn ProviderCall,
    previous: Option<&Snapshot>,
    now: i64,
) -> Result<Snapshot, WidgetError> {
    let mut snapshot = match kind {
        WidgetKind::SalesforceRecentAccounts => salesforce::refresh(call, previous, now).await?,
        WidgetKind::GithubReviewRequests => github::refresh(call).await?,
        WidgetKind::DriveRecentFiles => google_drive::refresh(call).await?,
        WidgetKind::JiraAssigned => jira::refresh(call).await?,
        WidgetKind::OneDriveRecentFiles => onedrive::refresh(call).await?,
    };
    snapshot.refreshed_at = now;
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_numbers_and_ids_are_unique_and_frozen() {
        let numbers: Vec<u64> = WidgetKind::ALL.iter().map(|k| k.number()).collect();
        assert_eq!(
            numbers,
            [1, 2, 3, 4, 5],
            "frozen: sealed snapshots bind them"
        );
        let mut ids: Vec<&str> = WidgetKind::ALL.iter().map(|k| k.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), WidgetKind::ALL.len());
        for kind in WidgetKind::ALL {
            assert!(
                latchkey_search::adapter(kind.adapter()).is_some(),
                "{kind:?} names a search adapter"
            );
        }
        assert_eq!(
            WidgetKind::for_adapter("atlassian"),
            [WidgetKind::JiraAssigned]
        );
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A scripted [`ProviderCall`] for the widgets' tests.
    use latchkey_connect::{ApiRequest, ApiResponse};
    use latchkey_search::{ProviderCall, SearchError};
    use std::sync::Mutex;

    pub struct Scripted {
        pub base: String,
        pub answers: Mutex<Vec<(u16, String)>>,
        pub seen: Mutex<Vec<String>>,
    }

    impl Scripted {
        pub fn new(base: &str, answers: Vec<(u16, &str)>) -> Self {
            Self {
                base: base.to_owned(),
                answers: Mutex::new(
                    answers
                        .into_iter()
                        .rev()
                        .map(|(s, b)| (s, b.to_owned()))
                        .collect(),
                ),
                seen: Mutex::new(Vec::new()),
            }
        }

        pub fn targets(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl ProviderCall for Scripted {
        fn provider(&self) -> &str {
            "Fake"
        }

        async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
            self.seen.lock().unwrap().push(request.target.clone());
            let (status, body) = self.answers.lock().unwrap().pop().expect("an answer left");
            let url = if request.target.contains("://") {
                url::Url::parse(&request.target).unwrap()
            } else {
                url::Url::parse(&format!(
                    "{}/{}",
                    self.base,
                    request.target.trim_start_matches('/')
                ))
                .unwrap()
            };
            Ok(ApiResponse {
                status,
                headers: http::HeaderMap::new(),
                body: body.into_bytes(),
                url,
            })
        }
    }
}
