//! OneDrive and SharePoint recent files: Microsoft Graph's `insights/used`, ordered by
//! when the user last opened each file (`/me/drive/recent` is deprecated and stops
//! answering in November 2026; Microsoft names this as its replacement). A full refresh
//! each time. Needs `Sites.Read.All` (delegated), which the catalog's search scopes
//! already include.

use latchkey_connect::ApiRequest;
use latchkey_search::{ProviderCall, encode, json_answer, parse_timestamp, text};

use crate::{Item, Snapshot, WidgetError, list};

pub(crate) async fn refresh(call: &dyn ProviderCall) -> Result<Snapshot, WidgetError> {
    let response = call
        .call(ApiRequest::get(format!(
            "me/insights/used?$orderby={}&$top=20",
            encode("LastUsed/LastAccessedDateTime desc")
        )))
        .await?;
    let body = json_answer(call, &response)?;
    let used = list(call, &body, "value")?;
    let items: Vec<Item> = used
        .iter()
        .filter_map(|u| {
            let url = text(u, "/resourceReference/webUrl")?;
            Some(Item {
                native_id: text(u, "/id").unwrap_or_else(|| url.clone()),
                title: text(u, "/resourceVisualization/title")
                    .unwrap_or_else(|| "Untitled".to_owned()),
                subtitle: text(u, "/resourceVisualization/type"),
                url,
                updated_at: text(u, "/lastUsed/lastAccessedDateTime")
                    .and_then(|t| parse_timestamp(&t)),
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
    async fn recently_used_files_with_their_kind_and_graphs_errors() {
        let call = Scripted::new(
            "https://graph.microsoft.com/v1.0",
            vec![
                (
                    200,
                    r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('ada')/insights/used","value":[{"id":"AQMkADAw","lastUsed":{"lastAccessedDateTime":"2025-05-01T10:00:00Z","lastModifiedDateTime":"2025-04-30T09:00:00Z"},"resourceVisualization":{"title":"Q3 plan","type":"Word","mediaType":"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},"resourceReference":{"webUrl":"https://acme.sharepoint.com/sites/sales/Shared%20Documents/Q3%20plan.docx","id":"drives/b!x/items/01"}},{"id":"nolink","resourceVisualization":{"title":"x"}}]}"#,
                ),
                (
                    401,
                    r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{"date":"2025-05-01T10:00:00"}}}"#,
                ),
                (
                    429,
                    r#"{"error":{"code":"activityLimitReached","message":"The application or user has been throttled."}}"#,
                ),
            ],
        );
        let snap = refresh(&call).await.unwrap();
        assert_eq!(
            snap.items.len(),
            1,
            "a file without a web link is not shown"
        );
        let item = &snap.items[0];
        assert_eq!(item.title, "Q3 plan");
        assert_eq!(item.subtitle.as_deref(), Some("Word"));
        assert_eq!(item.native_id, "AQMkADAw");
        assert_eq!(item.updated_at, Some(1_746_093_600));
        assert!(item.url.starts_with("https://acme.sharepoint.com/"));
        assert_eq!(
            call.targets()[0],
            "me/insights/used?$orderby=LastUsed%2FLastAccessedDateTime+desc&$top=20"
        );
        assert!(matches!(
            refresh(&call).await.unwrap_err(),
            WidgetError::Reconnect { .. }
        ));
        assert!(matches!(
            refresh(&call).await.unwrap_err(),
            WidgetError::RateLimited { .. }
        ));
    }
}
