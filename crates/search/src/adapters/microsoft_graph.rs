//! Microsoft 365: the Microsoft Search API (`POST /search/query`) over OneDrive and
//! SharePoint files (`driveItem`), one request per search as Graph allows. The query is
//! KQL, passed as the user typed it. Links are the items' own `webUrl`s (SharePoint and
//! OneDrive hosts). Work and school accounts only: Graph refuses personal accounts here.
//!
//! Searching files needs `Files.Read.All` or `Sites.Read.All`; without either Graph
//! answers 403, said here as the missing permission.

use serde_json::{Value, json};

use super::wire::{body_json, missing_scope, post_json};
use super::{Adapter, ProviderCall, error_message, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct MicrosoftGraph;

/// The scopes named when Graph refuses for want of permission.
const FILE_SCOPES: &str = "Files.Read.All or Sites.Read.All";

/// The request body: driveItems only (files and folders), the first `size` hits.
pub(crate) fn search_body(text: &str, size: usize) -> Value {
    json!({
        "requests": [{
            "entityTypes": ["driveItem"],
            "query": { "queryString": text.trim() },
            "from": 0,
            "size": size,
        }]
    })
}

#[async_trait::async_trait]
impl Adapter for MicrosoftGraph {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(post_json(
                "search/query",
                &search_body(text_, limit.clamp(1, 100)),
            ))
            .await?;
        if response.status == 403 {
            let body = body_json(&response);
            let code = text(&body, "/error/code").unwrap_or_default();
            let message = error_message(&body).to_lowercase();
            if code == "AccessDenied"
                || code == "Authorization_RequestDenied"
                || message.contains("scope")
                || message.contains("permission")
            {
                return Err(missing_scope(call.provider(), FILE_SCOPES));
            }
        }
        let body = json_answer(call, &response)?;
        let containers = body
            .get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: call.provider().to_owned(),
                reason: "no value in the answer".to_owned(),
            })?
            .iter()
            .filter_map(|v| v.get("hitsContainers").and_then(Value::as_array))
            .flatten();
        let hits = containers
            .filter_map(|c| c.get("hits").and_then(Value::as_array))
            .flatten();
        Ok(hits
            .filter_map(|h| {
                let r = h.get("resource")?;
                let url = text(r, "/webUrl")?;
                let kind = if r.get("folder").is_some() {
                    "folder"
                } else {
                    "file"
                };
                let by = text(r, "/lastModifiedBy/user/displayName");
                Some(Hit {
                    native_id: text(r, "/id")
                        .or_else(|| text(h, "/hitId"))
                        .unwrap_or_else(|| url.clone()),
                    title: text(r, "/name").unwrap_or_else(|| url.clone()),
                    subtitle: Some(match by {
                        Some(by) => format!("{kind} · {by}"),
                        None => kind.to_owned(),
                    }),
                    kind: kind.to_owned(),
                    url,
                    updated_at: text(r, "/lastModifiedDateTime").and_then(|t| parse_timestamp(&t)),
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

    const BASE: &str = "https://graph.microsoft.com/v1.0";

    #[tokio::test]
    async fn one_drive_item_search_becomes_hits_with_sharepoint_links() {
        let call = Scripted::new(
            "Microsoft 365",
            BASE,
            vec![(
                200,
                r##"{"value":[{"searchTerms":["q3"],"hitsContainers":[{"total":2,"moreResultsAvailable":false,"hits":[
                {"hitId":"01ABC","rank":1,"summary":"the <c0>Q3</c0> plan","resource":{"@odata.type":"#microsoft.graph.driveItem","id":"01ABC","name":"Q3 plan.docx","webUrl":"https://contoso.sharepoint.com/sites/fin/Shared%20Documents/Q3%20plan.docx","lastModifiedDateTime":"2025-05-01T10:00:00Z","lastModifiedBy":{"user":{"displayName":"Ada Lovelace"}},"file":{"mimeType":"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}}},
                {"hitId":"01DEF","rank":2,"resource":{"@odata.type":"#microsoft.graph.driveItem","id":"01DEF","name":"Q3","webUrl":"https://contoso-my.sharepoint.com/personal/ada/Documents/Q3","folder":{"childCount":3}}},
                {"hitId":"01GHI","rank":3,"resource":{"name":"no link"}}
            ]}]}],"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.searchResponse)"}"##,
            )],
        );
        let hits = MicrosoftGraph.search(&call, " q3 ", 25).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].title, "Q3 plan.docx");
        assert_eq!(hits[0].subtitle.as_deref(), Some("file · Ada Lovelace"));
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].kind, "folder");
        let hosts = latchkey_catalog::Catalog::builtin()
            .unwrap()
            .get("microsoft-365")
            .unwrap()
            .search
            .as_ref()
            .unwrap()
            .web_hosts
            .clone();
        for h in &hits {
            assert!(link_allowed(&h.url, &hosts, None), "{}", h.url);
        }
        let seen = call.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one request");
        assert_eq!(seen[0].method, http::Method::POST);
        assert_eq!(seen[0].target, "search/query");
        let body: Value = serde_json::from_slice(seen[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"requests":[{"entityTypes":["driveItem"],"query":{"queryString":"q3"},"from":0,"size":25}]})
        );
    }

    #[tokio::test]
    async fn expired_tokens_missing_permissions_and_throttling() {
        let call = Scripted::new(
            "Microsoft 365",
            BASE,
            vec![
                (
                    401,
                    r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired.","innerError":{"date":"2025-05-01T10:00:00","request-id":"x"}}}"#,
                ),
                (
                    403,
                    r#"{"error":{"code":"AccessDenied","message":"Access denied. Check credentials and try again.","innerError":{}}}"#,
                ),
                (
                    400,
                    r#"{"error":{"code":"BadRequest","message":"SearchRequest Invalid (Personal accounts are not supported)"}}"#,
                ),
            ],
        );
        let e = MicrosoftGraph.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = MicrosoftGraph.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e, missing_scope("Microsoft 365", FILE_SCOPES));
        let e = MicrosoftGraph.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("Personal accounts"), "{e}");

        let call = Scripted::new(
            "Microsoft 365",
            BASE,
            vec![(
                429,
                r#"{"error":{"code":"activityLimitReached","message":"The request has been throttled","innerError":{}}}"#,
            )],
        )
        .with_header("Retry-After", "12");
        assert_eq!(
            MicrosoftGraph.search(&call, "q3", 5).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "Microsoft 365".into(),
                retry_after: Some(12)
            }
        );
    }
}
