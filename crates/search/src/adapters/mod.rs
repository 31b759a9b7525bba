//! One adapter per provider search API: how to ask (the request under the catalog's API
//! base), how the answer pages, and how to read it into [`Hit`]s. The catalog's
//! `[search] adapter = "…"` names the one to use; [`adapter`] finds it.

use std::sync::Arc;

use latchkey_connect::{ApiRequest, ApiResponse};
use serde_json::Value;

use crate::error::SearchError;
use crate::hit::Hit;

mod atlassian;
pub use atlassian::{Site as AtlassianSite, sites as atlassian_sites};
mod box_com;
mod dropbox;
mod github;
mod google_drive;
mod hubspot;
mod microsoft_graph;
mod notion;
#[cfg(test)]
mod routed;
mod salesforce;
mod slack;
mod stripe;
mod wire;
mod zendesk;

/// How an adapter reaches one provider with the user's credentials: the device
/// session's authenticated call (refresh once on a refused token, single flight), or
/// the server's proxy for API-key integrations. Implemented outside this crate.
#[async_trait::async_trait]
pub trait ProviderCall: Send + Sync {
    /// The provider's display name, for messages.
    fn provider(&self) -> &str;
    /// Sends one request relative to the integration's API base.
    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError>;
}

/// One provider's search API.
#[async_trait::async_trait]
pub trait Adapter: Send + Sync {
    /// Searches for `text`, returning at most `limit` hits, best first as the provider
    /// ranks them.
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError>;
}

/// The adapter the catalog names, if this build has it.
pub fn adapter(name: &str) -> Option<Arc<dyn Adapter>> {
    Some(match name {
        "salesforce" => Arc::new(salesforce::Salesforce),
        "github" => Arc::new(github::Github),
        "slack" => Arc::new(slack::Slack),
        "google_drive" => Arc::new(google_drive::GoogleDrive),
        "microsoft_graph" => Arc::new(microsoft_graph::MicrosoftGraph),
        "notion" => Arc::new(notion::Notion),
        "dropbox" => Arc::new(dropbox::Dropbox),
        "box" => Arc::new(box_com::BoxCom),
        "zendesk" => Arc::new(zendesk::Zendesk),
        "stripe" => Arc::new(stripe::Stripe),
        "hubspot" => Arc::new(hubspot::Hubspot),
        "atlassian" => Arc::new(atlassian::Atlassian),
        _ => return None,
    })
}

/// The adapter names this build has (the catalog test checks every `[search]` names one).
pub const ADAPTERS: &[&str] = &[
    "salesforce",
    "github",
    "slack",
    "google_drive",
    "microsoft_graph",
    "notion",
    "dropbox",
    "box",
    "zendesk",
    "stripe",
    "hubspot",
    "atlassian",
];

/// Reads a JSON answer, turning the provider's refusals into [`SearchError`]s: 401 means
/// reconnect; 429, or a 403 that says "rate limit" or Salesforce's
/// `REQUEST_LIMIT_EXCEEDED`, means slow down (with `Retry-After` when sent); other
/// errors carry the provider's message.
pub fn json_answer(call: &dyn ProviderCall, response: &ApiResponse) -> Result<Value, SearchError> {
    let provider = call.provider().to_owned();
    let body = response.json();
    let status = response.status;
    if (200..300).contains(&status) {
        return body.ok_or_else(|| SearchError::Unreadable {
            provider,
            reason: "the answer is not JSON".to_owned(),
        });
    }
    let message = body.as_ref().map(error_message).unwrap_or_default();
    let retry_after = response
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    if status == 401 {
        return Err(SearchError::Reconnect { provider });
    }
    if status == 429
        || (status == 403
            && (text.contains("request_limit_exceeded")
                || text.contains("rate limit")
                || text.contains("ratelimit")))
    {
        return Err(SearchError::RateLimited {
            provider,
            retry_after,
        });
    }
    Err(SearchError::Provider {
        provider,
        status,
        message: if message.is_empty() {
            "no details".to_owned()
        } else {
            message
        },
    })
}

/// The message in the error body shapes providers use, shortened, no control characters.
pub(crate) fn error_message(body: &Value) -> String {
    let candidates = [
        body.pointer("/0/message"),
        body.pointer("/error/message"),
        body.pointer("/message"),
        body.pointer("/error_description"),
        body.pointer("/errorMessages/0"),
        body.pointer("/error"),
    ];
    let text = candidates
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
        .unwrap_or_default();
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// A string field, trimmed, when present and not empty.
pub fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// One line of a longer text (a message) for a title: the first line, shortened.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let mut s: String = line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A scripted [`ProviderCall`]: records requests, answers from a list.
    use super::*;
    use std::sync::Mutex;

    /// (status, headers, body), served last first.
    type Answer = (u16, Vec<(&'static str, String)>, String);

    pub struct Scripted {
        pub name: String,
        pub answers: Mutex<Vec<Answer>>,
        pub seen: Mutex<Vec<ApiRequest>>,
        pub base: String,
    }

    impl Scripted {
        pub fn new(name: &str, base: &str, answers: Vec<(u16, &str)>) -> Self {
            Self {
                name: name.to_owned(),
                answers: Mutex::new(
                    answers
                        .into_iter()
                        .rev()
                        .map(|(s, b)| (s, Vec::new(), b.to_owned()))
                        .collect(),
                ),
                seen: Mutex::new(Vec::new()),
                base: base.to_owned(),
            }
        }

        pub fn with_header(self, name: &'static str, value: &str) -> Self {
            if let Some(last) = self.answers.lock().unwrap().last_mut() {
                last.1.push((name, value.to_owned()));
            }
            self
        }

        pub fn targets(&self) -> Vec<String> {
            self.seen
                .lock()
                .unwrap()
                .iter()
                .map(|r| r.target.clone())
                .collect()
        }
    }

    #[async_trait::async_trait]
    impl ProviderCall for Scripted {
        fn provider(&self) -> &str {
            &self.name
        }

        async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
            let target = request.target.clone();
            self.seen.lock().unwrap().push(request);
            let (status, headers, body) =
                self.answers.lock().unwrap().pop().expect("an answer left");
            let mut map = http::HeaderMap::new();
            for (k, v) in headers {
                map.insert(k, v.parse().unwrap());
            }
            let url = if target.contains("://") {
                url::Url::parse(&target).unwrap()
            } else {
                url::Url::parse(&format!("{}/{}", self.base, target.trim_start_matches('/')))
                    .unwrap()
            };
            Ok(ApiResponse {
                status,
                headers: map,
                body: body.into_bytes(),
                url,
            })
        }
    }
}
