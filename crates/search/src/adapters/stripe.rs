//! Stripe: `GET /v1/customers/search` with `name~"…" OR email~"…"` (substring matches).
//! Stripe is an API-key integration: the call goes through the Latchkey server's proxy,
//! which adds the key, so the target is the API path itself. Customers have no
//! "updated" time; `created` stands in. Links are the Dashboard's customer pages, under
//! `/test/` for test-mode customers. Search's index lags writes by about a minute, and
//! Stripe offers no search to accounts in India (its 400 message says so).
//!
//! In a search-language value `"` and `\` are escaped with `\`. A restricted key without
//! customer read access answers 403, said here as the missing permission.

use latchkey_connect::ApiRequest;
use serde_json::Value;

use super::wire::{body_json, missing_scope};
use super::{Adapter, ProviderCall, encode, error_message, json_answer, text};
use crate::error::SearchError;
use crate::hit::Hit;

pub struct Stripe;

/// The permission a restricted key needs, as the Dashboard names it.
const CUSTOMERS_READ: &str = "Customers (read)";

/// The search-language query for `text`.
pub(crate) fn customer_query(text: &str) -> String {
    let v = text.trim().replace('\\', "\\\\").replace('"', "\\\"");
    format!("name~\"{v}\" OR email~\"{v}\"")
}

#[async_trait::async_trait]
impl Adapter for Stripe {
    async fn search(
        &self,
        call: &dyn ProviderCall,
        text_: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let response = call
            .call(ApiRequest::get(format!(
                "/v1/customers/search?query={}&limit={}",
                encode(&customer_query(text_)),
                limit.clamp(1, 100)
            )))
            .await?;
        if response.status == 403
            && error_message(&body_json(&response))
                .to_lowercase()
                .contains("permission")
        {
            return Err(missing_scope(call.provider(), CUSTOMERS_READ));
        }
        let body = json_answer(call, &response)?;
        let data =
            body.get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| SearchError::Unreadable {
                    provider: call.provider().to_owned(),
                    reason: "no data in the answer".to_owned(),
                })?;
        Ok(data
            .iter()
            .filter_map(|c| {
                // Customer ids are cus_ and letters and digits: anything else is not one.
                let id = text(c, "/id").filter(|id| {
                    id.strip_prefix("cus_")
                        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_alphanumeric()))
                })?;
                let name = text(c, "/name");
                let email = text(c, "/email");
                let live = c.get("livemode").and_then(Value::as_bool) != Some(false);
                let (title, subtitle) = match (name, email) {
                    (Some(n), Some(e)) => (n, Some(e)),
                    (Some(n), None) => (n, None),
                    (None, Some(e)) => (e, None),
                    (None, None) => (id.clone(), None),
                };
                let mode = if live { "" } else { "test/" };
                Some(Hit {
                    url: format!("https://dashboard.stripe.com/{mode}customers/{id}"),
                    title,
                    subtitle: Some(match subtitle {
                        Some(s) if live => format!("customer · {s}"),
                        Some(s) => format!("test customer · {s}"),
                        None if live => "customer".to_owned(),
                        None => "test customer".to_owned(),
                    }),
                    kind: "customer".to_owned(),
                    native_id: id,
                    updated_at: c.get("created").and_then(Value::as_i64),
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

    const BASE: &str = "https://api.stripe.com";

    #[test]
    fn quotes_and_backslashes_are_escaped_in_the_values() {
        assert_eq!(customer_query(" acme "), r#"name~"acme" OR email~"acme""#);
        assert_eq!(
            customer_query(r#"the "a\b" co"#),
            r#"name~"the \"a\\b\" co" OR email~"the \"a\\b\" co""#
        );
    }

    #[tokio::test]
    async fn customers_link_to_the_dashboard_in_their_mode() {
        let call = Scripted::new(
            "Stripe",
            BASE,
            vec![(
                200,
                r#"{"object":"search_result","url":"/v1/customers/search","has_more":false,"next_page":null,"data":[
                {"id":"cus_NeGfPRiPKxeBi1","object":"customer","name":"Jane Doe","email":"jane@acme.test","created":1680569616,"livemode":true},
                {"id":"cus_Test123","object":"customer","name":null,"email":"ops@acme.test","created":1680569000,"livemode":false},
                {"id":"../../x","object":"customer","name":"Not an id","livemode":true}
            ]}"#,
            )],
        );
        let hits = Stripe.search(&call, "acme", 10).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].title, "Jane Doe");
        assert_eq!(
            hits[0].subtitle.as_deref(),
            Some("customer · jane@acme.test")
        );
        assert_eq!(
            hits[0].url,
            "https://dashboard.stripe.com/customers/cus_NeGfPRiPKxeBi1"
        );
        assert_eq!(hits[0].updated_at, Some(1_680_569_616));
        assert_eq!(hits[1].title, "ops@acme.test");
        assert_eq!(
            hits[1].url,
            "https://dashboard.stripe.com/test/customers/cus_Test123"
        );
        let hosts = vec!["dashboard.stripe.com".to_owned()];
        assert!(hits.iter().all(|h| link_allowed(&h.url, &hosts, None)));
        assert_eq!(
            call.targets()[0],
            "/v1/customers/search?query=name%7E%22acme%22+OR+email%7E%22acme%22&limit=10"
        );
    }

    #[tokio::test]
    async fn a_bad_key_a_restricted_key_and_rate_limits() {
        let call = Scripted::new(
            "Stripe",
            BASE,
            vec![
                (
                    401,
                    r#"{"error":{"message":"Invalid API Key provided: sk_test_********************1234","type":"invalid_request_error"}}"#,
                ),
                (
                    403,
                    r#"{"error":{"message":"The provided key 'rk_test_***1234' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_customer_read' permission would allow this request to continue.","type":"invalid_request_error"}}"#,
                ),
                (
                    400,
                    r#"{"error":{"message":"Search is not supported on api version 2020-03-02. Update your API version, or set the API Version of this request to 2020-08-27 or greater.","type":"invalid_request_error"}}"#,
                ),
                (
                    429,
                    r#"{"error":{"message":"Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.","type":"invalid_request_error","code":"rate_limit"}}"#,
                ),
            ],
        );
        let e = Stripe.search(&call, "acme", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.reconnect");
        let e = Stripe.search(&call, "acme", 5).await.unwrap_err();
        assert_eq!(e, missing_scope("Stripe", CUSTOMERS_READ));
        assert!(!e.to_string().contains("rk_test"), "no key in a message");
        let e = Stripe.search(&call, "acme", 5).await.unwrap_err();
        assert!(e.to_string().contains("2020-08-27"), "{e}");
        let e = Stripe.search(&call, "acme", 5).await.unwrap_err();
        assert_eq!(e.code(), "search.rate_limited");
    }
}
