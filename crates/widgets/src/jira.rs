//! Jira issues assigned to the user, not done, newest first: the first site the token
//! reaches with a Jira scope (`accessible-resources`), then `search/jql` with
//! `assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC` and the
//! fields asked for (the endpoint returns ids only otherwise). A full refresh each time.

use latchkey_connect::ApiRequest;
use latchkey_search::{ProviderCall, atlassian_sites, encode, json_answer, parse_timestamp, text};

use crate::{Item, Snapshot, WidgetError, list};

const JQL: &str = "assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC";

pub(crate) async fn refresh(call: &dyn ProviderCall) -> Result<Snapshot, WidgetError> {
    let response = call
        .call(ApiRequest::get("oauth/token/accessible-resources"))
        .await?;
    let resources = json_answer(call, &response)?;
    let Some(site) = atlassian_sites(&resources).into_iter().find(|s| s.jira) else {
        return Err(WidgetError::MissingScope {
            provider: call.provider().to_owned(),
            scopes: "read:jira-work".to_owned(),
        });
    };
    let response = call
        .call(ApiRequest::get(format!(
            "ex/jira/{}/rest/api/3/search/jql?jql={}&fields={}&maxResults=20",
            site.id,
            encode(JQL),
            encode("summary,updated,status")
        )))
        .await?;
    let body = json_answer(call, &response)?;
    let issues = list(call, &body, "issues")?;
    let items: Vec<Item> = issues
        .iter()
        .filter_map(|issue| {
            let key = text(issue, "/key").filter(|k| {
                k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && k.contains('-')
            })?;
            Some(Item {
                url: format!("{}/browse/{key}", site.url),
                title: text(issue, "/fields/summary").unwrap_or_else(|| key.clone()),
                subtitle: Some(match text(issue, "/fields/status/name") {
                    Some(status) => format!("{key} · {status}"),
                    None => key.clone(),
                }),
                updated_at: text(issue, "/fields/updated").and_then(|t| parse_timestamp(&t)),
                native_id: key,
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
    async fn issues_assigned_to_me_on_my_jira_site() {
        let call = Scripted::new(
            "https://api.atlassian.com",
            vec![
                (
                    200,
                    r#"[{"id":"11111111-2222-3333-4444-555555555555","url":"https://acme.atlassian.net","name":"acme","scopes":["read:jira-work","read:jira-user"]}]"#,
                ),
                (
                    200,
                    r#"{"issues":[{"id":"10001","key":"OPS-7","fields":{"summary":"Rotate keys","updated":"2025-05-01T10:00:00.000+0000","status":{"name":"In Progress"}}},{"key":"../x","fields":{}}],"isLast":true}"#,
                ),
                (
                    200,
                    r#"[{"id":"c1","url":"https://acme.atlassian.net","scopes":["search:confluence"]}]"#,
                ),
            ],
        );
        let snap = refresh(&call).await.unwrap();
        assert_eq!(snap.items.len(), 1, "a key that is not one is dropped");
        assert_eq!(snap.items[0].title, "Rotate keys");
        assert_eq!(snap.items[0].url, "https://acme.atlassian.net/browse/OPS-7");
        assert_eq!(
            snap.items[0].subtitle.as_deref(),
            Some("OPS-7 · In Progress")
        );
        let targets = call.targets();
        assert!(targets[1].starts_with("ex/jira/11111111-2222-3333-4444-555555555555/rest/api/3/search/jql?jql=assignee+%3D+currentUser%28%29"), "{targets:?}");
        assert!(targets[1].contains("fields=summary%2Cupdated%2Cstatus"));
        // A token with no Jira site says which scope is missing.
        assert_eq!(
            refresh(&call).await.unwrap_err().code(),
            "search.missing_scope"
        );
    }
}
