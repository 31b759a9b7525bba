//! Salesforce recent Accounts, incremental: the first refresh asks for the newest
//! Accounts by `SystemModstamp`; later ones ask `queryAll` only for rows changed since
//! the cursor (`SystemModstamp > cursor`), following `nextRecordsUrl` page by page, and
//! drop the rows that come back `IsDeleted = true`. (`queryAll` sees deletions while the
//! record is in the recycle bin, 15 days; a widget idle for longer refreshes in full.)

use std::collections::HashMap;

use latchkey_connect::ApiRequest;
use latchkey_search::{ProviderCall, encode, format_timestamp, json_answer, parse_timestamp, text};
use serde_json::Value;

use crate::{Item, MAX_ITEMS, Snapshot, WidgetError, list};

/// Pages followed in one refresh (2,000 rows each at most).
const MAX_PAGES: usize = 10;
/// A snapshot last refreshed longer ago than this may have missed deletions that have
/// left the recycle bin since: refresh in full.
const DELETIONS_KEPT_SECS: i64 = 14 * 86_400;

/// The API base's path, from the URL the first page of `resource` answered at
/// (`/services/data/v62.0/query` → `/services/data/v62.0`).
fn api_path_of(path: &str, resource: &str) -> String {
    path.strip_suffix(resource)
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or(path)
        .to_owned()
}

/// `next` (a nextRecordsUrl) relative to the API base at `api_path`, if it is under it.
fn under_api<'a>(next: &'a str, api_path: &str) -> Option<&'a str> {
    next.strip_prefix(api_path)?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty() && !rest.contains("://") && !rest.starts_with('/'))
}

pub(crate) async fn refresh(
    call: &dyn ProviderCall,
    previous: Option<&Snapshot>,
    now: i64,
) -> Result<Snapshot, WidgetError> {
    let since = previous.and_then(|p| {
        let at = parse_timestamp(p.cursor.as_deref()?)?;
        (now - p.refreshed_at < DELETIONS_KEPT_SECS).then_some(at)
    });
    let soql = match since {
        Some(at) => format!(
            "SELECT Id, Name, Industry, SystemModstamp, IsDeleted FROM Account WHERE SystemModstamp > {} ORDER BY SystemModstamp ASC, Id ASC",
            soql_datetime(at)
        ),
        None => format!(
            "SELECT Id, Name, Industry, SystemModstamp FROM Account ORDER BY SystemModstamp DESC, Id DESC LIMIT {MAX_ITEMS}"
        ),
    };
    let resource = if since.is_some() { "queryAll" } else { "query" };
    let mut request = ApiRequest::get(format!("{resource}?q={}", encode(&soql)));
    let mut rows = Vec::new();
    let mut origin = String::new();
    let mut api_path = None;
    for _ in 0..MAX_PAGES {
        let response = call.call(request).await?;
        // Links open on the org's own host, where its API answered.
        origin = response.url.origin().ascii_serialization();
        let api_path = api_path.get_or_insert_with(|| api_path_of(response.url.path(), resource));
        let body = json_answer(call, &response)?;
        let records = list(call, &body, "records")?;
        rows.extend(records.iter().cloned());
        let done = body.get("done").and_then(Value::as_bool).unwrap_or(true);
        let next = text(&body, "/nextRecordsUrl");
        match (done, next.as_deref().and_then(|n| under_api(n, api_path))) {
            (false, Some(next)) => {
                // Salesforce names the next page by its path on the org's host, under the
                // API's own (`/services/data/v62.0/queryAll/01g…-2000`): ask for it relative
                // to the API base like the first page, so that it goes where the first went
                // (an org connection's calls go through the Latchkey server, on the paths
                // its admin allowed: `/queryAll` covers it).
                request = ApiRequest::get(next.to_owned());
            }
            (false, _) => {
                return Err(unreadable(
                    call,
                    "a page said more follow but gave no nextRecordsUrl under the API's path",
                ));
            }
            (true, _) => break,
        }
    }
    let mut by_id: HashMap<String, Item> = match (since, previous) {
        (Some(_), Some(p)) => p
            .items
            .iter()
            .map(|i| (i.native_id.clone(), i.clone()))
            .collect(),
        _ => HashMap::new(),
    };
    let mut cursor = since;
    let fetched = rows.len();
    for row in &rows {
        let Some(id) = text(row, "/Id").filter(|id| {
            (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
        }) else {
            continue;
        };
        let stamp = text(row, "/SystemModstamp").and_then(|t| parse_timestamp(&t));
        cursor = cursor.max(stamp);
        if row.get("IsDeleted").and_then(Value::as_bool) == Some(true) {
            by_id.remove(&id);
            continue;
        }
        by_id.insert(
            id.clone(),
            Item {
                url: format!("{origin}/lightning/r/Account/{id}/view"),
                title: text(row, "/Name").unwrap_or_else(|| id.clone()),
                subtitle: text(row, "/Industry"),
                updated_at: stamp,
                native_id: id,
            },
        );
    }
    let mut items: Vec<Item> = by_id.into_values().collect();
    items.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then(a.native_id.cmp(&b.native_id))
    });
    items.truncate(MAX_ITEMS);
    Ok(Snapshot {
        items,
        cursor: cursor.map(soql_datetime),
        refreshed_at: 0,
        fetched,
    })
}

fn unreadable(call: &dyn ProviderCall, reason: &str) -> WidgetError {
    WidgetError::Unreadable {
        provider: call.provider().to_owned(),
        reason: reason.to_owned(),
    }
}

/// A SOQL dateTime literal (`2025-05-01T10:00:00Z`) of seconds since the epoch.
pub(crate) fn soql_datetime(secs: i64) -> String {
    format_timestamp(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    const BASE: &str = "https://acme.my.salesforce.com/services/data/v62.0";
    const NOW: i64 = 1_750_000_000;

    fn account(id: u32, name: &str, stamp: &str, deleted: Option<bool>) -> String {
        let deleted = deleted
            .map(|d| format!(r#","IsDeleted":{d}"#))
            .unwrap_or_default();
        format!(
            r#"{{"attributes":{{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001{id:015}"}},"Id":"001{id:015}","Name":"{name}","Industry":"Energy","SystemModstamp":"{stamp}"{deleted}}}"#
        )
    }

    #[test]
    fn soql_datetimes() {
        assert_eq!(soql_datetime(1_746_093_600), "2025-05-01T10:00:00Z");
        assert_eq!(soql_datetime(0), "1970-01-01T00:00:00Z");
    }

    #[tokio::test]
    async fn the_second_refresh_fetches_only_changes_and_drops_deleted_accounts() {
        let first = format!(
            r#"{{"totalSize":3,"done":true,"records":[{},{},{}]}}"#,
            account(3, "Globex", "2025-05-03T10:00:00.000+0000", None),
            account(2, "Initech", "2025-05-02T10:00:00.000+0000", None),
            account(1, "Acme", "2025-05-01T10:00:00.000+0000", None),
        );
        // Changes since: Acme renamed (page 1), Initech deleted (page 2, via nextRecordsUrl).
        let changed = format!(
            r#"{{"totalSize":2,"done":false,"nextRecordsUrl":"/services/data/v62.0/queryAll/01gRO0000016PIAYA2-1","records":[{}]}}"#,
            account(
                1,
                "Acme Corporation",
                "2025-05-04T09:00:00.000+0000",
                Some(false)
            ),
        );
        let deleted = format!(
            r#"{{"totalSize":2,"done":true,"records":[{}]}}"#,
            account(2, "Initech", "2025-05-04T10:00:00.000+0000", Some(true)),
        );
        let call = Scripted::new(BASE, vec![(200, &first), (200, &changed), (200, &deleted)]);
        let snap = refresh(&call, None, NOW).await.unwrap();
        assert_eq!(snap.fetched, 3);
        assert_eq!(
            snap.items
                .iter()
                .map(|i| i.title.as_str())
                .collect::<Vec<_>>(),
            ["Globex", "Initech", "Acme"]
        );
        assert_eq!(snap.cursor.as_deref(), Some("2025-05-03T10:00:00Z"));
        assert_eq!(
            snap.items[0].url,
            "https://acme.my.salesforce.com/lightning/r/Account/001000000000000003/view"
        );
        assert!(call.targets()[0].starts_with("query?q=SELECT+Id%2C+Name%2C+Industry%2C+SystemModstamp+FROM+Account+ORDER+BY+SystemModstamp+DESC"), "{:?}", call.targets());

        let mut previous = snap.clone();
        previous.refreshed_at = NOW - 3600;
        let next = refresh(&call, Some(&previous), NOW).await.unwrap();
        let targets = call.targets();
        assert!(
            targets[1].starts_with("queryAll?q=SELECT+Id%2C+Name%2C+Industry%2C+SystemModstamp%2C+IsDeleted+FROM+Account+WHERE+SystemModstamp+%3E+2025-05-03T10%3A00%3A00Z"),
            "only what changed since the cursor: {}",
            targets[1]
        );
        assert_eq!(
            targets[2], "queryAll/01gRO0000016PIAYA2-1",
            "the next page on the org's host"
        );
        // An org connection's calls go through the Latchkey server, on the paths its admin
        // allowed; the console offers the catalog's `search.api_paths`: every page is on them.
        let catalog = latchkey_catalog::Catalog::builtin().unwrap();
        for id in ["salesforce", "demo-salesforce"] {
            let search = catalog.get(id).unwrap().search.as_ref().unwrap();
            for target in &targets {
                assert!(
                    search.declares_call(target),
                    "{id}: {target} is not under {:?}",
                    search.api_paths
                );
            }
        }
        assert_eq!(next.fetched, 2, "two changed rows, not the whole table");
        assert_eq!(
            next.items
                .iter()
                .map(|i| i.title.as_str())
                .collect::<Vec<_>>(),
            ["Acme Corporation", "Globex"],
            "the deleted one is gone, the renamed one first"
        );
        assert_eq!(next.cursor.as_deref(), Some("2025-05-04T10:00:00Z"));
    }

    /// A next page anywhere but under the API's own path (another host, another API) is
    /// not followed: the widget says the answer was unreadable and asks nothing more.
    #[tokio::test]
    async fn a_next_page_outside_the_api_is_not_followed() {
        for next in [
            "https://evil.example/services/data/v62.0/query/01g-2000",
            "/services/apexrest/query/01g-2000",
            "/services/data/v62.0/",
        ] {
            let page = format!(
                r#"{{"done":false,"nextRecordsUrl":"{next}","records":[{}]}}"#,
                account(1, "Acme", "2025-05-01T10:00:00.000+0000", None)
            );
            let call = Scripted::new(BASE, vec![(200, &page)]);
            let e = refresh(&call, None, NOW).await.unwrap_err();
            assert!(matches!(e, WidgetError::Unreadable { .. }), "{next}: {e}");
            assert_eq!(call.targets().len(), 1, "{next}: followed");
        }
    }

    #[tokio::test]
    async fn an_old_cursor_refreshes_in_full_and_errors_keep_their_meaning() {
        let full = format!(
            r#"{{"done":true,"records":[{}]}}"#,
            account(1, "Acme", "2025-05-01T10:00:00.000+0000", None)
        );
        let call = Scripted::new(
            BASE,
            vec![
                (200, &full),
                (
                    401,
                    r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
                ),
                (
                    403,
                    r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
                ),
                (200, r#"{"done":false,"records":[]}"#),
            ],
        );
        let stale = Snapshot {
            cursor: Some("2025-01-01T00:00:00Z".into()),
            refreshed_at: NOW - 20 * 86_400,
            ..Snapshot::default()
        };
        refresh(&call, Some(&stale), NOW).await.unwrap();
        assert!(
            call.targets()[0].starts_with("query?"),
            "last refreshed 20 days ago: deletions may have left the recycle bin, so in full"
        );
        assert_eq!(
            refresh(&call, None, NOW).await.unwrap_err().code(),
            "search.reconnect"
        );
        assert_eq!(
            refresh(&call, None, NOW).await.unwrap_err().code(),
            "search.rate_limited"
        );
        assert_eq!(
            refresh(&call, None, NOW).await.unwrap_err().code(),
            "search.unreadable",
            "more pages but no link"
        );
    }
}
