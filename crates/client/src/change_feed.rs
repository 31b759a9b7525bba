//! The server's change feed (`GET /v1/events`, server-sent events), read by the
//! desktop menu so a card changes as soon as the admin enables, reconfigures or
//! disconnects something. Events carry ids and kinds only, never secrets; the
//! menu re-reads what changed through the ordinary API.

use std::time::Duration;

use latchkey_protocol::device::{ChangeKind, FeedChange, FeedReady};
use latchkey_protocol::ids::IntegrationId;

use crate::{ClientError, ServerClient};

/// Longest line accepted from the feed; the server's events are tiny.
const MAX_LINE: usize = 16 * 1024;

/// A stream is re-opened after this long so a silently dead connection (a
/// sleeping laptop, a proxy that drops idle streams) is noticed. The server
/// sends a keep-alive comment every 15 s and resumes from `Last-Event-ID`.
const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// One event from the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The change-log sequence number, when the event has one.
    pub seq: Option<i64>,
    /// What changed (the SSE event name): `ready`, `integration.enabled`, ...;
    /// [`ChangeKind::Unknown`] for a name this build does not know.
    pub kind: ChangeKind,
    /// The integration it concerns, when it concerns one.
    pub integration_id: Option<IntegrationId>,
}

impl ChangeEvent {
    /// True when this device has been revoked: the feed ends after it.
    pub fn is_device_revoked(&self) -> bool {
        self.kind == ChangeKind::DeviceRevoked
    }
}

/// Parses the event stream: `event:`, `id:` and `data:` fields, a blank line
/// ends an event, `:` lines are keep-alive comments.
#[derive(Debug, Default)]
struct EventParser {
    line: Vec<u8>,
    kind: Option<String>,
    id: Option<String>,
    data: String,
}

impl EventParser {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChangeEvent>) -> Result<(), ClientError> {
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                let line = String::from_utf8(line).map_err(|_| ClientError::InvalidResponse {
                    reason: "the change feed sent text that is not UTF-8".to_owned(),
                })?;
                self.field(line.trim_end_matches('\r'), out);
            } else {
                if self.line.len() >= MAX_LINE {
                    return Err(ClientError::InvalidResponse {
                        reason: "the change feed sent a line that is too long".to_owned(),
                    });
                }
                self.line.push(b);
            }
        }
        Ok(())
    }

    fn field(&mut self, line: &str, out: &mut Vec<ChangeEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "event" => self.kind = Some(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<ChangeEvent>) {
        let kind = self.kind.take();
        let id = self.id.take();
        let data = std::mem::take(&mut self.data);
        let Some(kind) = kind else { return };
        // A change carries its seq and integration; `ready` its seq; the revocation
        // that ends the stream neither. Data that fits none still dispatches the event.
        let (data_seq, integration_id) = match serde_json::from_str::<FeedChange>(&data) {
            Ok(change) => (Some(change.seq), change.integration_id),
            Err(_) => (
                serde_json::from_str::<FeedReady>(&data).ok().map(|r| r.seq),
                None,
            ),
        };
        out.push(ChangeEvent {
            seq: id.and_then(|i| i.parse().ok()).or(data_seq),
            kind: ChangeKind::from_name(&kind),
            integration_id,
        });
    }
}

impl ServerClient {
    /// Follows the change feed from `since` (or from now), calling `on_event`
    /// for each event, until the stream ends, breaks, or the device is revoked.
    /// Returns the last sequence number seen so the caller can resume.
    pub async fn follow_changes(
        &self,
        since: Option<i64>,
        mut on_event: impl FnMut(ChangeEvent),
    ) -> Result<Option<i64>, ClientError> {
        let mut request = self
            .authed(self.http.get(self.url("/v1/events")))?
            .header("Accept", "text/event-stream")
            .timeout(STREAM_LIFETIME);
        if let Some(seq) = since {
            request = request.header("Last-Event-ID", seq.to_string());
        }
        let mut response = request.send().await.map_err(|_| ClientError::Network {
            reason: "could not connect to the server's change feed".to_owned(),
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(ClientError::from_status(status.as_u16(), &body, None));
        }
        let mut parser = EventParser::default();
        let mut last = since;
        let mut events = Vec::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                // The stream ended or timed out: the caller resumes from `last`.
                Ok(None) | Err(_) => return Ok(last),
            };
            parser.push(&chunk, &mut events)?;
            for event in events.drain(..) {
                if let Some(seq) = event.seq {
                    last = Some(last.map_or(seq, |l| l.max(seq)));
                }
                let revoked = event.is_device_revoked();
                on_event(event);
                if revoked {
                    return Ok(last);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Result<Vec<ChangeEvent>, ClientError> {
        let mut parser = EventParser::default();
        let mut out = Vec::new();
        for c in chunks {
            parser.push(c, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let events = parse(&[
            b"id: 7\nevent: ready\ndata: {\"seq\":7}\n\n: keep-alive\n\nid: 8\nevent: integ",
            b"ration.enabled\r\ndata: {\"seq\":8,\"kind\":\"integration.enabled\",\"integration_id\":\"salesforce\"}\r\n\r\n",
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![
                ChangeEvent {
                    seq: Some(7),
                    kind: ChangeKind::Ready,
                    integration_id: None
                },
                ChangeEvent {
                    seq: Some(8),
                    kind: ChangeKind::IntegrationEnabled,
                    integration_id: Some("salesforce".into())
                },
            ]
        );
    }

    #[test]
    fn a_comment_or_an_event_without_a_name_dispatches_nothing() {
        assert!(parse(&[b": hello\n\ndata: {}\n\n"]).unwrap().is_empty());
    }

    #[test]
    fn an_endless_line_is_refused_with_a_clear_error() {
        let long = vec![b'a'; MAX_LINE + 1];
        let err = parse(&[&long]).unwrap_err();
        assert_eq!(err.code(), "client.invalid_response");
        assert!(err.to_string().contains("too long"), "{err}");
    }

    #[test]
    fn the_revocation_event_is_recognised() {
        let events = parse(&[b"event: device.revoked\ndata: {\"device_id\":\"d1\"}\n\n"]).unwrap();
        assert!(events[0].is_device_revoked());
        assert_eq!(events[0].seq, None);
    }

    #[test]
    fn a_kind_from_a_newer_server_is_still_an_event() {
        let events = parse(&[b"id: 9
event: widget.added
data: {\"seq\":9,\"kind\":\"widget.added\",\"integration_id\":null,\"at\":1}\n\n"])
        .unwrap();
        assert_eq!(events[0].kind, ChangeKind::Unknown);
        assert_eq!(events[0].seq, Some(9));
        assert!(events[0].kind != "ready");
    }
}
