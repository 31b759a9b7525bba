//! Search on this device: which of the user's connections can search, and the
//! authenticated call each search goes through (the session's, so a refused token is
//! refreshed once, single flight, and API-key integrations go through the server's
//! proxy). Results never leave memory: see `latchkey-search`.

use std::sync::Arc;

use latchkey_catalog::Catalog;
use latchkey_connect::{ApiRequest, ApiResponse, ConnectOptions};
use latchkey_search::{ProviderCall, SearchError, Target, adapter};

use crate::session::{Session, SessionError};

/// The targets of a search: every integration of this session whose catalog entry can
/// search and that is connected (API-key ones always are). One whose granted scopes
/// lack the search scope is included as a note ("ask your admin to add …").
pub fn search_targets(session: &Arc<Session>) -> Vec<Target> {
    let Ok(catalog) = Catalog::builtin() else {
        return Vec::new();
    };
    let Ok(views) = session.views() else {
        return Vec::new();
    };
    let mut targets = Vec::new();
    for view in views {
        let Ok(provider) = catalog.get(&view.provider) else {
            continue;
        };
        let Some(search) = &provider.search else {
            continue;
        };
        let connected = matches!(
            view.status["state"].as_str(),
            Some("connected" | "connected_by_admin")
        );
        if !connected {
            continue;
        }
        let Some(adapter) = adapter(&search.adapter) else {
            tracing::warn!(integration = %view.id, adapter = %search.adapter, "no search adapter in this build");
            continue;
        };
        let granted = session.scopes_of(&view.id).unwrap_or_default();
        let granted = if granted.is_empty() {
            provider
                .oauth2
                .as_ref()
                .map(|o| o.default_scopes.clone())
                .unwrap_or_default()
        } else {
            granted
        };
        let skip = (view.auth == "oauth2"
            && !search.scopes.is_empty()
            && !search.scopes.iter().any(|s| granted.contains(s)))
        .then(|| SearchError::MissingScope {
            provider: view.name.clone(),
            scopes: search.scopes.join(" or "),
        });
        targets.push(Target {
            integration: view.id.clone(),
            provider: view.provider.clone(),
            name: view.name.clone(),
            adapter,
            web_hosts: search.web_hosts.clone(),
            call: Arc::new(SessionCall {
                session: Arc::clone(session),
                id: view.id.clone(),
                name: view.name.clone(),
            }),
            skip,
        });
    }
    targets
}

/// The authenticated call for one of the session's integrations (widgets use it too).
pub(crate) fn session_call(
    session: &Arc<Session>,
    id: &str,
) -> Result<Arc<dyn ProviderCall>, SessionError> {
    // The connection's name without the session's views (they would open every record).
    session.find_any(id, None)?;
    let name = session.display_name(id);
    Ok(Arc::new(SessionCall {
        session: Arc::clone(session),
        id: id.to_owned(),
        name,
    }))
}

/// One integration's calls through the session.
struct SessionCall {
    session: Arc<Session>,
    id: String,
    name: String,
}

#[async_trait::async_trait]
impl ProviderCall for SessionCall {
    fn provider(&self) -> &str {
        &self.name
    }

    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
        self.session
            .call(&self.id, None, &request, &ConnectOptions::default())
            .await
            .map_err(|e| to_search_error(&self.name, &e))
    }
}

/// A session error as a search row: reconnect, unreachable, or the provider's words.
fn to_search_error(provider: &str, e: &SessionError) -> SearchError {
    let provider = provider.to_owned();
    let code = e.code();
    if e.needs_reconnect() || code.contains("not_connected") || code.contains("disconnected") {
        SearchError::Reconnect { provider }
    } else if code.ends_with(".network") || code.ends_with(".offline") {
        SearchError::Unreachable {
            provider,
            reason: e.to_string(),
        }
    } else {
        SearchError::Provider {
            provider,
            status: 0,
            message: e.to_string(),
        }
    }
}
