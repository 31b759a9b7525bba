//! GitHub: `GET /search/issues` for issues and pull requests that involve the user
//! (`involves:@me`), newest first. Search allows 30 requests a minute: a 403 or 429 with
//! a rate-limit message is "slow down", never "reconnect".

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::{Adapter, ProviderCall, encode, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Github;

#[async_trait::async_trait]
impl Adapter for Github {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let q = format!("{} involves:@me", text_.trim());
        let mut request = ApiRequest::get(format!(
            "search/issues?q={}&sort=updated&order=desc&per_page={}",
            encode(&q),
            limit.clamp(1, 100)
        ));
        request.headers.push((
            "Accept".to_owned(),
            "application/vnd.github+json".to_owned(),
        ));
        let response = call.call(request).await?;
        let body = json_answer(call, &response)?;
        let items =
            body.get("items")
                .and_then(Value::as_array)
                .ok_or_else(|| SearchError::Unreadable {
                    provider: call.provider().to_owned(),
                    reason: "no items in the answer".to_owned(),
                })?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let url = text(item, "/html_url")?;
                let number = item.get("number").and_then(Value::as_u64);
                let is_pr = item.get("pull_request").is_some();
                // The repository is the html_url's owner/name.
                let repo = url.strip_prefix("https://github.com/").and_then(|rest| {
                    let mut parts = rest.split('/');
                    Some(format!("{}/{}", parts.next()?, parts.next()?))
                });
                let state = text(item, "/state").unwrap_or_default();
                Some(Hit {
                    native_id: text(item, "/node_id")
                        .or_else(|| item.get("id").map(Value::to_string))
                        .unwrap_or_else(|| url.clone()),
                    title: text(item, "/title").unwrap_or_else(|| url.clone()),
                    subtitle: Some(format!(
                        "{}{} · {state}",
                        repo.unwrap_or_default(),
                        number.map(|n| format!("#{n}")).unwrap_or_default()
                    )),
                    kind: if is_pr { "pull request" } else { "issue" }.to_owned(),
                    url,
                    updated_at: text(item, "/updated_at").and_then(|t| parse_timestamp(&t)),
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
    async fn issues_and_pull_requests_involving_me() {
        let call = Scripted::new(
            "GitHub",
            "https://api.github.com",
            vec![(
                200,
                r#"{"total_count":2,"incomplete_results":false,"items":[
            {"id":1,"node_id":"PR_1","number":42,"title":"Fix login","html_url":"https://github.com/acme/web/pull/42","state":"open","updated_at":"2025-05-01T10:00:00Z","pull_request":{"url":"x"}},
            {"id":2,"node_id":"I_2","number":7,"title":"Login broken on Safari","html_url":"https://github.com/acme/web/issues/7","state":"closed","updated_at":"2025-04-01T10:00:00Z"}
        ]}"#,
            )],
        );
        let hits = Github.search(&call, "login", 10).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].kind, "pull request");
        assert_eq!(hits[0].subtitle.as_deref(), Some("acme/web#42 · open"));
        assert_eq!(hits[1].kind, "issue");
        let target = &call.targets()[0];
        assert!(
            target.starts_with("search/issues?q=login+involves%3A%40me&sort=updated"),
            "{target}"
        );
    }

    #[tokio::test]
    async fn bad_credentials_and_the_search_rate_limit() {
        let call = Scripted::new(
            "GitHub",
            "https://api.github.com",
            vec![
                (
                    401,
                    r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#,
                ),
                (
                    403,
                    r#"{"message":"API rate limit exceeded for user ID 1.","documentation_url":"x"}"#,
                ),
            ],
        );
        assert_eq!(
            Github.search(&call, "x", 5).await.unwrap_err().code(),
            "search.reconnect"
        );
        assert_eq!(
            Github.search(&call, "x", 5).await.unwrap_err().code(),
            "search.rate_limited"
        );
        let call = Scripted::new(
            "GitHub",
            "https://api.github.com",
            vec![(
                429,
                r#"{"message":"You have exceeded a secondary rate limit"}"#,
            )],
        )
        .with_header("retry-after", "61");
        let e = Github.search(&call, "x", 5).await.unwrap_err();
        assert_eq!(
            e,
            SearchError::RateLimited {
                provider: "GitHub".into(),
                retry_after: Some(61)
            }
        );
    }
}
