//! Google Drive: `files.list` (Drive v3) with `fullText contains '…' and trashed = false`,
//! which matches whole words in a file's name, description and content. Drive refuses
//! `orderBy` with `fullText`, so results come in Drive's own order (the engine ranks
//! them). The `fields` mask asks for `webViewLink` and `modifiedTime`, which the default
//! answer leaves out; `webViewLink` is the file's page on docs.google.com or
//! drive.google.com.
//!
//! In a query value `'` and `\` are escaped with `\`. A token without a Drive scope
//! answers 403 `insufficientPermissions`, which says which scope to add.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::wire::{body_json, missing_scope};
use super::{Adapter, ProviderCall, encode, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct GoogleDrive;

/// The fields asked for: the default answer has neither `webViewLink` nor `modifiedTime`.
const FIELDS: &str = "files(id,name,mimeType,webViewLink,modifiedTime)";

/// The scope named when Drive says the token has none that allows searching.
const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

/// The `q` parameter for `text`: a quoted value with `\` and `'` escaped.
pub(crate) fn drive_query(text: &str) -> String {
    let escaped = text.trim().replace('\\', "\\\\").replace('\'', "\\'");
    format!("fullText contains '{escaped}' and trashed = false")
}

/// What a MIME type is, in words.
fn kind_of(mime: &str) -> &'static str {
    match mime {
        "application/vnd.google-apps.folder" => "folder",
        "application/vnd.google-apps.document" => "document",
        "application/vnd.google-apps.spreadsheet" => "spreadsheet",
        "application/vnd.google-apps.presentation" => "presentation",
        "application/vnd.google-apps.form" => "form",
        "application/pdf" => "PDF",
        _ => "file",
    }
}

#[async_trait::async_trait]
impl Adapter for GoogleDrive {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!(
                "drive/v3/files?q={}&fields={}&pageSize={}&spaces=drive",
                encode(&drive_query(text_)),
                encode(FIELDS),
                limit.clamp(1, 100)
            )))
            .await?;
        if response.status == 403 {
            let body = body_json(&response);
            let insufficient = body
                .pointer("/error/errors")
                .and_then(Value::as_array)
                .is_some_and(|errors| {
                    errors
                        .iter()
                        .any(|e| text(e, "/reason").as_deref() == Some("insufficientPermissions"))
                })
                || body.to_string().contains("ACCESS_TOKEN_SCOPE_INSUFFICIENT");
            if insufficient {
                return Err(missing_scope(call.provider(), DRIVE_SCOPE));
            }
        }
        let body = json_answer(call, &response)?;
        let files =
            body.get("files")
                .and_then(Value::as_array)
                .ok_or_else(|| SearchError::Unreadable {
                    provider: call.provider().to_owned(),
                    reason: "no files in the answer".to_owned(),
                })?;
        Ok(files
            .iter()
            .filter_map(|f| {
                let id = text(f, "/id")?;
                let url = text(f, "/webViewLink")?;
                let kind = kind_of(&text(f, "/mimeType").unwrap_or_default());
                Some(Hit {
                    title: text(f, "/name").unwrap_or_else(|| "Untitled".to_owned()),
                    subtitle: Some(format!("Drive · {kind}")),
                    kind: kind.to_owned(),
                    url,
                    updated_at: text(f, "/modifiedTime").and_then(|t| parse_timestamp(&t)),
                    native_id: id,
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

    fn web_hosts() -> Vec<String> {
        latchkey_catalog::Catalog::builtin()
            .unwrap()
            .get("google-workspace")
            .unwrap()
            .search
            .as_ref()
            .unwrap()
            .web_hosts
            .clone()
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_in_the_query_value() {
        assert_eq!(
            drive_query(" q3 plan "),
            "fullText contains 'q3 plan' and trashed = false"
        );
        assert_eq!(
            drive_query(r"o'neil \ co"),
            r"fullText contains 'o\'neil \\ co' and trashed = false"
        );
    }

    #[tokio::test]
    async fn files_list_with_the_fields_mask_becomes_hits_with_drive_links() {
        let call = Scripted::new(
            "Google Workspace",
            "https://www.googleapis.com",
            vec![(
                200,
                r#"{"files":[
                {"id":"1a","name":"Q3 plan","mimeType":"application/vnd.google-apps.document","webViewLink":"https://docs.google.com/document/d/1a/edit?usp=drivesdk","modifiedTime":"2025-05-01T10:00:00.000Z"},
                {"id":"2b","name":"q3.pdf","mimeType":"application/pdf","webViewLink":"https://drive.google.com/file/d/2b/view?usp=drivesdk"},
                {"id":"3c","name":"no link"}
            ],"nextPageToken":"tok"}"#,
            )],
        );
        let hits = GoogleDrive.search(&call, "q3", 25).await.unwrap();
        assert_eq!(
            hits.len(),
            2,
            "a file without webViewLink has nowhere to open"
        );
        assert_eq!(hits[0].title, "Q3 plan");
        assert_eq!(hits[0].kind, "document");
        assert_eq!(hits[0].native_id, "1a");
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].kind, "PDF");
        assert_eq!(hits[1].updated_at, None);
        for h in &hits {
            assert!(link_allowed(&h.url, &web_hosts(), None), "{}", h.url);
        }
        let target = &call.targets()[0];
        assert_eq!(
            target,
            "drive/v3/files?q=fullText+contains+%27q3%27+and+trashed+%3D+false\
             &fields=files%28id%2Cname%2CmimeType%2CwebViewLink%2CmodifiedTime%29\
             &pageSize=25&spaces=drive"
        );
    }

    #[tokio::test]
    async fn invalid_credentials_a_missing_scope_and_rate_limits() {
        let call = Scripted::new(
            "Google Workspace",
            "https://www.googleapis.com",
            vec![
                (
                    401,
                    r#"{"error":{"code":401,"message":"Invalid Credentials","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError","location":"Authorization","locationType":"header"}]}}"#,
                ),
                (
                    403,
                    r#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],"status":"PERMISSION_DENIED"}}"#,
                ),
                (
                    403,
                    r#"{"error":{"code":403,"message":"User Rate Limit Exceeded","errors":[{"message":"User Rate Limit Exceeded","domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#,
                ),
                (
                    400,
                    r#"{"error":{"code":400,"message":"Invalid Value","errors":[{"reason":"invalid","location":"q"}]}}"#,
                ),
            ],
        );
        let e = GoogleDrive.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = GoogleDrive.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e, missing_scope("Google Workspace", DRIVE_SCOPE));
        let e = GoogleDrive.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.rate_limited", "{e}");
        let e = GoogleDrive.search(&call, "q3", 5).await.unwrap_err();
        assert!(e.to_string().contains("Invalid Value"), "{e}");

        let call = Scripted::new(
            "Google Workspace",
            "https://www.googleapis.com",
            vec![(
                429,
                r#"{"error":{"code":429,"message":"Rate Limit Exceeded","errors":[{"reason":"rateLimitExceeded"}]}}"#,
            )],
        )
        .with_header("retry-after", "30");
        let e = GoogleDrive.search(&call, "q3", 5).await.unwrap_err();
        assert_eq!(
            e,
            SearchError::RateLimited {
                provider: "Google Workspace".into(),
                retry_after: Some(30)
            }
        );
    }
}
