//! GitHub pull requests waiting for the user's review: `search/issues` with
//! `is:pr is:open review-requested:@me`, newest first. A full refresh each time (the
//! search API has no change feed); small.

use latchkey_connect::ApiRequest;
use latchkey_search::{ProviderCall, encode, json_answer, parse_timestamp, text};
use serde_json::Value;

use crate::{Item, Snapshot, WidgetError, list};

pub(crate) async fn refresh(call: &dyn ProviderCall) -> Result<Snapshot, WidgetError> {
    let mut request = ApiRequest::get(format!(
        "search/issues?q={}&sort=updated&order=desc&per_page=20",
        encode("is:pr is:open review-requested:@me archived:false")
    ));
    request.headers.push((
        "Accept".to_owned(),
        "application/vnd.github+json".to_owned(),
    ));
    let response = call.call(request).await?;
    let body = json_answer(call, &response)?;
    let items = list(call, &body, "items")?;
    let items: Vec<Item> = items
        .iter()
        .filter_map(|pr| {
            let url = text(pr, "/html_url")?;
            let repo = url.strip_prefix("https://github.com/").and_then(|rest| {
                let mut parts = rest.split('/');
                Some(format!("{}/{}", parts.next()?, parts.next()?))
            });
            Some(Item {
                native_id: text(pr, "/node_id").unwrap_or_else(|| url.clone()),
                title: text(pr, "/title").unwrap_or_else(|| url.clone()),
                subtitle: Some(format!(
                    "{}{} · {}",
                    repo.unwrap_or_default(),
                    pr.get("number")
                        .and_then(Value::as_u64)
                        .map(|n| format!("#{n}"))
                        .unwrap_or_default(),
                    text(pr, "/user/login").unwrap_or_default()
                )),
                url,
                updated_at: text(pr, "/updated_at").and_then(|t| parse_timestamp(&t)),
            })
        })
        .collect();
    Ok(Snapshot::full(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    #[tokio::test]
    async fn pull_requests_waiting_for_my_review() {
        let call = Scripted::new(
            "https://api.github.com",
            vec![
                (
                    200,
                    r#"{"total_count":1,"items":[
            {"node_id":"PR_9","number":9,"title":"Rotate the signing key","html_url":"https://github.com/acme/api/pull/9","updated_at":"2025-05-01T10:00:00Z","user":{"login":"grace"},"pull_request":{}}
        ]}"#,
                ),
                (
                    403,
                    r#"{"message":"API rate limit exceeded for user ID 1."}"#,
                ),
            ],
        );
        let snap = refresh(&call).await.unwrap();
        assert_eq!(snap.items[0].title, "Rotate the signing key");
        assert_eq!(
            snap.items[0].subtitle.as_deref(),
            Some("acme/api#9 · grace")
        );
        assert!(
            call.targets()[0].contains("review-requested%3A%40me"),
            "{:?}",
            call.targets()
        );
        assert_eq!(
            refresh(&call).await.unwrap_err().code(),
            "search.rate_limited"
        );
    }
}
