//! The change feed: server-sent events telling a device's menu what changed
//! (integration enabled/updated/disabled, records changed, disconnected, device
//! revoked). It polls the database's change log, so it works the same with one
//! SQLite server or many replicas over one PostgreSQL.

use crate::auth::DeviceAuth;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use latchkey_protocol::device::{ChangeKind, FeedChange, FeedDeviceRevoked, FeedQuery, FeedReady};
use latchkey_server_database::Change;
use serde::Serialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

struct Subscriber {
    state: AppState,
    org_id: String,
    user_id: String,
    device_id: String,
    token_hash: Vec<u8>,
    cursor: i64,
    pending: VecDeque<Event>,
    first: bool,
    done: bool,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.state
            .metrics
            .feed_subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// An event whose `data` is `body` as JSON.
fn event(kind: ChangeKind, body: &impl Serialize) -> Event {
    let data = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(kind.as_str()).data(data)
}

/// A change from the log as its event. Every writer names a [`ChangeKind`]; a kind
/// this build does not know (a newer replica's) is passed on by its name.
fn change_event(c: &Change) -> Event {
    let kind = ChangeKind::from_name(&c.kind);
    if kind == ChangeKind::Unknown {
        let data = serde_json::json!({ "seq": c.seq, "kind": c.kind, "integration_id": c.integration_id, "at": c.at });
        return Event::default()
            .id(c.seq.to_string())
            .event(c.kind.clone())
            .data(data.to_string());
    }
    let body = FeedChange {
        seq: c.seq,
        kind,
        integration_id: c.integration_id.clone().map(Into::into),
        at: c.at,
    };
    event(kind, &body).id(c.seq.to_string())
}

pub async fn events(
    State(state): State<AppState>,
    auth: DeviceAuth,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let cursor = match q.since.or(last_event_id) {
        Some(since) => since.max(0),
        None => state.db.latest_change_seq(&state.org.id).await?,
    };
    state
        .metrics
        .feed_subscribers
        .fetch_add(1, Ordering::Relaxed);
    let sub = Subscriber {
        org_id: state.org.id.clone(),
        user_id: auth.user.id.clone(),
        device_id: auth.device.id.clone(),
        token_hash: auth.device.token_hash.clone(),
        state,
        cursor,
        pending: VecDeque::new(),
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(sub, |mut sub| async move {
        loop {
            if let Some(event) = sub.pending.pop_front() {
                return Some((Ok(event), sub));
            }
            if sub.done {
                return None;
            }
            if sub.first {
                sub.first = false;
                let ready = event(ChangeKind::Ready, &FeedReady { seq: sub.cursor })
                    .id(sub.cursor.to_string());
                return Some((Ok(ready), sub));
            }
            let poll = Duration::from_millis(sub.state.config.feed_poll_millis);
            let mut shutdown = sub.state.shutdown.clone();
            if *shutdown.borrow() {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return None,
            }
            sub.poll().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

impl Subscriber {
    async fn poll(&mut self) {
        // A revoked (or deleted) device's stream ends at once.
        let still_valid = match self.state.db.device_by_token_hash(&self.token_hash).await {
            Ok(Some(d)) => d.revoked_at.is_none() && d.id == self.device_id,
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "change feed could not check its device");
                return;
            }
        };
        if !still_valid {
            self.pending.push_back(event(
                ChangeKind::DeviceRevoked,
                &FeedDeviceRevoked {
                    device_id: self.device_id.clone().into(),
                },
            ));
            self.done = true;
            return;
        }
        match self
            .state
            .db
            .changes_since(&self.org_id, &self.user_id, self.cursor, 500)
            .await
        {
            Ok(changes) => {
                for c in &changes {
                    self.cursor = self.cursor.max(c.seq);
                    self.pending.push_back(change_event(c));
                }
            }
            Err(e) => tracing::warn!(error = %e, "change feed poll failed"),
        }
    }
}
