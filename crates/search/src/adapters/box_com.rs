//! Box: `GET /2.0/search` over files and folders (`name`, `modified_at`, `type`, and the
//! parent folder for context), first page only. Box answers no web link; the links are
//! the web app's `https://app.box.com/file/{id}` and `…/folder/{id}`, which also open
//! for enterprises with their own `*.app.box.com` host. Web links (bookmarks) have no
//! such page and are left out.
//!
//! The module is `box_com` because `box` is a Rust keyword.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::wire::{body_json, missing_scope};
use super::{Adapter, ProviderCall, encode, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct BoxCom;

/// The fields asked for (`id` and `type` always come).
const FIELDS: &str = "name,modified_at,type,parent";

/// The scope named when Box says the token cannot read files.
const READ_SCOPE: &str = "root_readonly";

#[async_trait::async_trait]
impl Adapter for BoxCom {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!(
                "search?query={}&fields={}&limit={}",
                encode(text_.trim()),
                encode(FIELDS),
                limit.clamp(1, 200)
            )))
            .await?;
        if response.status == 403
            && text(&body_json(&response), "/code").as_deref() == Some("insufficient_scope")
        {
            return Err(missing_scope(call.provider(), READ_SCOPE));
        }
        let body = json_answer(call, &response)?;
        let entries = body
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: call.provider().to_owned(),
                reason: "no entries in the answer".to_owned(),
            })?;
        Ok(entries
            .iter()
            .filter_map(|e| {
                let kind = text(e, "/type")?;
                if kind != "file" && kind != "folder" {
                    return None;
                }
                // Box ids are digits: anything else is not one.
                let id = text(e, "/id").filter(|id| id.bytes().all(|b| b.is_ascii_digit()))?;
                Some(Hit {
                    url: format!("https://app.box.com/{kind}/{id}"),
                    title: text(e, "/name").unwrap_or_else(|| id.clone()),
                    subtitle: Some(match text(e, "/parent/name") {
                        Some(parent) => format!("{kind} in {parent}"),
                        None => kind.clone(),
                    }),
                    native_id: id,
                    kind,
                    updated_at: text(e, "/modified_at").and_then(|t| parse_timestamp(&t)),
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

    const BASE: &str = "https://api.box.com/2.0";

    #[tokio::test]
    async fn files_and_folders_with_web_app_links() {
        let call = Scripted::new(
            "Box",
            BASE,
            vec![(
                200,
                r#"{"total_count":4,"limit":30,"offset":0,"entries":[
                {"type":"file","id":"12345","etag":"1","name":"Q3.xlsx","modified_at":"2025-05-01T03:00:00-07:00","parent":{"type":"folder","id":"0","name":"All Files"}},
                {"type":"folder","id":"678","etag":"1","name":"Q3 reports","modified_at":"2025-04-01T10:00:00Z"},
                {"type":"web_link","id":"9","name":"Q3 dashboard"},
                {"type":"file","id":"../x","name":"bad id"}
            ]}"#,
            )],
        );
        let hits = BoxCom.search(&call, "q3 report", 30).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].url, "https://app.box.com/file/12345");
        assert_eq!(hits[0].subtitle.as_deref(), Some("file in All Files"));
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].url, "https://app.box.com/folder/678");
        assert_eq!(hits[1].kind, "folder");
        let hosts = vec!["app.box.com".to_owned(), ".app.box.com".to_owned()];
        assert!(hits.iter().all(|h| link_allowed(&h.url, &hosts, None)));
        assert_eq!(
            call.targets()[0],
            "search?query=q3+report&fields=name%2Cmodified_at%2Ctype%2Cparent&limit=30"
        );
    }

    #[tokio::test]
    async fn unauthorized_insufficient_scope_and_rate_limits() {
        let call = Scripted::new(
            "Box",
            BASE,
            vec![
                (401, ""),
                (
                    403,
                    r#"{"type":"error","status":403,"code":"insufficient_scope","help_url":"https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/","message":"The request requires higher privileges than provided by the access token.","request_id":"abc"}"#,
                ),
                (
                    400,
                    r#"{"type":"error","status":400,"code":"bad_request","message":"Invalid value 'x'. 'limit' must be less than 200","request_id":"abc"}"#,
                ),
            ],
        );
        let e = BoxCom.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = BoxCom.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e, missing_scope("Box", READ_SCOPE));
        let e = BoxCom.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("'limit' must be"), "{e}");

        let call = Scripted::new(
            "Box",
            BASE,
            vec![(
                429,
                r#"{"type":"error","status":429,"code":"rate_limit_exceeded","message":"Request rate limit exceeded, please try again later","request_id":"abc"}"#,
            )],
        )
        .with_header("retry-after", "2");
        assert_eq!(
            BoxCom.search(&call, "q3", 5).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "Box".into(),
                retry_after: Some(2)
            }
        );
    }
}
