//! Notion: `POST /v1/search` over the pages and databases the user shared with the
//! integration (Notion has no scopes: access is what was shared), most recently edited
//! first. Notion's search matches titles only, and its index lags edits.
//!
//! The request pins `Notion-Version: 2022-06-28`, whose answer has pages and databases
//! (from 2025-09-03 databases become data sources, a different shape); a header the
//! adapter sets wins over the catalog's. A page's title is its `title`-type property; a
//! database's, its `title` array.

use serde_json::{Value, json};

use super::wire::post_json;
use super::{Adapter, ProviderCall, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Notion;

/// The API version whose answer shape this adapter reads.
const NOTION_VERSION: &str = "2022-06-28";

/// The plain text of a rich-text array.
fn plain_text(rich: Option<&Value>) -> String {
    rich.and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("plain_text").and_then(Value::as_str))
                .collect::<String>()
        })
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A database's title (its `title` array) or a page's (its `title`-type property; a
/// database's properties are its schema, whose title column holds no text).
pub(crate) fn title_of(result: &Value) -> String {
    let title = match result.get("title").filter(|t| t.is_array()) {
        Some(title) => plain_text(Some(title)),
        None => result
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|props| {
                props
                    .values()
                    .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
            })
            .map(|p| plain_text(p.get("title")))
            .unwrap_or_default(),
    };
    if title.is_empty() {
        "Untitled".to_owned()
    } else {
        title
    }
}

#[async_trait::async_trait]
impl Adapter for Notion {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let mut request = post_json(
            "search",
            &json!({
                "query": text_.trim(),
                "sort": { "direction": "descending", "timestamp": "last_edited_time" },
                "page_size": limit.clamp(1, 100),
            }),
        );
        request
            .headers
            .push(("Notion-Version".to_owned(), NOTION_VERSION.to_owned()));
        let response = call.call(request).await?;
        let body = json_answer(call, &response)?;
        let results = body
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: call.provider().to_owned(),
                reason: "no results in the answer".to_owned(),
            })?;
        Ok(results
            .iter()
            .filter(|r| {
                !(r.get("archived").and_then(Value::as_bool) == Some(true)
                    || r.get("in_trash").and_then(Value::as_bool) == Some(true))
            })
            .filter_map(|r| {
                let object = text(r, "/object")?;
                if object != "page" && object != "database" {
                    return None;
                }
                Some(Hit {
                    native_id: text(r, "/id")?,
                    title: title_of(r),
                    subtitle: None,
                    url: text(r, "/url")?,
                    updated_at: text(r, "/last_edited_time").and_then(|t| parse_timestamp(&t)),
                    kind: object,
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

    const BASE: &str = "https://api.notion.com/v1";

    #[tokio::test]
    async fn pages_and_databases_by_last_edit_with_the_pinned_version() {
        let call = Scripted::new(
            "Notion",
            BASE,
            vec![(
                200,
                r#"{"object":"list","results":[
                {"object":"page","id":"59833787-2cf9-4fdf-8782-e53db20768a5","last_edited_time":"2025-05-01T10:00:00.000Z","archived":false,"url":"https://www.notion.so/Roadmap-598337872cf94fdf8782e53db20768a5",
                 "properties":{"Tags":{"id":"a","type":"multi_select","multi_select":[]},"Name":{"id":"title","type":"title","title":[{"type":"text","text":{"content":"Road"},"plain_text":"Road"},{"type":"text","text":{"content":"map"},"plain_text":"map"}]}}},
                {"object":"database","id":"d9824bdc-8445-4327-be8b-5b47500af6ce","last_edited_time":"2025-04-01T10:00:00.000Z","url":"https://www.notion.so/d9824bdc84454327be8b5b47500af6ce",
                 "title":[{"type":"text","text":{"content":"Roadmap items"},"plain_text":"Roadmap items"}],"properties":{"Name":{"id":"title","type":"title","title":{}}}},
                {"object":"page","id":"x","url":"https://www.notion.so/x","archived":true,"properties":{}},
                {"object":"page","id":"y","url":"https://www.notion.so/y","properties":{"title":{"id":"title","type":"title","title":[]}}}
            ],"next_cursor":null,"has_more":false,"type":"page_or_database","page_or_database":{}}"#,
            )],
        );
        let hits = Notion.search(&call, "roadmap", 20).await.unwrap();
        assert_eq!(hits.len(), 3, "an archived page is left out");
        assert_eq!(hits[0].title, "Roadmap");
        assert_eq!(hits[0].kind, "page");
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].title, "Roadmap items");
        assert_eq!(hits[1].kind, "database");
        assert_eq!(hits[2].title, "Untitled");
        let hosts = vec!["www.notion.so".to_owned(), "notion.so".to_owned()];
        assert!(hits.iter().all(|h| link_allowed(&h.url, &hosts, None)));

        let seen = call.seen.lock().unwrap();
        assert_eq!(seen[0].method, http::Method::POST);
        assert_eq!(seen[0].target, "search");
        assert!(
            seen[0]
                .headers
                .iter()
                .any(|(n, v)| n == "Notion-Version" && v == "2022-06-28")
        );
        let body: Value = serde_json::from_slice(seen[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"query":"roadmap","sort":{"direction":"descending","timestamp":"last_edited_time"},"page_size":20})
        );
    }

    #[tokio::test]
    async fn unauthorized_rate_limited_and_validation_errors() {
        let call = Scripted::new(
            "Notion",
            BASE,
            vec![
                (
                    401,
                    r#"{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}"#,
                ),
                (
                    400,
                    r#"{"object":"error","status":400,"code":"validation_error","message":"body failed validation: body.page_size should be ≤ `100`."}"#,
                ),
            ],
        );
        let e = Notion.search(&call, "x", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = Notion.search(&call, "x", 5).await.unwrap_err();
        assert!(e.to_string().contains("body failed validation"), "{e}");

        let call = Scripted::new(
            "Notion",
            BASE,
            vec![(
                429,
                r#"{"object":"error","status":429,"code":"rate_limited","message":"You have been rate limited. Please try again in a few minutes."}"#,
            )],
        )
        .with_header("Retry-After", "3");
        assert_eq!(
            Notion.search(&call, "x", 5).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "Notion".into(),
                retry_after: Some(3)
            }
        );
    }
}
