//! Named connections: one catalog provider configured several times, each a
//! connection of its own (its own id, name, environment, records and kill switch).

use super::{Backend, TestServer, b64};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put_connection(s: &TestServer, id: &str, body: Value) -> super::Reply {
    s.admin(
        Method::PUT,
        &format!("/v1/admin/integrations/{id}"),
        Some(body),
    )
    .await
}

/// An org offers its Salesforce production org and its UAT sandbox side by side: two
/// cards with their own names, each with its own records; the same system twice is
/// refused, a connection's provider never changes, and disabling one leaves the other.
pub async fn one_provider_can_be_connected_several_times_by_name(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    // The first connection of a provider is named after it, as before.
    let r = put_connection(
        &s,
        "salesforce",
        json!({ "enabled": true, "client_id": "prod-client", "scopes": ["api"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["provider"], "salesforce");
    assert_eq!(r.body["display_name"], "Salesforce");
    assert_eq!(r.body["named"], false);
    let r = put_connection(
        &s,
        "salesforce-uat",
        json!({
            "provider": "salesforce", "display_name": "  Salesforce — UAT sandbox ",
            "enabled": true, "environment": "sandbox", "client_id": "uat-client",
            "scopes": ["api"],
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], "salesforce-uat");
    assert_eq!(r.body["display_name"], "Salesforce — UAT sandbox");
    assert_eq!(r.body["named"], true);

    // The same system and environment under a third id would be one account twice.
    let r = put_connection(
        &s,
        "salesforce-again",
        json!({ "provider": "salesforce", "enabled": true, "environment": "sandbox", "client_id": "x" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "connection_exists");
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.contains("Salesforce — UAT sandbox") && message.contains("salesforce-uat"),
        "{message}"
    );
    // Another login host is another system.
    let r = put_connection(
        &s,
        "salesforce-emea",
        json!({
            "provider": "salesforce", "display_name": "Salesforce — EMEA production",
            "enabled": true, "environment": "emea.my.salesforce.com", "client_id": "emea",
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Two cards of one name could not be told apart: a second connection needs a name.
    let r = put_connection(
        &s,
        "salesforce-dev",
        json!({
            "provider": "salesforce", "enabled": true,
            "environment": "dev.my.salesforce.com", "client_id": "dev",
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "connection_name_taken");
    let r = put_connection(
        &s,
        "salesforce-dev",
        json!({
            "provider": "salesforce", "display_name": "salesforce — uat SANDBOX", "enabled": true,
            "environment": "dev.my.salesforce.com", "client_id": "dev",
        }),
    )
    .await;
    assert_eq!(
        r.code(),
        "connection_name_taken",
        "names compare without case"
    );
    // A connection stays a connection of its provider; names are checked.
    let r = put_connection(
        &s,
        "salesforce-uat",
        json!({ "provider": "github", "enabled": true, "client_id": "x" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "connection_provider_fixed");
    for bad in [json!("a\u{7}bell"), json!("x".repeat(81))] {
        let r = put_connection(
            &s,
            "salesforce-uat",
            json!({ "display_name": bad, "enabled": true, "environment": "sandbox", "client_id": "x" }),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.code(), "invalid_display_name");
    }
    let r = put_connection(
        &s,
        "salesforce-x",
        json!({ "provider": "no-such-provider", "enabled": true, "client_id": "x" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "unknown_integration");
    // An update that leaves the provider out keeps it.
    let r = put_connection(
        &s,
        "salesforce-uat",
        json!({
            "display_name": "Salesforce — UAT sandbox", "enabled": true,
            "environment": "sandbox", "client_id": "uat-client-2", "scopes": ["api"],
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["provider"], "salesforce");

    // A device sees three cards, each naming its provider.
    let d = s.new_user_device("ada@example.com").await;
    let list = s.client(&d).integrations().await.unwrap();
    let cards: Vec<(String, String, String, String)> = list
        .iter()
        .map(|i| {
            (
                i.id.as_str().to_owned(),
                i.provider_id().as_str().to_owned(),
                i.display_name.clone().unwrap_or_default(),
                i.environment.as_str().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("salesforce", "salesforce", "Salesforce", "production"),
        (
            "salesforce-uat",
            "salesforce",
            "Salesforce — UAT sandbox",
            "sandbox",
        ),
        (
            "salesforce-emea",
            "salesforce",
            "Salesforce — EMEA production",
            "emea.my.salesforce.com",
        ),
    ] {
        let expected = (
            expected.0.to_owned(),
            expected.1.to_owned(),
            expected.2.to_owned(),
            expected.3.to_owned(),
        );
        assert!(cards.contains(&expected), "{expected:?} in {cards:?}");
    }
    let uat = list
        .iter()
        .find(|i| i.id.as_str() == "salesforce-uat")
        .unwrap();
    assert_eq!(uat.client_id.as_deref(), Some("uat-client-2"));

    // Each connection keeps its own records, in its own environment only.
    for path in [
        "/v1/records/salesforce/production/vk1",
        "/v1/records/salesforce-uat/sandbox/vk1",
    ] {
        let r = s
            .device(
                &d,
                Method::PUT,
                path,
                Some(json!({ "envelope": b64(path.as_bytes()) })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {:?}", r.body);
    }
    let r = s
        .device(
            &d,
            Method::PUT,
            "/v1/records/salesforce-uat/production/vk1",
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // Disabling the sandbox connection revokes its records, not production's.
    let r = put_connection(
        &s,
        "salesforce-uat",
        json!({ "enabled": false, "environment": "sandbox", "client_id": "uat-client-2" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let records = s.client(&d).list_records(None).await.unwrap();
    let live: Vec<&str> = records.iter().map(|r| r.integration_id.as_str()).collect();
    assert_eq!(live, vec!["salesforce"], "{records:?}");
    let orders = s.client(&d).revocation_orders().await.unwrap();
    assert!(
        !orders.is_empty()
            && orders
                .iter()
                .all(|o| o.integration_id.as_str() == "salesforce-uat"),
        "{orders:?}"
    );
    // The console lists every connection with its provider.
    let all = s.admin(Method::GET, "/v1/admin/integrations", None).await;
    let ids: Vec<(&str, &str)> = all.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("salesforce", "salesforce"),
            ("salesforce-emea", "salesforce"),
            ("salesforce-uat", "salesforce"),
        ]
    );
    s.stop().await;
}
