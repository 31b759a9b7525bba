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

/// Values an admin leaves blank are asked of each user at connect: the user's login
/// host (a Salesforce My Domain) or subdomain, checked with the catalog's rules the
/// console's values get, remembered per user and connection, and from then on part of
/// that user's connection (its environment, its records' slot); the admin sees them.
pub async fn values_left_blank_are_asked_of_each_user_at_connect(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    // What an admin may leave to users, checked.
    for (body, why) in [
        (
            json!({ "enabled": true, "client_id": "c", "asked_at_connect": ["tenant"] }),
            "not a Salesforce placeholder",
        ),
        (
            json!({ "enabled": true, "client_id": "c", "environment": "acme.my.salesforce.com", "asked_at_connect": ["login_host"] }),
            "a login host of its own",
        ),
        (
            json!({ "enabled": true, "client_id": "c", "asked_at_connect": ["login_host", "login_host"] }),
            "twice",
        ),
    ] {
        let r = put_connection(&s, "salesforce", body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {:?}",
            r.body
        );
        assert_eq!(r.code(), "invalid_asked_at_connect", "{why}");
    }
    let r = put_connection(
        &s,
        "salesforce",
        json!({ "enabled": true, "client_id": "c", "scopes": ["api"], "asked_at_connect": ["login_host"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["asked_at_connect"], json!(["login_host"]));
    let r = put_connection(
        &s,
        "zendesk",
        json!({ "enabled": true, "client_id": "z", "asked_at_connect": ["subdomain"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let d = s.new_user_device("ada@example.com").await;
    let client = s.client(&d);
    let mine = client.integrations().await.unwrap();
    let sf = mine.iter().find(|i| i.id.as_str() == "salesforce").unwrap();
    assert_eq!(sf.ask.len(), 1);
    assert_eq!(sf.ask[0].name, "login_host");
    assert!(sf.ask[0].description.contains("My Domain"), "{:?}", sf.ask);
    assert_eq!(sf.ask[0].example.as_deref(), Some("acme.my.salesforce.com"));

    // Bad values are refused with the catalog's reason; nothing is kept.
    let put = |id: &'static str, values: Value| {
        let s = &s;
        let d = &d;
        async move {
            s.device(
                d,
                Method::PUT,
                &format!("/v1/integrations/{id}/values"),
                Some(values),
                &[],
            )
            .await
        }
    };
    for (values, code) in [
        (
            json!({ "values": { "login_host": "login.evil.example" } }),
            "invalid_connection_value",
        ),
        (
            json!({ "values": { "login_host": "ada:pw@acme.my.salesforce.com" } }),
            "invalid_connection_value",
        ),
        (json!({ "values": { "tenant": "acme" } }), "value_not_asked"),
        (
            json!({ "values": { "login_host": "acme.my.salesforce.com" }, "extra": 1 }),
            "invalid_body",
        ),
    ] {
        let r = put("salesforce", values.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{values}: {:?}",
            r.body
        );
        assert_eq!(r.code(), code, "{values}");
    }
    let r = put(
        "zendesk",
        json!({ "values": { "subdomain": "not a label!" } }),
    )
    .await;
    assert_eq!(r.code(), "invalid_connection_value", "{:?}", r.body);
    let still = client.integrations().await.unwrap();
    assert_eq!(
        still
            .iter()
            .find(|i| i.id.as_str() == "salesforce")
            .unwrap()
            .ask
            .len(),
        1
    );

    // Good values: the connection, as this user sees it, is at their My Domain.
    let r = put(
        "salesforce",
        json!({ "values": { "login_host": "Acme.My.Salesforce.com " } }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["ask"], json!([]));
    let r = put("zendesk", json!({ "values": { "subdomain": "acme" } })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["params"]["subdomain"], "acme");
    let mine = client.integrations().await.unwrap();
    let sf = mine.iter().find(|i| i.id.as_str() == "salesforce").unwrap();
    assert!(sf.ask.is_empty());
    assert_eq!(sf.environment.as_str(), "acme.my.salesforce.com");
    // Another user is still asked.
    let grace = s.new_user_device("grace@example.com").await;
    let theirs = s.client(&grace).integrations().await.unwrap();
    assert_eq!(
        theirs
            .iter()
            .find(|i| i.id.as_str() == "salesforce")
            .unwrap()
            .ask
            .len(),
        1
    );

    // Records live at the user's login host, not the admin's default.
    let record = |env: &'static str| {
        let s = &s;
        let d = &d;
        async move {
            s.device(
                d,
                Method::PUT,
                &format!("/v1/records/salesforce/{env}/vk1"),
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await
        }
    };
    assert_eq!(record("production").await.status, StatusCode::FORBIDDEN);
    let r = record("acme.my.salesforce.com").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // Connected with them: another value first needs a revoke.
    let r = put(
        "salesforce",
        json!({ "values": { "login_host": "other.my.salesforce.com" } }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "connection_in_use");
    // The same values again change nothing and are fine.
    let r = put(
        "salesforce",
        json!({ "values": { "login_host": "acme.my.salesforce.com" } }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // The admin sees what Ada gave.
    let view = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", d.user_id),
            None,
        )
        .await;
    assert_eq!(
        view.body["values"]["salesforce"]["login_host"], "acme.my.salesforce.com",
        "{:?}",
        view.body
    );
    assert_eq!(view.body["values"]["zendesk"]["subdomain"], "acme");

    // A connection deleted and made again under the same id asks again: what users
    // gave went with the old one (it may have pointed at another Zendesk).
    let r = s
        .admin(Method::DELETE, "/v1/admin/integrations/zendesk", None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let r = put_connection(
        &s,
        "zendesk",
        json!({ "enabled": true, "client_id": "z2", "asked_at_connect": ["subdomain"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mine = client.integrations().await.unwrap();
    let zd = mine.iter().find(|i| i.id.as_str() == "zendesk").unwrap();
    assert_eq!(zd.ask.len(), 1, "{:?}", zd.ask);
    let view = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", d.user_id),
            None,
        )
        .await;
    assert!(
        view.body["values"].get("zendesk").is_none(),
        "{:?}",
        view.body
    );
    assert_eq!(
        view.body["values"]["salesforce"]["login_host"],
        "acme.my.salesforce.com"
    );
    s.stop().await;
}

/// The callback an admin registers for an org connection is the one the server sends
/// in `redirect_uri`: at its public URL, not at whatever origin the console was
/// reached at (here the server listens on loopback behind a public name). That it is
/// the `redirect_uri` Authorize sends is checked end to end in `tests/org_connections.rs`.
pub async fn the_org_callback_to_register_is_at_the_servers_public_url(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |c| {
        c.public_url = Some("https://latchkey.example.com".to_owned());
    })
    .await;
    let r = s.admin(Method::GET, "/v1/admin/catalog", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["org_callback_url"],
        "https://latchkey.example.com/v1/oauth/callback"
    );
    s.stop().await;
}
