//! Google Drive recent files: `files.list` ordered by `modifiedTime desc`, trashed
//! files left out, with the fields mask the default leaves out (`webViewLink`,
//! `modifiedTime`). A full refresh each time.

use latchkey_connect::ApiRequest;
use latchkey_search::{ProviderCall, encode, json_answer, parse_timestamp, text};

use crate::{Item, Snapshot, WidgetError, list};

pub(crate) async fn refresh(call: &dyn ProviderCall) -> Result<Snapshot, WidgetError> {
    let response = call
        .call(ApiRequest::get(format!(
            "drive/v3/files?q={}&orderBy={}&pageSize=20&fields={}",
            encode("trashed = false"),
            encode("modifiedTime desc"),
            encode("files(id,name,mimeType,webViewLink,modifiedTime)")
        )))
        .await?;
    let body = json_answer(call, &response)?;
    let files = list(call, &body, "files")?;
    let items: Vec<Item> = files
        .iter()
        .filter_map(|f| {
            Some(Item {
                native_id: text(f, "/id")?,
                title: text(f, "/name").unwrap_or_else(|| "Untitled".to_owned()),
                subtitle: text(f, "/mimeType").map(|m| kind_of(&m).to_owned()),
                url: text(f, "/webViewLink")?,
                updated_at: text(f, "/modifiedTime").and_then(|t| parse_timestamp(&t)),
            })
        })
        .collect();
    Ok(Snapshot::full(items))
}

/// A file's kind in words, from its MIME type.
fn kind_of(mime: &str) -> &'static str {
    match mime {
        "application/vnd.google-apps.document" => "Document",
        "application/vnd.google-apps.spreadsheet" => "Spreadsheet",
        "application/vnd.google-apps.presentation" => "Presentation",
        "application/vnd.google-apps.folder" => "Folder",
        "application/pdf" => "PDF",
        _ => "File",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    #[tokio::test]
    async fn recent_files_newest_first_without_the_trash() {
        let call = Scripted::new(
            "https://www.googleapis.com",
            vec![
                (
                    200,
                    r#"{"files":[{"id":"1a","name":"Q3 plan","mimeType":"application/vnd.google-apps.document","webViewLink":"https://docs.google.com/document/d/1a/edit","modifiedTime":"2025-05-01T10:00:00.000Z"},{"id":"nolink","name":"x"}]}"#,
                ),
                (
                    401,
                    r#"{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}"#,
                ),
            ],
        );
        let snap = refresh(&call).await.unwrap();
        assert_eq!(
            snap.items.len(),
            1,
            "a file without a web link is not shown"
        );
        assert_eq!(snap.items[0].subtitle.as_deref(), Some("Document"));
        assert_eq!(snap.items[0].updated_at, Some(1_746_093_600));
        let target = &call.targets()[0];
        assert!(
            target.contains("trashed+%3D+false")
                && target.contains("modifiedTime+desc")
                && target.contains("webViewLink"),
            "{target}"
        );
        assert_eq!(refresh(&call).await.unwrap_err().code(), "search.reconnect");
    }
}
