//! Slack: `search.messages` with the user's token (bot tokens cannot search). Slack
//! reports errors with HTTP 200 and `{"ok": false, "error": "…"}`: `invalid_auth`,
//! `token_expired`, `token_revoked` mean reconnect, `missing_scope` names the scope,
//! `ratelimited` (or 429 with `Retry-After`) means slow down.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::{Adapter, ProviderCall, encode, json_answer, one_line, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Slack;

#[async_trait::async_trait]
impl Adapter for Slack {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!(
                "search.messages?query={}&count={}&sort=timestamp&sort_dir=desc",
                encode(text_.trim()),
                limit.clamp(1, 100)
            )))
            .await?;
        let body = json_answer(call, &response)?;
        let provider = call.provider().to_owned();
        if body.get("ok").and_then(Value::as_bool) != Some(true) {
            let error = text(&body, "/error").unwrap_or_else(|| "unknown_error".to_owned());
            return Err(match error.as_str() {
                "invalid_auth" | "token_expired" | "token_revoked" | "account_inactive"
                | "not_authed" => SearchError::Reconnect { provider },
                "missing_scope" | "not_allowed_token_type" => SearchError::MissingScope {
                    provider,
                    scopes: text(&body, "/needed").unwrap_or_else(|| "search:read".to_owned()),
                },
                "ratelimited" => SearchError::RateLimited {
                    provider,
                    retry_after: response
                        .headers
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok()),
                },
                other => SearchError::Provider {
                    provider,
                    status: response.status,
                    message: other.to_owned(),
                },
            });
        }
        let matches = body
            .pointer("/messages/matches")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: provider.clone(),
                reason: "no messages.matches in the answer".to_owned(),
            })?;
        Ok(matches
            .iter()
            .filter_map(|m| {
                let url = text(m, "/permalink")?;
                let ts = text(m, "/ts")?;
                let channel = text(m, "/channel/name");
                let who = text(m, "/username");
                Some(Hit {
                    native_id: format!("{}:{ts}", text(m, "/channel/id").unwrap_or_default()),
                    title: one_line(&text(m, "/text").unwrap_or_default(), 140),
                    subtitle: Some(match (channel, who) {
                        (Some(c), Some(w)) => format!("#{c} · {w}"),
                        (Some(c), None) => format!("#{c}"),
                        (None, Some(w)) => w,
                        (None, None) => "message".to_owned(),
                    }),
                    kind: "message".to_owned(),
                    url,
                    updated_at: parse_timestamp(&ts),
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

    #[tokio::test]
    async fn messages_with_permalinks_and_http_200_errors() {
        let call = Scripted::new(
            "Slack",
            "https://slack.com/api",
            vec![
                (
                    200,
                    r#"{"ok":true,"messages":{"total":1,"matches":[{"iid":"x","ts":"1715000000.000100","text":"Q3 plan is ready\nsee doc","username":"ada","channel":{"id":"C1","name":"finance"},"permalink":"https://acme.slack.com/archives/C1/p1715000000000100"}],"paging":{"pages":1}}}"#,
                ),
                (200, r#"{"ok":false,"error":"invalid_auth"}"#),
                (
                    200,
                    r#"{"ok":false,"error":"missing_scope","needed":"search:read","provided":"users:read"}"#,
                ),
                (200, r#"{"ok":false,"error":"ratelimited"}"#),
            ],
        );
        let hits = Slack.search(&call, "q3", 20).await.unwrap();
        assert_eq!(hits[0].title, "Q3 plan is ready");
        assert_eq!(hits[0].subtitle.as_deref(), Some("#finance · ada"));
        assert_eq!(hits[0].updated_at, Some(1_715_000_000));
        assert_eq!(
            Slack.search(&call, "q3", 20).await.unwrap_err().code(),
            "search.reconnect"
        );
        let e = Slack.search(&call, "q3", 20).await.unwrap_err();
        assert!(e.to_string().contains("search:read"), "{e}");
        assert_eq!(
            Slack.search(&call, "q3", 20).await.unwrap_err().code(),
            "search.rate_limited"
        );
    }
}
