//! What the menu does on its own while the app runs: noticing the CLI's local
//! changes and following the server's change feed.

use std::sync::Arc;
use std::time::Duration;

use latchkey_client::{ChangeEvent, ClientError, ServerClient};
use latchkey_connect::TokenInfo;
use latchkey_device::SessionError;
use latchkey_device::token_agent::{self, AgentError, TokenRequest};
use tokio_util::sync::CancellationToken;

use super::Menu;

impl Menu {
    /// Serves `latchkey token` from this app's open session until `stop`
    /// ([`token_agent`]): the CLI skips the key derivation and the server round trip,
    /// and gets what this app, which follows the change feed, knows now.
    pub async fn serve_tokens(self: Arc<Self>, stop: CancellationToken) {
        let menu = Arc::clone(&self);
        token_agent::serve(self.dir.clone(), stop, move |request| {
            let menu = Arc::clone(&menu);
            async move { menu.agent_token(request).await }
        })
        .await;
    }

    /// One token for the agent. What only a fresh session could answer (not
    /// enrolled here, an integration this app has not loaded yet) sends the CLI
    /// to the vault itself.
    pub(crate) async fn agent_token(&self, request: TokenRequest) -> Result<TokenInfo, AgentError> {
        let session = self
            .session()
            .map_err(|e| AgentError::Unavailable(e.to_string()))?;
        match session
            .token_info(
                &request.integration,
                request.environment.as_deref(),
                request.refresh,
            )
            .await
        {
            Ok(info) => Ok(info),
            Err(e @ SessionError::UnknownIntegration(_)) => {
                Err(AgentError::Unavailable(e.to_string()))
            }
            Err(e) => Err(AgentError::Refused {
                code: e.code(),
                message: e.to_string(),
                reconnect: e.needs_reconnect(),
            }),
        }
    }

    /// Re-reads this computer's own records now and then, so a change made by
    /// the `latchkey` CLI (a refresh that found the grant dead, a revoke) shows
    /// without the user doing anything. Tells the window only when the state changed.
    pub async fn watch_local(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        let mut last = self.state();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let now = self.state();
            if now != last {
                self.publish(&now);
                last = now;
            }
        }
    }

    /// Follows the server's change feed for as long as the app runs, reloading
    /// the cards when the admin changes something. Reconnects with backoff
    /// when the server is away; then reloads so the offline banner clears.
    pub async fn follow_changes(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = Duration::from_secs(1);
        let mut since = None;
        loop {
            let device = self.inner().device.clone();
            let client = device.as_ref().and_then(|d| {
                let token = d.token().ok()?;
                ServerClient::new(d.server())
                    .ok()
                    .map(|c| c.with_token(token))
            });
            let Some(client) = client else {
                // Not enrolled (yet): look again later.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let follow = client.follow_changes(since, move |event| {
                let _ = tx.send(event);
            });
            tokio::pin!(follow);
            let outcome = loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    outcome = &mut follow => break outcome,
                    Some(event) = rx.recv() => {
                        backoff = Duration::from_secs(1);
                        // One reload covers a burst: take what queued behind this event too.
                        let changed = event.kind != "ready" || queued_changes(&mut rx);
                        if changed || self.offline() {
                            tracing::debug!(kind = %event.kind, "change feed: reloading");
                            self.load().await;
                        }
                    }
                }
            };
            // What arrived just before the stream ended.
            let mut reload = queued_changes(&mut rx);
            match outcome {
                Ok(last) => since = last.or(since),
                Err(ClientError::Unauthorized { .. }) => reload = true,
                Err(e) => tracing::debug!(code = %e.code(), "change feed unavailable"),
            }
            if reload {
                self.load().await;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
            if self.offline() {
                self.load().await;
            }
        }
    }
}

/// Empties the queue of feed events; true if any was a change (not the
/// stream's `ready`).
fn queued_changes(rx: &mut tokio::sync::mpsc::UnboundedReceiver<ChangeEvent>) -> bool {
    let mut changed = false;
    while let Ok(event) = rx.try_recv() {
        changed |= event.kind != "ready";
    }
    changed
}
