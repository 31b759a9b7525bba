//! Atlassian: Jira issues and Confluence pages through `api.atlassian.com`. The sites a
//! token reaches come from `GET /oauth/token/accessible-resources` (cloud id, site URL,
//! the scopes granted there); each site is searched, the first three only (a bound on
//! requests within the search deadline), all requests sent together:
//!
//! - Jira, where the site's scopes include a Jira one: `GET
//!   /ex/jira/{cloudId}/rest/api/3/search/jql` with `text ~ "…" ORDER BY updated DESC`
//!   and the fields asked for (the endpoint returns ids only otherwise); links
//!   `{site}/browse/{key}`.
//! - Confluence, where the site's scopes include `search:confluence`: `GET
//!   /ex/confluence/{cloudId}/wiki/rest/api/search` with `text ~ "…" AND type in (page,
//!   blogpost) ORDER BY lastmodified DESC`; links `_links.base` + the page's `webui`
//!   (the site's `/wiki` when the base is not on the site).
//!
//! In JQL and CQL strings `"` and `\` are escaped with `\`. Atlassian answers a call its
//! token's scopes do not cover with 401 "scope does not match": that is a missing
//! permission, not a sign-in to renew. One part failing is left out when another answered;
//! when all fail, the first failure is reported.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use latchkey_connect::{ApiRequest, ApiResponse};
use serde_json::Value;

use super::wire::{body_json, interleave, missing_scope};
use super::{Adapter, ProviderCall, encode, error_message, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Atlassian;

/// Sites searched at most, in the order Atlassian lists them.
const MAX_SITES: usize = 3;
/// The scope named when Jira refuses the token's scopes.
const JIRA_SCOPE: &str = "read:jira-work";
/// The scope Confluence's search needs.
const CONFLUENCE_SCOPE: &str = "search:confluence";

/// One site the token reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// The cloud id, in API paths.
    pub id: String,
    /// `https://acme.atlassian.net`, no trailing slash.
    pub url: String,
    pub jira: bool,
    pub confluence: bool,
}

/// The sites in an accessible-resources answer: one per cloud id (Atlassian may list a
/// site once per product; the scopes are merged), ids and URLs checked.
pub fn sites(resources: &Value) -> Vec<Site> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for r in resources.as_array().into_iter().flatten() {
        let Some(id) =
            text(r, "/id").filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        else {
            continue;
        };
        let Some(site) = text(r, "/url")
            .and_then(|u| url::Url::parse(&u).ok())
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
        else {
            continue;
        };
        let scopes: Vec<String> = r
            .get("scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        match out.iter_mut().find(|(known, _, _)| *known == id) {
            Some((_, _, known)) => known.extend(scopes),
            None => out.push((id, site.as_str().trim_end_matches('/').to_owned(), scopes)),
        }
    }
    out.into_iter()
        .map(|(id, url, scopes)| Site {
            jira: scopes
                .iter()
                .any(|s| s == JIRA_SCOPE || s.ends_with(":jira")),
            confluence: scopes.iter().any(|s| s == CONFLUENCE_SCOPE),
            id,
            url,
        })
        .collect()
}

/// A JQL or CQL string literal's content: `\` and `"` escaped.
pub(crate) fn quoted(text: &str) -> String {
    text.trim().replace('\\', "\\\\").replace('"', "\\\"")
}

pub(crate) fn jql(text: &str) -> String {
    format!("text ~ \"{}\" ORDER BY updated DESC", quoted(text))
}

pub(crate) fn cql(text: &str) -> String {
    format!(
        "text ~ \"{}\" AND type in (page, blogpost) ORDER BY lastmodified DESC",
        quoted(text)
    )
}

/// An answer read, 401 "scope does not match" said as the missing `scope`.
fn answer(
    call: &dyn ProviderCall,
    response: &ApiResponse,
    scope: &str,
) -> Result<Value, SearchError> {
    if response.status == 401
        && error_message(&body_json(response))
            .to_lowercase()
            .contains("scope does not match")
    {
        return Err(missing_scope(call.provider(), scope));
    }
    json_answer(call, response)
}

/// Whether `key` looks like a Jira issue key (`OPS-7`).
fn is_issue_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, number)| {
        !project.is_empty()
            && project
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

async fn jira(
    call: &dyn ProviderCall,
    site: &Site,
    text_: &str,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    let response = call
        .call(ApiRequest::get(format!(
            "ex/jira/{}/rest/api/3/search/jql?jql={}&fields={}&maxResults={limit}",
            site.id,
            encode(&jql(text_)),
            encode("summary,updated,status"),
        )))
        .await?;
    let body = answer(call, &response, JIRA_SCOPE)?;
    let issues = body
        .get("issues")
        .and_then(Value::as_array)
        .ok_or_else(|| SearchError::Unreadable {
            provider: call.provider().to_owned(),
            reason: "no issues in Jira's answer".to_owned(),
        })?;
    Ok(issues
        .iter()
        .filter_map(|i| {
            let key = text(i, "/key").filter(|k| is_issue_key(k))?;
            Some(Hit {
                native_id: format!("{}:{key}", site.id),
                title: text(i, "/fields/summary").unwrap_or_else(|| key.clone()),
                subtitle: Some(match text(i, "/fields/status/name") {
                    Some(status) => format!("{key} · {status}"),
                    None => key.clone(),
                }),
                kind: "issue".to_owned(),
                url: format!("{}/browse/{key}", site.url),
                updated_at: text(i, "/fields/updated").and_then(|t| parse_timestamp(&t)),
            })
        })
        .take(limit)
        .collect())
}

/// Where Confluence's relative `webui` links start: the answer's `_links.base` when it is
/// on the site, else the site's `/wiki`.
fn wiki_base(site: &Site, body: &Value) -> String {
    let site_host = url::Url::parse(&site.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    text(body, "/_links/base")
        .filter(|base| {
            url::Url::parse(base).is_ok_and(|u| {
                u.scheme() == "https" && u.host_str().map(str::to_owned) == site_host
            })
        })
        .map(|base| base.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("{}/wiki", site.url))
}

async fn confluence(
    call: &dyn ProviderCall,
    site: &Site,
    text_: &str,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    let response = call
        .call(ApiRequest::get(format!(
            "ex/confluence/{}/wiki/rest/api/search?cql={}&limit={limit}",
            site.id,
            encode(&cql(text_)),
        )))
        .await?;
    let body = answer(call, &response, CONFLUENCE_SCOPE)?;
    let base = wiki_base(site, &body);
    let results = body
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| SearchError::Unreadable {
            provider: call.provider().to_owned(),
            reason: "no results in Confluence's answer".to_owned(),
        })?;
    Ok(results
        .iter()
        .filter_map(|r| {
            let content = r.get("content")?;
            let id = text(content, "/id")?;
            let webui = text(content, "/_links/webui").filter(|w| w.starts_with('/'))?;
            let kind = text(content, "/type").unwrap_or_else(|| "page".to_owned());
            Some(Hit {
                native_id: format!("{}:{id}", site.id),
                // `content.title` is the plain title; the result's own has highlight marks.
                title: text(content, "/title")
                    .or_else(|| text(r, "/title"))
                    .unwrap_or_else(|| id.clone()),
                subtitle: Some(match text(r, "/resultGlobalContainer/title") {
                    Some(space) => format!("{kind} · {space}"),
                    None => kind.clone(),
                }),
                kind,
                url: format!("{base}{webui}"),
                updated_at: text(r, "/lastModified").and_then(|t| parse_timestamp(&t)),
            })
        })
        .take(limit)
        .collect())
}

/// A search of one product on one site, sent with the others.
type Part<'a> = Pin<Box<dyn Future<Output = Result<Vec<Hit>, SearchError>> + Send + 'a>>;

/// Runs every part at once on this task (no spawning: they borrow the call) and returns
/// their answers in order.
async fn join_all<T>(mut parts: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut done: Vec<Option<T>> = parts.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (part, slot) in parts.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match part.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[async_trait::async_trait]
impl Adapter for Atlassian {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let provider = call.provider().to_owned();
        let response = call
            .call(ApiRequest::get("oauth/token/accessible-resources"))
            .await?;
        let resources = json_answer(call, &response)?;
        let all = sites(&resources);
        if all.is_empty() {
            return Err(SearchError::Query {
                provider,
                reason: "this connection reaches no Atlassian site; reconnect and choose a site"
                    .to_owned(),
            });
        }
        let searchable: Vec<Site> = all
            .into_iter()
            .filter(|s| s.jira || s.confluence)
            .take(MAX_SITES)
            .collect();
        if searchable.is_empty() {
            return Err(missing_scope(
                &provider,
                format!("{JIRA_SCOPE} or {CONFLUENCE_SCOPE}"),
            ));
        }
        let size = limit.clamp(1, 100);
        let mut parts: Vec<Part<'_>> = Vec::new();
        for site in &searchable {
            if site.jira {
                parts.push(Box::pin(jira(call, site, text_, size)));
            }
            if site.confluence {
                parts.push(Box::pin(confluence(call, site, text_, size)));
            }
        }
        let mut lists = Vec::new();
        let mut first_error = None;
        for answer in join_all(parts).await {
            match answer {
                Ok(hits) => lists.push(hits),
                Err(e) => {
                    tracing::debug!(
                        code = e.code(),
                        "Atlassian: one part left out of the results"
                    );
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if lists.is_empty() => Err(e),
            _ => Ok(interleave(lists, limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::routed::Routed;
    use crate::engine::link_allowed;

    const BASE: &str = "https://api.atlassian.com";
    const A: &str = "1324a887-45db-1bf4-1e99-ef0ff456d421";
    const B: &str = "9f1c0e2a-0000-4b4b-8c8c-123456789abc";

    fn resources() -> String {
        format!(
            r#"[
            {{"id":"{A}","name":"acme","url":"https://acme.atlassian.net","scopes":["read:jira-work","read:jira-user"],"avatarUrl":"https://x"}},
            {{"id":"{A}","name":"acme","url":"https://acme.atlassian.net","scopes":["search:confluence","read:confluence-content.summary"]}},
            {{"id":"{B}","name":"acme-sandbox","url":"https://acme-sandbox.atlassian.net/","scopes":["read:jira-work"]}},
            {{"id":"../evil","name":"x","url":"https://evil.example","scopes":["read:jira-work"]}}
        ]"#
        )
    }

    const ISSUES_A: &str = r#"{"issues":[
        {"id":"10007","key":"OPS-7","self":"https://api.atlassian.com/ex/jira/x/rest/api/3/issue/10007","fields":{"summary":"Rotate Q3 keys","updated":"2025-05-01T10:00:00.000+0000","status":{"name":"In Progress"}}},
        {"id":"10008","key":"../../x","fields":{"summary":"not a key"}}
    ],"isLast":true}"#;

    const PAGES_A: &str = r#"{"results":[
        {"content":{"id":"123","type":"page","status":"current","title":"Q3 plan","_links":{"webui":"/spaces/OPS/pages/123/Q3+plan","self":"x"}},"title":"@@@hl@@@Q3@@@endhl@@@ plan","excerpt":"…","url":"/spaces/OPS/pages/123/Q3+plan","resultGlobalContainer":{"title":"Operations","displayUrl":"/spaces/OPS"},"lastModified":"2025-04-01T10:00:00.000Z"}
    ],"start":0,"limit":25,"size":1,"_links":{"base":"https://acme.atlassian.net/wiki","context":"/wiki"}}"#;

    const ISSUES_B: &str = r#"{"issues":[{"id":"1","key":"SBX-1","fields":{"summary":"Q3 sandbox","updated":"2025-03-01T10:00:00.000+0000"}}],"isLast":true}"#;

    #[test]
    fn sites_are_merged_per_cloud_id_and_checked() {
        let s = sites(&serde_json::from_str(&resources()).unwrap());
        assert_eq!(
            s,
            [
                Site {
                    id: A.into(),
                    url: "https://acme.atlassian.net".into(),
                    jira: true,
                    confluence: true
                },
                Site {
                    id: B.into(),
                    url: "https://acme-sandbox.atlassian.net".into(),
                    jira: true,
                    confluence: false
                },
            ]
        );
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_in_jql_and_cql() {
        assert_eq!(
            jql(r#"say "hi" \ bye"#),
            r#"text ~ "say \"hi\" \\ bye" ORDER BY updated DESC"#
        );
        assert_eq!(
            cql("q3"),
            r#"text ~ "q3" AND type in (page, blogpost) ORDER BY lastmodified DESC"#
        );
    }

    #[tokio::test]
    async fn issues_and_pages_from_each_site_with_links_on_the_site() {
        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![
                ("oauth/token/accessible-resources", 200, &resources()),
                (&format!("ex/jira/{A}/"), 200, ISSUES_A),
                (&format!("ex/confluence/{A}/"), 200, PAGES_A),
                (&format!("ex/jira/{B}/"), 200, ISSUES_B),
            ],
        );
        let hits = Atlassian.search(&call, "q3", 10).await.unwrap();
        let titles: Vec<&str> = hits.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Rotate Q3 keys", "Q3 plan", "Q3 sandbox"]);
        assert_eq!(hits[0].url, "https://acme.atlassian.net/browse/OPS-7");
        assert_eq!(hits[0].subtitle.as_deref(), Some("OPS-7 · In Progress"));
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(
            hits[1].url,
            "https://acme.atlassian.net/wiki/spaces/OPS/pages/123/Q3+plan"
        );
        assert_eq!(hits[1].subtitle.as_deref(), Some("page · Operations"));
        assert_eq!(
            hits[2].url,
            "https://acme-sandbox.atlassian.net/browse/SBX-1"
        );
        let hosts = vec![".atlassian.net".to_owned()];
        assert!(hits.iter().all(|h| link_allowed(&h.url, &hosts, None)));

        assert_eq!(
            call.targets().len(),
            4,
            "no Confluence search on a Jira-only site"
        );
        assert_eq!(
            call.request(&format!("ex/jira/{A}/")).target,
            format!(
                "ex/jira/{A}/rest/api/3/search/jql?jql=text+%7E+%22q3%22+ORDER+BY+updated+DESC\
                 &fields=summary%2Cupdated%2Cstatus&maxResults=10"
            )
        );
        assert_eq!(
            call.request(&format!("ex/confluence/{A}/")).target,
            format!(
                "ex/confluence/{A}/wiki/rest/api/search?cql=text+%7E+%22q3%22+AND+type+in+\
                 %28page%2C+blogpost%29+ORDER+BY+lastmodified+DESC&limit=10"
            )
        );
    }

    #[tokio::test]
    async fn a_scope_mismatch_is_a_missing_permission_and_leaves_the_other_product() {
        let mismatch = r#"{"code":401,"message":"Unauthorized; scope does not match"}"#;
        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![
                ("oauth/token/accessible-resources", 200, &resources()),
                (&format!("ex/jira/{A}/"), 401, mismatch),
                (&format!("ex/confluence/{A}/"), 200, PAGES_A),
                (&format!("ex/jira/{B}/"), 401, mismatch),
            ],
        );
        let hits = Atlassian.search(&call, "q3", 10).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "page");

        let only_jira = format!(
            r#"[{{"id":"{A}","url":"https://acme.atlassian.net","scopes":["read:jira-work"]}}]"#
        );
        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![
                ("oauth/token/accessible-resources", 200, &only_jira),
                (&format!("ex/jira/{A}/"), 401, mismatch),
            ],
        );
        assert_eq!(
            Atlassian.search(&call, "q3", 10).await.unwrap_err(),
            missing_scope("Atlassian", JIRA_SCOPE)
        );
    }

    #[tokio::test]
    async fn a_refused_token_no_site_no_scope_and_rate_limits() {
        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![(
                "oauth/token/accessible-resources",
                401,
                r#"{"code":401,"message":"Unauthorized"}"#,
            )],
        );
        assert_eq!(
            Atlassian.search(&call, "q3", 10).await.unwrap_err().code(),
            "search.reconnect"
        );

        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![("oauth/token/accessible-resources", 200, "[]")],
        );
        let e = Atlassian.search(&call, "q3", 10).await.unwrap_err();
        assert!(e.to_string().contains("reaches no Atlassian site"), "{e}");

        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![(
                "oauth/token/accessible-resources",
                200,
                &format!(
                    r#"[{{"id":"{A}","url":"https://acme.atlassian.net","scopes":["read:me"]}}]"#
                ),
            )],
        );
        assert_eq!(
            Atlassian.search(&call, "q3", 10).await.unwrap_err(),
            missing_scope("Atlassian", "read:jira-work or search:confluence")
        );

        let only_jira = format!(
            r#"[{{"id":"{A}","url":"https://acme.atlassian.net","scopes":["read:jira-work"]}}]"#
        );
        let call = Routed::new(
            "Atlassian",
            BASE,
            vec![
                ("oauth/token/accessible-resources", 200, &only_jira),
                (&format!("ex/jira/{A}/"), 429, ""),
            ],
        )
        .with_header(&format!("ex/jira/{A}/"), "Retry-After", "5");
        assert_eq!(
            Atlassian.search(&call, "q3", 10).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "Atlassian".into(),
                retry_after: Some(5)
            }
        );
    }
}
