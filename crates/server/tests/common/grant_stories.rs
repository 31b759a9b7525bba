//! The provider's approval limit (Salesforce: five approvals per user per app): the
//! server tells a device which of its user's devices hold a grant of a connection,
//! oldest first, so that a sixth sign-in can say whom it would sign out.

use super::{Backend, TestServer, b64};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A device's `GET /v1/integrations/{id}/grants`, whatever it answers.
async fn grants_of(s: &TestServer, d: &super::TestDevice, id: &str) -> super::Reply {
    s.device(
        d,
        Method::GET,
        &format!("/v1/integrations/{id}/grants"),
        None,
        &[],
    )
    .await
}

/// Ada connects Salesforce on six computers; each sees the others' grants (names,
/// ages, which one is its own) and the catalog's cap of five, and nobody else's.
pub async fn a_device_sees_its_users_grants_of_a_connection_and_the_providers_limit(
    backend: Backend,
) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    s.enable("salesforce").await;
    s.enable("github").await;
    let (user_id, code, _) = s.invite("ada@example.com").await;
    let first = s.enroll_existing(&user_id, &code).await;
    let mut devices = vec![first];
    for n in 2..=6 {
        let fresh = s
            .admin(
                Method::POST,
                &format!("/v1/admin/users/{user_id}/enrollment"),
                None,
            )
            .await;
        assert_eq!(fresh.status, StatusCode::CREATED, "{:?}", fresh.body);
        let code = fresh.body["enrollment"]["code"].as_str().unwrap();
        let enrolled = s.enroll(code, &format!("Ada's computer {n}")).await;
        assert_eq!(enrolled.status, StatusCode::CREATED, "{:?}", enrolled.body);
        devices.push(super::TestDevice {
            id: enrolled.body["device"]["id"].as_str().unwrap().to_owned(),
            user_id: user_id.clone(),
            token: enrolled.body["device_token"].as_str().unwrap().to_owned(),
        });
    }

    // Before anyone connects: the limit, and no grant.
    let r = grants_of(&s, &devices[1], "salesforce").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["limit"], 5);
    assert_eq!(r.body["grants"], json!([]));

    // Each computer stores its own grant (its own vault key); the sixth is not refused
    // by the server: the provider's limit, not the record cap, decides who stays signed in.
    for (n, d) in devices.iter().enumerate() {
        let r = s
            .device(
                d,
                Method::PUT,
                &format!("/v1/records/salesforce/production/vk-{n}"),
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "computer {n}: {:?}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let r = grants_of(&s, &devices[5], "salesforce").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["integration_id"], "salesforce");
    let grants = r.body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 6, "{:?}", r.body);
    // Oldest first: the one a sixth sign-in at Salesforce signs out.
    assert_eq!(grants[0]["device_id"], devices[0].id.as_str());
    assert_eq!(grants[0]["device_name"], "Test laptop");
    assert_eq!(grants[1]["device_name"], "Ada's computer 2");
    let ages: Vec<i64> = grants
        .iter()
        .map(|g| g["connected_at"].as_i64().unwrap())
        .collect();
    assert!(ages.windows(2).all(|w| w[0] <= w[1]), "{ages:?}");
    let mine: Vec<bool> = grants
        .iter()
        .map(|g| g["this_device"].as_bool().unwrap())
        .collect();
    assert_eq!(mine, [false, false, false, false, false, true]);
    // Nothing sealed travels with the list.
    assert!(
        !r.body.to_string().contains(&b64(b"sealed")),
        "{:?}",
        r.body
    );

    // The oldest computer signs in again over its old record (its grant was evicted):
    // its grant is now the newest, and the next to go is the second computer. A refresh
    // (no new grant) does not change a grant's age.
    let r = s
        .device(
            &devices[1],
            Method::PUT,
            "/v1/records/salesforce/production/vk-1",
            Some(json!({ "envelope": b64(b"refreshed") })),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        grants_of(&s, &devices[0], "salesforce").await.body["grants"][1]["device_id"],
        devices[1].id.as_str()
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = s
        .device(
            &devices[0],
            Method::PUT,
            "/v1/records/salesforce/production/vk-0",
            Some(json!({ "envelope": b64(b"signed in again"), "new_grant": true })),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let after = grants_of(&s, &devices[3], "salesforce").await.body["grants"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(after.len(), 6);
    assert_eq!(after[0]["device_id"], devices[1].id.as_str(), "{after:?}");
    assert_eq!(after[5]["device_id"], devices[0].id.as_str(), "{after:?}");
    assert!(
        after[5]["connected_at"].as_i64() > after[4]["connected_at"].as_i64(),
        "{after:?}"
    );

    // A provider without a cap says so; another connection's grants are not mixed in.
    let r = grants_of(&s, &devices[0], "github").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["limit"], json!(null));
    assert_eq!(r.body["grants"], json!([]));

    // Another user sees none of Ada's grants.
    let bob = s.new_user_device("bob@example.com").await;
    let r = grants_of(&s, &bob, "salesforce").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["grants"], json!([]));

    // Bad input: a malformed id, and a connection the admin did not enable.
    let r = grants_of(&s, &bob, "Not%20An%20Id").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = grants_of(&s, &bob, "slack").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "integration_not_enabled");
    // Without a device token: refused.
    let r = s
        .call(
            Method::GET,
            "/v1/integrations/salesforce/grants",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    s.stop().await;
}
