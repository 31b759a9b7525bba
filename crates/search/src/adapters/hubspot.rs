//! HubSpot: the CRM search endpoint (`POST /crm/v3/objects/{type}/search` with `query`)
//! for contacts and companies, two requests sent together, first page of each, merged
//! in turns. Record links are `https://{uiDomain}/contacts/{portalId}/record/{0-1|0-2}/{id}`:
//! neither the token nor the search answer carries the account's id, so a third request
//! (`GET /account-info/v3/details`, scope `oauth`) sent alongside gives the `portalId`
//! and the `uiDomain` (`app.hubspot.com`, or `app-eu1.hubspot.com` for EU accounts);
//! without them no result could be opened, so their failure fails the search.
//!
//! Companies need `crm.objects.companies.read`, which the catalog does not ask for by
//! default: when one object type is refused (a missing scope, anything) and the other
//! answered, the refused one is left out; when both fail, the contacts error is reported.

use serde_json::{Value, json};

use super::wire::{body_json, interleave, missing_scope, post_json};
use super::{Adapter, ProviderCall, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;
use crate::time::parse_timestamp;

pub struct Hubspot;

/// One CRM object type searched.
struct Object {
    /// The path segment (`contacts`).
    path: &'static str,
    /// HubSpot's object type id in record URLs.
    type_id: &'static str,
    kind: &'static str,
    /// The scope its search needs, named when HubSpot does not say.
    scope: &'static str,
    properties: &'static [&'static str],
}

const CONTACTS: Object = Object {
    path: "contacts",
    type_id: "0-1",
    kind: "contact",
    scope: "crm.objects.contacts.read",
    properties: &["firstname", "lastname", "email", "company"],
};

const COMPANIES: Object = Object {
    path: "companies",
    type_id: "0-2",
    kind: "company",
    scope: "crm.objects.companies.read",
    properties: &["name", "domain"],
};

/// Where record pages live for this account.
struct Portal {
    host: String,
    id: u64,
}

/// A record found, before its link is known.
struct Record {
    id: String,
    title: String,
    subtitle: String,
    updated_at: Option<i64>,
}

/// The search request for one object type.
pub(crate) fn search_request(
    object_path: &str,
    properties: &[&str],
    text: &str,
    limit: usize,
) -> latchkey_connect::ApiRequest {
    post_json(
        format!("crm/v3/objects/{object_path}/search"),
        &json!({
            "query": text.trim(),
            "properties": properties,
            "limit": limit,
        }),
    )
}

/// HubSpot's refusal: `MISSING_SCOPES` names the scopes wanted; the rest as usual.
fn answer(
    call: &dyn ProviderCall,
    response: &latchkey_connect::ApiResponse,
    scope: &str,
) -> Result<Value, SearchError> {
    if response.status == 403 {
        let body = body_json(response);
        if text(&body, "/category").as_deref() == Some("MISSING_SCOPES") {
            let named: Vec<&str> = ["requiredGranularScopes", "requiredScopes"]
                .iter()
                .filter_map(|k| {
                    body.pointer(&format!("/errors/0/context/{k}"))
                        .and_then(Value::as_array)
                })
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let scopes = if named.is_empty() {
                scope.to_owned()
            } else {
                named.join(" or ")
            };
            return Err(missing_scope(call.provider(), scopes));
        }
    }
    json_answer(call, response)
}

async fn search_object(
    call: &dyn ProviderCall,
    object: &Object,
    text_: &str,
    limit: usize,
) -> Result<Vec<Record>, SearchError> {
    let response = call
        .call(search_request(object.path, object.properties, text_, limit))
        .await?;
    let body = answer(call, &response, object.scope)?;
    let results = body
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| SearchError::Unreadable {
            provider: call.provider().to_owned(),
            reason: "no results in the answer".to_owned(),
        })?;
    Ok(results
        .iter()
        .filter_map(|r| {
            // Record ids are digits: anything else is not one.
            let id = text(r, "/id").filter(|id| id.bytes().all(|b| b.is_ascii_digit()))?;
            let p = |name: &str| text(r, &format!("/properties/{name}"));
            let (title, detail) = if object.type_id == CONTACTS.type_id {
                let name = [p("firstname"), p("lastname")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let email = p("email");
                match (name.is_empty(), email) {
                    (false, email) => (name, email.or_else(|| p("company"))),
                    (true, Some(email)) => (email, p("company")),
                    (true, None) => (format!("Contact {id}"), p("company")),
                }
            } else {
                match (p("name"), p("domain")) {
                    (Some(name), domain) => (name, domain),
                    (None, Some(domain)) => (domain, None),
                    (None, None) => (format!("Company {id}"), None),
                }
            };
            Some(Record {
                subtitle: match detail {
                    Some(d) => format!("{} · {d}", object.kind),
                    None => object.kind.to_owned(),
                },
                title,
                updated_at: text(r, "/updatedAt").and_then(|t| parse_timestamp(&t)),
                id,
            })
        })
        .collect())
}

/// The account's id and web app host, from the account details.
async fn portal(call: &dyn ProviderCall) -> Result<Portal, SearchError> {
    let response = call
        .call(latchkey_connect::ApiRequest::get("account-info/v3/details"))
        .await?;
    let body = answer(call, &response, "oauth")?;
    let id = body
        .get("portalId")
        .and_then(Value::as_u64)
        .ok_or_else(|| SearchError::Unreadable {
            provider: call.provider().to_owned(),
            reason: "no portalId in the account details".to_owned(),
        })?;
    Ok(Portal {
        host: ui_host(text(&body, "/uiDomain").as_deref()),
        id,
    })
}

/// `uiDomain` when it is HubSpot's app host (`app.hubspot.com`, `app-eu1.hubspot.com`),
/// else `app.hubspot.com`.
pub(crate) fn ui_host(ui_domain: Option<&str>) -> String {
    let default = "app.hubspot.com";
    let Some(domain) = ui_domain.map(str::to_ascii_lowercase) else {
        return default.to_owned();
    };
    let regional = domain
        .strip_prefix("app-")
        .and_then(|rest| rest.strip_suffix(".hubspot.com"))
        .is_some_and(|region| {
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if domain == default || regional {
        domain
    } else {
        default.to_owned()
    }
}

#[async_trait::async_trait]
impl Adapter for Hubspot {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let size = limit.clamp(1, 100);
        let (contacts, companies, portal) = tokio::join!(
            search_object(call, &CONTACTS, text_, size),
            search_object(call, &COMPANIES, text_, size),
            portal(call),
        );
        let portal = portal?;
        let (contacts, companies) = match (contacts, companies) {
            (Err(e), Err(_)) => return Err(e),
            (c, co) => (c, co),
        };
        let mut lists = Vec::new();
        for (object, found) in [(&CONTACTS, contacts), (&COMPANIES, companies)] {
            match found {
                Ok(records) => lists.push(
                    records
                        .into_iter()
                        .map(|r| Hit {
                            url: format!(
                                "https://{}/contacts/{}/record/{}/{}",
                                portal.host, portal.id, object.type_id, r.id
                            ),
                            native_id: format!("{}/{}", object.type_id, r.id),
                            title: r.title,
                            subtitle: Some(r.subtitle),
                            kind: object.kind.to_owned(),
                            updated_at: r.updated_at,
                        })
                        .collect(),
                ),
                Err(e) => tracing::debug!(
                    object = object.path,
                    code = e.code(),
                    "HubSpot: one object type left out of the results"
                ),
            }
        }
        Ok(interleave(lists, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::routed::Routed;
    use crate::engine::link_allowed;

    const BASE: &str = "https://api.hubapi.com";

    const DETAILS: &str = r#"{"portalId":12345678,"accountType":"STANDARD","timeZone":"US/Eastern","companyCurrency":"USD","additionalCurrencies":[],"utcOffset":"-04:00","utcOffsetMilliseconds":-14400000,"uiDomain":"app-eu1.hubspot.com","dataHostingLocation":"eu1"}"#;

    #[test]
    fn the_web_app_host_is_hubspots_own() {
        assert_eq!(ui_host(Some("app-eu1.hubspot.com")), "app-eu1.hubspot.com");
        assert_eq!(ui_host(Some("app.hubspot.com")), "app.hubspot.com");
        assert_eq!(ui_host(Some("evil.example")), "app.hubspot.com");
        assert_eq!(
            ui_host(Some("app-eu1.hubspot.com.evil.example")),
            "app.hubspot.com"
        );
        assert_eq!(ui_host(None), "app.hubspot.com");
    }

    #[tokio::test]
    async fn contacts_and_companies_link_to_record_pages_in_the_accounts_portal() {
        let call = Routed::new(
            "HubSpot",
            BASE,
            vec![
                (
                    "objects/contacts/search",
                    200,
                    r#"{"total":2,"results":[
                    {"id":"512","properties":{"firstname":"Ada","lastname":"Acme","email":"ada@acme.test","hs_object_id":"512"},"createdAt":"2025-01-01T10:00:00Z","updatedAt":"2025-05-01T10:00:00Z","archived":false},
                    {"id":"513","properties":{"email":"ops@acme.test"},"updatedAt":"2025-04-01T10:00:00Z"}
                ]}"#,
                ),
                (
                    "objects/companies/search",
                    200,
                    r#"{"total":1,"results":[{"id":"901","properties":{"name":"Acme","domain":"acme.test"},"updatedAt":"2025-03-01T10:00:00.000Z"}],"paging":{"next":{"after":"1"}}}"#,
                ),
                ("account-info/v3/details", 200, DETAILS),
            ],
        );
        let hits = Hubspot.search(&call, "acme", 10).await.unwrap();
        let titles: Vec<&str> = hits.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Ada Acme", "Acme", "ops@acme.test"], "in turns");
        assert_eq!(
            hits[0].url,
            "https://app-eu1.hubspot.com/contacts/12345678/record/0-1/512"
        );
        assert_eq!(hits[0].subtitle.as_deref(), Some("contact · ada@acme.test"));
        assert_eq!(hits[0].updated_at, Some(1_746_093_600));
        assert_eq!(
            hits[1].url,
            "https://app-eu1.hubspot.com/contacts/12345678/record/0-2/901"
        );
        assert_eq!(hits[1].kind, "company");
        let hosts = latchkey_catalog::Catalog::builtin()
            .unwrap()
            .get("hubspot")
            .unwrap()
            .search
            .as_ref()
            .unwrap()
            .web_hosts
            .clone();
        for h in &hits {
            assert!(link_allowed(&h.url, &hosts, None), "{}", h.url);
        }

        let request = call.request("objects/contacts/search");
        assert_eq!(request.method, http::Method::POST);
        assert_eq!(request.target, "crm/v3/objects/contacts/search");
        let body: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"query":"acme","properties":["firstname","lastname","email","company"],"limit":10})
        );
        assert_eq!(call.targets().len(), 3);
    }

    #[tokio::test]
    async fn companies_without_their_scope_are_left_out_and_both_failing_is_reported() {
        let missing = r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.","correlationId":"c1","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.companies.read"]}}],"links":{"scopes":"https://developers.hubspot.com/scopes"},"category":"MISSING_SCOPES"}"#;
        let call = Routed::new(
            "HubSpot",
            BASE,
            vec![
                (
                    "objects/contacts/search",
                    200,
                    r#"{"total":1,"results":[{"id":"512","properties":{"firstname":"Ada"},"updatedAt":"2025-05-01T10:00:00Z"}]}"#,
                ),
                ("objects/companies/search", 403, missing),
                ("account-info/v3/details", 200, DETAILS),
            ],
        );
        let hits = Hubspot.search(&call, "ada", 10).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "contact");

        let call = Routed::new(
            "HubSpot",
            BASE,
            vec![
                (
                    "objects/contacts/search",
                    403,
                    &missing.replace("companies", "contacts"),
                ),
                ("objects/companies/search", 403, missing),
                ("account-info/v3/details", 200, DETAILS),
            ],
        );
        assert_eq!(
            Hubspot.search(&call, "ada", 10).await.unwrap_err(),
            missing_scope("HubSpot", "crm.objects.contacts.read")
        );
    }

    #[tokio::test]
    async fn expired_tokens_and_the_secondly_limit() {
        let expired = r#"{"status":"error","message":"The OAuth token used to make this call expired 2 hour(s) ago.","correlationId":"c2","category":"EXPIRED_AUTHENTICATION"}"#;
        let call = Routed::new(
            "HubSpot",
            BASE,
            vec![
                ("objects/contacts/search", 401, expired),
                ("objects/companies/search", 401, expired),
                ("account-info/v3/details", 401, expired),
            ],
        );
        assert_eq!(
            Hubspot.search(&call, "ada", 10).await.unwrap_err().code(),
            "search.reconnect"
        );

        let limited = r#"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c3","policyName":"SECONDLY"}"#;
        let call = Routed::new(
            "HubSpot",
            BASE,
            vec![
                ("objects/contacts/search", 429, limited),
                ("objects/companies/search", 429, limited),
                ("account-info/v3/details", 200, DETAILS),
            ],
        )
        .with_header("objects/contacts/search", "Retry-After", "1");
        assert_eq!(
            Hubspot.search(&call, "ada", 10).await.unwrap_err(),
            SearchError::RateLimited {
                provider: "HubSpot".into(),
                retry_after: Some(1)
            }
        );
    }
}
