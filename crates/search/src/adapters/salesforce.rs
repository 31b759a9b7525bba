//! Salesforce: SOSL through the REST API's `search` resource at the org's own
//! `instance_url` (the catalog's API base), across Accounts, Contacts, Opportunities and
//! Cases; links `{instance}/lightning/r/{sobject}/{Id}/view`.
//!
//! SOSL reserves `? & | ! { } [ ] ( ) ^ ~ * : \ " ' + -`: each is escaped with `\`, and
//! the term ends in `*` for a prefix match. One-character terms are refused by
//! Salesforce, so they are refused here first, in words.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::{Adapter, ProviderCall, encode, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Salesforce;

/// The objects searched, each with its title field and what else to show.
const OBJECTS: &[(&str, &str, &str)] = &[
    ("Account", "Name", "Id,Name,Industry,LastModifiedDate"),
    ("Contact", "Name", "Id,Name,Email,LastModifiedDate"),
    ("Opportunity", "Name", "Id,Name,StageName,LastModifiedDate"),
    ("Case", "Subject", "Id,Subject,CaseNumber,LastModifiedDate"),
];

/// Escapes SOSL's reserved characters.
pub(crate) fn escape_sosl(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    for c in term.chars() {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SOSL statement for `text`.
pub(crate) fn sosl(text: &str, limit: usize) -> String {
    let returning: Vec<String> = OBJECTS
        .iter()
        .map(|(object, _, fields)| format!("{object}({fields} ORDER BY LastModifiedDate DESC)"))
        .collect();
    format!(
        "FIND {{{}*}} IN NAME FIELDS RETURNING {} LIMIT {limit}",
        escape_sosl(text.trim()),
        returning.join(", ")
    )
}

#[async_trait::async_trait]
impl Adapter for Salesforce {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        if text_.trim().chars().count() < 2 {
            return Err(SearchError::Query {
                provider: call.provider().to_owned(),
                reason: "type at least two characters to search Salesforce".to_owned(),
            });
        }
        let response = call
            .call(ApiRequest::get(format!(
                "search?q={}",
                encode(&sosl(text_, limit))
            )))
            .await?;
        let body = json_answer(call, &response)?;
        let origin = response.url.origin().ascii_serialization();
        let records = body
            .get("searchRecords")
            .and_then(Value::as_array)
            .ok_or_else(|| SearchError::Unreadable {
                provider: call.provider().to_owned(),
                reason: "no searchRecords in the answer".to_owned(),
            })?;
        Ok(records
            .iter()
            .filter_map(|r| {
                let object = text(r, "/attributes/type")?;
                let id = text(r, "/Id")?;
                // Salesforce ids are 15 or 18 letters and digits: anything else is not one.
                if !(id.len() == 15 || id.len() == 18)
                    || !id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return None;
                }
                if !object
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return None;
                }
                let title_field = OBJECTS
                    .iter()
                    .find(|(o, _, _)| *o == object)
                    .map_or("Name", |(_, t, _)| *t);
                let title = text(r, &format!("/{title_field}"))
                    .or_else(|| text(r, "/Name"))
                    .unwrap_or_else(|| id.clone());
                let detail = text(r, "/Industry")
                    .or_else(|| text(r, "/Email"))
                    .or_else(|| text(r, "/StageName"))
                    .or_else(|| text(r, "/CaseNumber").map(|n| format!("Case {n}")));
                Some(Hit {
                    url: format!("{origin}/lightning/r/{object}/{id}/view"),
                    native_id: id,
                    title,
                    subtitle: Some(match detail {
                        Some(d) => format!("{object} · {d}"),
                        None => object.clone(),
                    }),
                    kind: object,
                    updated_at: text(r, "/LastModifiedDate").and_then(|t| parse_timestamp(&t)),
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

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(escape_sosl("AT&T (east)"), "AT\\&T \\(east\\)");
        assert_eq!(escape_sosl("o'neil-smith"), "o\\'neil\\-smith");
        let q = sosl("acme", 20);
        assert!(q.starts_with("FIND {acme*} IN NAME FIELDS RETURNING Account(Id,Name,Industry,LastModifiedDate ORDER BY LastModifiedDate DESC), Contact("), "{q}");
        assert!(q.ends_with("LIMIT 20"));
    }

    #[tokio::test]
    async fn records_become_hits_with_lightning_links_on_the_orgs_host() {
        let call = Scripted::new(
            "Salesforce",
            "https://acme.my.salesforce.com/services/data/v62.0",
            vec![(
                200,
                r#"{"searchRecords":[
                {"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001000000000001AAA"},"Id":"001000000000001AAA","Name":"Acme","Industry":"Manufacturing","LastModifiedDate":"2025-05-01T10:00:00.000+0000"},
                {"attributes":{"type":"Case"},"Id":"500000000000001AAA","Subject":"Acme login broken","CaseNumber":"00001026","LastModifiedDate":"2025-04-01T10:00:00.000+0000"},
                {"attributes":{"type":"Account"},"Id":"../../evil","Name":"Not an id"}
            ]}"#,
            )],
        );
        let hits = Salesforce.search(&call, "acme", 20).await.unwrap();
        assert_eq!(hits.len(), 2, "a record whose id is not an id is dropped");
        assert_eq!(hits[0].title, "Acme");
        assert_eq!(hits[0].subtitle.as_deref(), Some("Account · Manufacturing"));
        assert_eq!(
            hits[0].url,
            "https://acme.my.salesforce.com/lightning/r/Account/001000000000001AAA/view"
        );
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(hits[1].title, "Acme login broken");
        assert_eq!(hits[1].kind, "Case");
        let target = &call.targets()[0];
        assert!(target.starts_with("search?q=FIND+%7Bacme*%7D"), "{target}");
    }

    /// An org connection's users reach Salesforce only on the paths its admin allows,
    /// and the console offers the catalog's `search.api_paths`: search must stay on them.
    #[tokio::test]
    async fn search_calls_only_the_paths_the_catalog_declares_for_it() {
        let catalog = latchkey_catalog::Catalog::builtin().unwrap();
        for id in ["salesforce", "demo-salesforce"] {
            let search = catalog.get(id).unwrap().search.as_ref().unwrap();
            let call = Scripted::new(
                "Salesforce",
                "https://acme.my.salesforce.com/services/data/v62.0",
                vec![(200, r#"{"searchRecords":[]}"#)],
            );
            Salesforce.search(&call, "acme", 20).await.unwrap();
            let target = &call.targets()[0];
            assert!(
                search.declares_call(target),
                "{id}: {target} is not under {:?}",
                search.api_paths
            );
        }
    }

    #[tokio::test]
    async fn an_expired_session_a_daily_limit_and_a_short_term_say_what_to_do() {
        let call = Scripted::new(
            "Salesforce",
            "https://acme.my.salesforce.com/services/data/v62.0",
            vec![
                (
                    401,
                    r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
                ),
                (
                    403,
                    r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
                ),
                (
                    400,
                    r#"[{"message":"search term must be longer than one character","errorCode":"INVALID_SEARCH"}]"#,
                ),
            ],
        );
        let e = Salesforce.search(&call, "acme", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = Salesforce.search(&call, "acme", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.rate_limited", "{e}");
        let e = Salesforce.search(&call, "acme", 5).await.unwrap_err();
        assert!(e.to_string().contains("longer than one character"), "{e}");
        let e = Salesforce.search(&call, "a", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.bad_query");
        assert_eq!(call.targets().len(), 3, "a one-letter query is not sent");
    }
}
