//! Dropbox: `POST /2/files/search_v2` over file and folder names (and contents, on plans
//! that index them), first page only. Needs `files.metadata.read`: without it Dropbox
//! answers 401 with `missing_scope` and the `required_scope`, said here as a missing
//! permission, not as "reconnect". Route errors are 409 with an `error_summary`.
//!
//! The API gives no web link for a search match (unconfirmed in the guide). Links use
//! the Dropbox web app's own browse URL, `https://www.dropbox.com/home{folder}` for a
//! folder and `https://www.dropbox.com/home{parent}?preview={name}` for a file (the form
//! the web app shows when a file is opened), built from `path_display`. A match without
//! a `path_display` (not mounted in the user's Dropbox) has no such link and is left out.

use serde_json::{Value, json};

use super::wire::{body_json, missing_scope, post_json, retry_after};
use super::{Adapter, ProviderCall, json_answer, one_line, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Dropbox;

/// The link to `path_display` in the Dropbox web app, or `None` for a path that is not
/// an absolute Dropbox path.
pub(crate) fn web_link(path_display: &str, is_folder: bool) -> Option<String> {
    let segments: Vec<&str> = path_display.strip_prefix('/')?.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return None;
    }
    let mut url = url::Url::parse("https://www.dropbox.com/home").ok()?;
    let (folders, file) = if is_folder {
        (&segments[..], None)
    } else {
        let (name, parent) = segments.split_last()?;
        (parent, Some(*name))
    };
    url.path_segments_mut().ok()?.extend(folders);
    if let Some(name) = file {
        url.query_pairs_mut().append_pair("preview", name);
    }
    Some(url.into())
}

/// Dropbox's own refusals, before the shared reading: a missing scope (401), a rate
/// limit with `retry_after` in the body, a route error (409) or a bad request (plain text).
fn dropbox_error(
    call: &dyn ProviderCall,
    response: &latchkey_connect::ApiResponse,
) -> Option<SearchError> {
    let body = body_json(response);
    let provider = call.provider().to_owned();
    let tag = text(&body, "/error/.tag");
    match response.status {
        401 if tag.as_deref() == Some("missing_scope") => Some(missing_scope(
            &provider,
            text(&body, "/error/required_scope")
                .unwrap_or_else(|| "files.metadata.read".to_owned()),
        )),
        429 => Some(SearchError::RateLimited {
            retry_after: retry_after(response)
                .or_else(|| body.pointer("/error/retry_after").and_then(Value::as_u64)),
            provider,
        }),
        400 | 409 => Some(SearchError::Provider {
            provider,
            status: response.status,
            message: text(&body, "/error_summary")
                .unwrap_or_else(|| one_line(&String::from_utf8_lossy(&response.body), 300)),
        }),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Adapter for Dropbox {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(post_json(
                "files/search_v2",
                &json!({
                    "query": text_.trim(),
                    "options": { "max_results": limit.clamp(1, 1000) },
                }),
            ))
            .await?;
        if let Some(e) = dropbox_error(call, &response) {
            return Err(e);
        }
        let body = json_answer(call, &response)?;
        let matches = body
            .get("matches")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: call.provider().to_owned(),
                reason: "no matches in the answer".to_owned(),
            })?;
        Ok(matches
            .iter()
            .filter_map(|m| {
                let md = m.pointer("/metadata/metadata")?;
                let tag = text(md, "/.tag")?;
                let is_folder = match tag.as_str() {
                    "file" => false,
                    "folder" => true,
                    _ => return None,
                };
                let path = text(md, "/path_display")?;
                let url = web_link(&path, is_folder)?;
                let parent = match path.rsplit_once('/') {
                    Some(("", _)) | None => "Dropbox".to_owned(),
                    Some((parent, _)) => parent.to_owned(),
                };
                Some(Hit {
                    native_id: text(md, "/id").unwrap_or_else(|| path.clone()),
                    title: text(md, "/name").unwrap_or_else(|| path.clone()),
                    subtitle: Some(parent),
                    kind: tag,
                    url,
                    updated_at: text(md, "/server_modified").and_then(|t| parse_timestamp(&t)),
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

    const BASE: &str = "https://api.dropboxapi.com/2";

    #[test]
    fn web_links_open_the_folder_or_preview_the_file() {
        assert_eq!(
            web_link("/Finance/Q3 plan & notes.xlsx", false).as_deref(),
            Some("https://www.dropbox.com/home/Finance?preview=Q3+plan+%26+notes.xlsx")
        );
        assert_eq!(
            web_link("/Q3.xlsx", false).as_deref(),
            Some("https://www.dropbox.com/home?preview=Q3.xlsx")
        );
        assert_eq!(
            web_link("/Finance/Year 2025", true).as_deref(),
            Some("https://www.dropbox.com/home/Finance/Year%202025")
        );
        assert_eq!(web_link("Finance/x", false), None);
        assert_eq!(web_link("/a/../b", false), None);
    }

    #[tokio::test]
    async fn search_v2_matches_become_hits() {
        let call = Scripted::new(
            "Dropbox",
            BASE,
            vec![(
                200,
                r#"{"has_more":true,"cursor":"c1","matches":[
                {"match_type":{".tag":"filename"},"metadata":{".tag":"metadata","metadata":{".tag":"file","id":"id:a4ayc_80_OEAAAAAAAAAXw","name":"Q3.xlsx","path_display":"/Finance/Q3.xlsx","path_lower":"/finance/q3.xlsx","server_modified":"2025-05-01T10:00:00Z","client_modified":"2025-04-30T10:00:00Z","size":7212}}},
                {"match_type":{".tag":"filename"},"metadata":{".tag":"metadata","metadata":{".tag":"folder","id":"id:b","name":"Q3","path_display":"/Q3","path_lower":"/q3"}}},
                {"match_type":{".tag":"filename"},"metadata":{".tag":"metadata","metadata":{".tag":"file","id":"id:c","name":"unmounted.txt"}}}
            ]}"#,
            )],
        );
        let hits = Dropbox.search(&call, "q3", 25).await.unwrap();
        assert_eq!(hits.len(), 2, "a match without a path has no link");
        assert_eq!(hits[0].title, "Q3.xlsx");
        assert_eq!(hits[0].subtitle.as_deref(), Some("/Finance"));
        assert_eq!(hits[0].native_id, "id:a4ayc_80_OEAAAAAAAAAXw");
        assert_eq!(
            hits[0].url,
            "https://www.dropbox.com/home/Finance?preview=Q3.xlsx"
        );
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].kind, "folder");
        assert_eq!(hits[1].subtitle.as_deref(), Some("Dropbox"));
        let hosts = vec!["www.dropbox.com".to_owned()];
        assert!(hits.iter().all(|h| link_allowed(&h.url, &hosts, None)));

        let seen = call.seen.lock().unwrap();
        assert_eq!(seen[0].method, http::Method::POST);
        assert_eq!(seen[0].target, "files/search_v2");
        let body: Value = serde_json::from_slice(seen[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"query":"q3","options":{"max_results":25}}));
    }

    #[tokio::test]
    async fn expired_tokens_missing_scopes_route_errors_and_rate_limits() {
        let call = Scripted::new(
            "Dropbox",
            BASE,
            vec![
                (
                    401,
                    r#"{"error_summary":"expired_access_token/","error":{".tag":"expired_access_token"}}"#,
                ),
                (
                    401,
                    r#"{"error_summary":"missing_scope/.","error":{".tag":"missing_scope","required_scope":"files.metadata.read"}}"#,
                ),
                (
                    409,
                    r#"{"error_summary":"path/not_found/..","error":{".tag":"path","path":{".tag":"not_found"}}}"#,
                ),
                (
                    400,
                    "Error in call to API function \"files/search_v2\": request body: options.max_results: 0 is not a valid value",
                ),
                (
                    429,
                    r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":300}}"#,
                ),
            ],
        );
        let e = Dropbox.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = Dropbox.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e, missing_scope("Dropbox", "files.metadata.read"));
        let e = Dropbox.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("path/not_found"), "{e}");
        let e = Dropbox.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("max_results"), "{e}");
        let e = Dropbox.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(
            e,
            SearchError::RateLimited {
                provider: "Dropbox".into(),
                retry_after: Some(300)
            },
            "the body's retry_after when no header"
        );
    }
}
