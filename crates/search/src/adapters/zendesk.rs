//! Zendesk: `GET /api/v2/search.json?query=type:ticket …` on the account's own
//! subdomain (the catalog's API base), first page only; Zendesk's relevance order. The
//! answer's `url` is an API URL, so links are the agent workspace's
//! `https://{subdomain}.zendesk.com/agent/tickets/{id}`, on the host the API answered from.
//! Only ticket results are kept, whatever `type:` the user adds.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::wire::body_json;
use super::{Adapter, ProviderCall, encode, json_answer, one_line, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Zendesk;

/// The account's host (`acme.zendesk.com`) when `url` is on one.
fn account_host(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let sub = host.strip_suffix(".zendesk.com")?;
    (!sub.is_empty() && sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(host)
}

#[async_trait::async_trait]
impl Adapter for Zendesk {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!(
                "search.json?query={}&per_page={}",
                encode(&format!("type:ticket {}", text_.trim())),
                limit.clamp(1, 100)
            )))
            .await?;
        let provider = call.provider().to_owned();
        if response.status == 403 {
            // Zendesk's 403 says "Forbidden" in `error` and what to do in `description`.
            let body = body_json(&response);
            return Err(SearchError::Provider {
                provider,
                status: 403,
                message: text(&body, "/description")
                    .or_else(|| text(&body, "/error"))
                    .map(|m| one_line(&m, 300))
                    .unwrap_or_else(|| "Forbidden".to_owned()),
            });
        }
        let body = json_answer(call, &response)?;
        let host = account_host(&response.url).ok_or_else(|| SearchError::Unreadable {
            provider: provider.clone(),
            reason: "the answer did not come from a zendesk.com account".to_owned(),
        })?;
        let results = body
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: provider.clone(),
                reason: "no results in the answer".to_owned(),
            })?;
        Ok(results
            .iter()
            .filter(|r| text(r, "/result_type").as_deref() == Some("ticket"))
            .filter_map(|r| {
                let id = r.get("id").and_then(Value::as_u64)?;
                let status = text(r, "/status");
                let title = text(r, "/subject")
                    .or_else(|| text(r, "/raw_subject"))
                    .or_else(|| text(r, "/description"))
                    .map(|t| one_line(&t, 140))
                    .unwrap_or_else(|| format!("Ticket #{id}"));
                Some(Hit {
                    native_id: id.to_string(),
                    title,
                    subtitle: Some(match status {
                        Some(s) => format!("Ticket #{id} · {s}"),
                        None => format!("Ticket #{id}"),
                    }),
                    kind: "ticket".to_owned(),
                    url: format!("https://{host}/agent/tickets/{id}"),
                    updated_at: text(r, "/updated_at").and_then(|t| parse_timestamp(&t)),
                })
            })
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::testing::Scripted;
    use crate::engine::link_allowed;

    const BASE: &str = "https://acme.zendesk.com/api/v2";

    #[tokio::test]
    async fn tickets_link_to_the_agent_workspace_on_the_accounts_host() {
        let call = Scripted::new(
            "Zendesk",
            BASE,
            vec![(
                200,
                r#"{"results":[
                {"url":"https://acme.zendesk.com/api/v2/tickets/35.json","id":35,"result_type":"ticket","subject":"Q3 invoice missing","raw_subject":"Q3 invoice missing","status":"open","updated_at":"2025-05-01T10:00:00Z"},
                {"url":"https://acme.zendesk.com/api/v2/users/7.json","id":7,"result_type":"user","name":"Q3 Bot"},
                {"id":36,"result_type":"ticket","subject":null,"description":"Where is my Q3 report?\nThanks","status":"new"}
            ],"facets":null,"next_page":"https://acme.zendesk.com/api/v2/search.json?page=2&query=type%3Aticket+q3","previous_page":null,"count":3}"#,
            )],
        );
        let hits = Zendesk.search(&call, "q3", 25).await.unwrap();
        assert_eq!(hits.len(), 2, "users are not tickets");
        assert_eq!(hits[0].title, "Q3 invoice missing");
        assert_eq!(hits[0].subtitle.as_deref(), Some("Ticket #35 · open"));
        assert_eq!(hits[0].url, "https://acme.zendesk.com/agent/tickets/35");
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].title, "Where is my Q3 report?");
        assert!(
            hits.iter()
                .all(|h| link_allowed(&h.url, &[".zendesk.com".to_owned()], None))
        );
        assert_eq!(
            call.targets()[0],
            "search.json?query=type%3Aticket+q3&per_page=25"
        );
    }

    #[tokio::test]
    async fn unauthenticated_forbidden_and_rate_limited() {
        let call = Scripted::new(
            "Zendesk",
            BASE,
            vec![
                (401, r#"{"error":"Couldn't authenticate you"}"#),
                (
                    403,
                    r#"{"error":"Forbidden","description":"You do not have access to this page. Please contact the account owner of this help desk for further help."}"#,
                ),
            ],
        );
        let e = Zendesk.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = Zendesk.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("do not have access"), "{e}");

        let call = Scripted::new(
            "Zendesk",
            BASE,
            vec![(429, "Rate limit for search exceeded")],
        )
        .with_header("Retry-After", "60");
        assert_eq!(
            Zendesk.search(&call, "q3", 5).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "Zendesk".into(),
                retry_after: Some(60)
            }
        );
    }
}
