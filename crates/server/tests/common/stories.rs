//! The stories, each readable as: arrange, act, assert on what a client sees.

#[allow(unused_imports)]
pub use super::connection_stories::*;
#[allow(unused_imports)]
pub use super::grant_stories::*;
#[allow(unused_imports)] // used by the conformance suite, not by every test binary
pub use super::update_stories::*;
use super::{Backend, Reply, TestDevice, TestServer, b64, unb64};
use futures_util::StreamExt;
use latchkey_client::{ClientError, ErrorCode, ProviderOutcome};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const SLOT: &str = "/v1/records/salesforce/production/vk1";

/// The test client stands in for a load balancer: `X-Forwarded-For` from loopback is
/// believed, so each story can sign in from several addresses.
fn trust_loopback_proxy(c: &mut latchkey_server::Config) {
    c.trusted_proxies =
        latchkey_server::client_ip::TrustedProxies::parse(&["127.0.0.0/8".to_owned()]).unwrap();
}

pub async fn enrollment_codes_are_single_use_and_expire(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.enrollment_code_ttl_secs = 2).await;
    let (user_id, code, link) = s.invite("ada@example.com").await;
    assert!(
        link.starts_with("latchkey://enroll?server=http%3A%2F%2F127.0.0.1%3A"),
        "{link}"
    );
    assert!(link.ends_with(&format!("&code={code}")), "{link}");

    let first = s.enroll(&code, "Ada's laptop").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["user"]["id"], user_id.as_str());
    let token = first.body["device_token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("lkd_") && token.len() == 47,
        "256-bit token"
    );

    let again = s.enroll(&code, "Someone else").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.code(), "enrollment_code_used");

    let unknown = s.enroll("lke_AAAAAAAAAAAAAAAAAAAAAA", "x").await;
    assert_eq!(unknown.code(), "enrollment_code_invalid");
    let garbage = s.enroll("not a code", "x").await;
    assert_eq!(garbage.code(), "enrollment_code_invalid");

    let me = s
        .anonymous()
        .with_token(token.as_str().into())
        .me()
        .await
        .unwrap();
    assert_eq!(me.user.email, "ada@example.com");
    assert_eq!(me.device.name, "Ada's laptop");

    // A fresh code for the same user expires unused.
    let fresh = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{user_id}/enrollment"),
            None,
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    let late_code = fresh.body["enrollment"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let late = s.enroll(&late_code, "Too late").await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert_eq!(late.code(), "enrollment_code_expired");
    s.stop().await;
}

pub async fn a_device_only_ever_reaches_its_own_users_records(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let ada = s.new_user_device("ada@example.com").await;
    let bob = s.new_user_device("bob@example.com").await;

    let put = s
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"ada-sealed") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);

    // Bob addresses the very same path: it names his own slot, which is empty.
    let read = s.device(&bob, Method::GET, SLOT, None, &[]).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let list = s.client(&bob).list_records(None).await.unwrap();
    assert_eq!(list, []);
    let stale = s
        .device(
            &bob,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"bob") })),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let del = s
        .device(&bob, Method::DELETE, SLOT, None, &[("If-Match", "1")])
        .await;
    assert_eq!(del.status, StatusCode::NOT_FOUND);
    let own = s
        .device(
            &bob,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"bob-sealed") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED);

    let ada_read = s.device(&ada, Method::GET, SLOT, None, &[]).await;
    assert_eq!(
        unb64(ada_read.body["envelope"].as_str().unwrap()),
        b"ada-sealed"
    );
    assert_eq!(ada_read.body["version"], 1);

    // No token, a malformed one, or an admin token: 401 on the client API.
    for bearer in [None, Some("lkd_nope"), Some(s.admin_token.as_str())] {
        let r = s.call(Method::GET, "/v1/records", bearer, None, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert!(r.headers.contains_key("www-authenticate"));
    }
    // A device token on the admin API: 403 (a credential, of the wrong kind).
    let r = s
        .device(&ada, Method::GET, "/v1/admin/users", None, &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "not_an_admin");

    // Integrations limited to some users are invisible and unwritable to the others.
    let limited = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/github",
            Some(json!({ "enabled": true, "allowed_users": [ada.user_id] })),
        )
        .await;
    assert_eq!(limited.status, StatusCode::OK, "{:?}", limited.body);
    assert_eq!(offered(&s, &ada).await, ["github", "salesforce"]);
    assert_eq!(offered(&s, &bob).await, ["salesforce"]);
    let denied = s
        .device(
            &bob,
            Method::PUT,
            "/v1/records/github/production/vk1",
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.code(), "integration_not_enabled");

    // Taking Ada off salesforce's allow-list removes her record (Bob keeps his) and tells her menu.
    let mut feed = Feed::open(&s, &ada.token, None).await;
    feed.expect("ready").await;
    let only_bob = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "allowed_users": [bob.user_id] })),
        )
        .await;
    assert_eq!(only_bob.status, StatusCode::OK);
    assert_eq!(
        feed.expect("connection.disconnected").await["integration_id"],
        "salesforce"
    );
    assert_eq!(
        s.device(&ada, Method::GET, SLOT, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.device(&bob, Method::GET, SLOT, None, &[]).await.status,
        StatusCode::OK
    );
    s.stop().await;
}

pub async fn revoked_devices_and_removed_users_fail_at_once(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let ada = s.new_user_device("ada@example.com").await;
    let bob = s.new_user_device("bob@example.com").await;
    s.client(&ada).me().await.unwrap();
    // Each has a record: a GET reads it with the device in one round trip, a PUT
    // reads the integration with the device; both must still refuse below.
    for d in [&ada, &bob] {
        let w = s
            .device(
                d,
                Method::PUT,
                SLOT,
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(w.status, StatusCode::CREATED, "{:?}", w.body);
        let r = s.device(d, Method::GET, SLOT, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    let devices = s
        .admin(
            Method::GET,
            &format!("/v1/admin/devices?user_id={}", ada.user_id),
            None,
        )
        .await;
    assert_eq!(devices.body["devices"].as_array().unwrap().len(), 1);
    let revoked = s
        .admin(
            Method::POST,
            &format!("/v1/admin/devices/{}/revoke", ada.id),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.body["revoked_at"].is_i64());

    match s.client(&ada).me().await {
        Err(ClientError::Unauthorized { code, .. }) => assert_eq!(code, ErrorCode::DEVICE_REVOKED),
        other => panic!("a revoked device was not refused with 401: {other:?}"),
    }
    let w = s
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(w.status, StatusCode::UNAUTHORIZED);
    let r = s.device(&ada, Method::GET, SLOT, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(r.code(), "device_revoked");
    assert!(r.body.get("envelope").is_none());
    let w = s
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(w.status, StatusCode::UNAUTHORIZED, "{:?}", w.body);
    assert_eq!(w.code(), "device_revoked");

    // A disabled integration refuses the write that reads it with the device.
    let disabled = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": false, "client_id": "client-123", "scopes": ["api"] })),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
    let w = s
        .device(
            &bob,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN, "{:?}", w.body);
    assert_eq!(w.code(), "integration_not_enabled");
    let r = s.device(&bob, Method::GET, SLOT, None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    let missing = s
        .admin(Method::POST, "/v1/admin/devices/nope/revoke", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let removed = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}", bob.user_id),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert!(matches!(
        s.client(&bob).me().await,
        Err(ClientError::Unauthorized { .. })
    ));
    assert_eq!(
        s.admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}", bob.user_id),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    s.stop().await;
}

pub async fn records_follow_compare_and_swap_with_monotonic_versions(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let d = s.new_user_device("ada@example.com").await;
    let put = |env: &'static [u8], h: (&'static str, &'static str)| {
        let s = &s;
        let d = &d;
        async move {
            s.device(
                d,
                Method::PUT,
                SLOT,
                Some(json!({ "envelope": b64(env) })),
                &[h],
            )
            .await
        }
    };

    let created = put(b"v1", ("If-None-Match", "*")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.headers["etag"], "\"1\"");
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["device_id"], d.id.as_str());
    assert!(
        created.body.get("envelope").is_none(),
        "writes do not echo the envelope"
    );

    let dup = put(b"again", ("If-None-Match", "*")).await;
    assert_eq!(dup.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(dup.body["current_version"], 1);

    let updated = put(b"v2", ("If-Match", "\"1\"")).await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["version"], 2);

    let stale = put(b"lost?", ("If-Match", "1")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.code(), "version_mismatch");
    assert_eq!(stale.body["current_version"], 2);
    assert!(
        stale.body["message"]
            .as_str()
            .unwrap()
            .contains("version 2")
    );

    let no_pre = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[],
        )
        .await;
    assert_eq!(no_pre.status, StatusCode::PRECONDITION_REQUIRED);

    let got = s.device(&d, Method::GET, SLOT, None, &[]).await;
    assert_eq!(unb64(got.body["envelope"].as_str().unwrap()), b"v2");
    assert_eq!(got.headers["etag"], "\"2\"");

    let del_stale = s
        .device(&d, Method::DELETE, SLOT, None, &[("If-Match", "1")])
        .await;
    assert_eq!(del_stale.status, StatusCode::PRECONDITION_FAILED);
    let del = s
        .device(&d, Method::DELETE, SLOT, None, &[("If-Match", "2")])
        .await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(del.body["version"], 3);
    assert_eq!(
        s.device(&d, Method::GET, SLOT, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // The slot's version keeps growing past a delete: an old If-Match can never hit the new record.
    let revived = put(b"v4", ("If-None-Match", "*")).await;
    assert_eq!(revived.status, StatusCode::CREATED);
    assert_eq!(revived.body["version"], 4);
    let old = put(b"stale writer", ("If-Match", "1")).await;
    assert_eq!(old.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(old.body["current_version"], 4);

    // A slot only in the environment the admin enabled: a device cannot grow others.
    let put_custom = || {
        s.device(
            &d,
            Method::PUT,
            "/v1/records/salesforce/acme.my.salesforce.com/vk1",
            Some(json!({ "envelope": b64(b"e") })),
            &[("If-None-Match", "*")],
        )
    };
    let refused = put_custom().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "environment_not_enabled");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("production only"),
        "{:?}",
        refused.body
    );
    // Other environments are other slots: once the admin moves the integration to a
    // custom login host, that slot is written and the production one stays.
    let moved = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "environment": "acme.my.salesforce.com", "client_id": "client-123" })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let other = put_custom().await;
    assert_eq!(other.status, StatusCode::CREATED, "{:?}", other.body);
    let list = s
        .device(
            &d,
            Method::GET,
            "/v1/records?integration=salesforce",
            None,
            &[],
        )
        .await;
    assert_eq!(list.body["records"].as_array().unwrap().len(), 2);
    s.stop().await;
}

/// N writers do read-modify-write cycles on one slot, each appending its own
/// mark to the envelope and retrying on 412. Every success must get a distinct
/// version and the final envelope must hold every mark: no lost update.
pub async fn concurrent_writers_on_one_slot_lose_nothing(backend: Backend) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 5;
    let s = std::sync::Arc::new(TestServer::start(&backend).await);
    s.enable("salesforce").await;
    let d = s.new_user_device("ada@example.com").await;
    let created = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"|") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = s.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            let mut conflicts = 0;
            for r in 0..ROUNDS {
                loop {
                    let got = s.device(&d, Method::GET, SLOT, None, &[]).await;
                    let version = got.body["version"].as_i64().unwrap();
                    let mut env = unb64(got.body["envelope"].as_str().unwrap());
                    env.extend_from_slice(format!("w{w}r{r}|").as_bytes());
                    let v = version.to_string();
                    let put = s
                        .device(
                            &d,
                            Method::PUT,
                            SLOT,
                            Some(json!({ "envelope": b64(&env) })),
                            &[("If-Match", v.as_str())],
                        )
                        .await;
                    match put.status {
                        StatusCode::OK => {
                            versions.push(put.body["version"].as_i64().unwrap());
                            break;
                        }
                        StatusCode::PRECONDITION_FAILED => {
                            assert!(put.body["current_version"].as_i64().unwrap() > version);
                            conflicts += 1;
                        }
                        other => panic!("unexpected {other}: {:?}", put.body),
                    }
                }
            }
            (versions, conflicts)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let (versions, _conflicts) = t.await.unwrap();
        all.extend(versions);
    }
    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        WRITERS * ROUNDS,
        "every success has its own version"
    );
    let last = s.device(&d, Method::GET, SLOT, None, &[]).await;
    assert_eq!(
        last.body["version"].as_i64().unwrap(),
        1 + (WRITERS * ROUNDS) as i64
    );
    let text = String::from_utf8(unb64(last.body["envelope"].as_str().unwrap())).unwrap();
    for w in 0..WRITERS {
        for r in 0..ROUNDS {
            assert!(
                text.contains(&format!("|w{w}r{r}|")),
                "write w{w}r{r} was lost: {text}"
            );
        }
    }
    match std::sync::Arc::try_unwrap(s) {
        Ok(s) => s.stop().await,
        Err(_) => panic!("server still shared"),
    }
}

/// Many writers race with the same If-Match: exactly one wins, the rest get 412
/// naming the winner's version.
pub async fn exactly_one_of_many_racing_writers_wins_a_version(backend: Backend) {
    const RACERS: usize = 16;
    let s = std::sync::Arc::new(TestServer::start(&backend).await);
    s.enable("salesforce").await;
    let d = s.new_user_device("ada@example.com").await;
    s.device(
        &d,
        Method::PUT,
        SLOT,
        Some(json!({ "envelope": b64(b"base") })),
        &[("If-None-Match", "*")],
    )
    .await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (s, d, barrier) = (s.clone(), d.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let body = json!({ "envelope": b64(format!("racer {i}").as_bytes()) });
            let r = s
                .device(&d, Method::PUT, SLOT, Some(body), &[("If-Match", "1")])
                .await;
            (i, r.status, r.body)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => winners.push(i),
            StatusCode::PRECONDITION_FAILED => assert_eq!(body["current_version"], 2),
            other => panic!("unexpected {other}: {body:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let got = s.device(&d, Method::GET, SLOT, None, &[]).await;
    assert_eq!(
        unb64(got.body["envelope"].as_str().unwrap()),
        format!("racer {}", winners[0]).as_bytes()
    );
    match std::sync::Arc::try_unwrap(s) {
        Ok(s) => s.stop().await,
        Err(_) => panic!("server still shared"),
    }
}

pub async fn bad_input_gets_stable_errors(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.max_envelope_bytes = 1024;
        c.max_body_bytes = 4096;
    })
    .await;
    s.enable("salesforce").await;
    let d = s.new_user_device("ada@example.com").await;
    let create = [("If-None-Match", "*")];

    let big = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(&[7u8; 1025]) })),
            &create,
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.code(), "envelope_too_large");
    let huge = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": "A".repeat(10_000) })),
            &create,
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let not_b64 = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": "***" })),
            &create,
        )
        .await;
    assert_eq!(
        (not_b64.status, not_b64.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_envelope")
    );
    let unknown = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x"), "version": 3 })),
            &create,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );

    let raw = s
        .http
        .put(format!("{}{SLOT}", s.base))
        .bearer_auth(&d.token)
        .header("If-None-Match", "*")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");

    let bad_slot = s
        .device(
            &d,
            Method::GET,
            "/v1/records/Sales%20force/production/vk1",
            None,
            &[],
        )
        .await;
    assert_eq!(
        (bad_slot.status, bad_slot.code()),
        (StatusCode::BAD_REQUEST, "invalid_integration_id")
    );
    let bad_env = s
        .device(
            &d,
            Method::GET,
            "/v1/records/salesforce/staging/vk1",
            None,
            &[],
        )
        .await;
    assert_eq!(bad_env.code(), "invalid_environment");
    let bad_if = s
        .device(
            &d,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-Match", "soon")],
        )
        .await;
    assert_eq!(
        (bad_if.status, bad_if.code()),
        (StatusCode::BAD_REQUEST, "invalid_precondition")
    );

    let dup = s
        .admin(
            Method::POST,
            "/v1/admin/users",
            Some(json!({ "email": "ADA@example.com", "display_name": "Ada" })),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "user_exists")
    );
    let bad_email = s
        .admin(
            Method::POST,
            "/v1/admin/users",
            Some(json!({ "email": "nope", "display_name": "N" })),
        )
        .await;
    assert_eq!(bad_email.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nope = s
        .admin(Method::GET, "/v1/admin/integrations/zendesk", None)
        .await;
    assert_eq!(
        (nope.status, nope.code()),
        (StatusCode::NOT_FOUND, "integration_not_found")
    );
    let route = s.call(Method::GET, "/v2/anything", None, None, &[]).await;
    assert_eq!(
        (route.status, route.code()),
        (StatusCode::NOT_FOUND, "no_such_route")
    );
    let method = s.call(Method::PATCH, "/v1/me", None, None, &[]).await;
    assert_eq!(
        (method.status, method.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    for r in [&big, &not_b64, &unknown, &bad_slot, &dup, &route] {
        assert!(
            r.body["message"].as_str().is_some_and(|m| m.len() > 10),
            "{:?}",
            r.body
        );
    }
    s.stop().await;
}

pub async fn integration_secrets_are_write_only(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({
                "enabled": true, "environment": "acme.my.salesforce.com", "client_id": "3MVG9",
                "client_secret": "SF-CLIENT-SECRET-123", "scopes": ["api", "refresh_token"]
            })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["client_secret"], "set");
    assert_eq!(put.body["api_key"], "not set");
    let key = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/openai",
            Some(json!({ "enabled": true, "api_key": "sk-API-KEY-456" })),
        )
        .await;
    assert_eq!(key.body["api_key"], "set");
    assert_eq!(key.body["kind"], "api_key");

    let listed = s.admin(Method::GET, "/v1/admin/integrations", None).await;
    let text = listed.body.to_string();
    assert!(
        !text.contains("SF-CLIENT-SECRET-123") && !text.contains("sk-API-KEY-456"),
        "{text}"
    );

    // Devices get the (non-confidential, RFC 8252 §8.5) client secret, never the API key.
    let d = s.new_user_device("ada@example.com").await;
    let mine = s
        .device(&d, Method::GET, "/v1/integrations", None, &[])
        .await;
    let text = mine.body.to_string();
    assert!(text.contains("SF-CLIENT-SECRET-123"));
    assert!(!text.contains("sk-API-KEY-456"), "{text}");
    let openai = mine.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "openai")
        .unwrap()
        .clone();
    assert_eq!(openai["connected"], true);

    // Omitting a secret keeps it; null clears it.
    let keep = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "client_id": "3MVG9" })),
        )
        .await;
    assert_eq!(keep.body["client_secret"], "set");
    let clear = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "client_secret": null })),
        )
        .await;
    assert_eq!(clear.body["client_secret"], "not set");

    // At rest, the secrets are sealed: the raw database never holds them.
    s.stop_and_scan_database(&["sk-API-KEY-456", "SF-CLIENT-SECRET-123"])
        .await;
}

impl TestServer {
    /// Stops the server and checks that no `needle` appears in the stored rows.
    pub async fn stop_and_scan_database(self, needles: &[&str]) {
        let TestServer {
            server,
            database_url: url,
            dir,
            ..
        } = self;
        if let Some(server) = server {
            server.shutdown().await.unwrap();
        }
        let dump = if url.starts_with("sqlite:") {
            // Read every byte of the database file and its WAL.
            let path = url.trim_start_matches("sqlite://");
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let mut text = String::new();
            for table in [
                "integrations",
                "audit_events",
                "admin_credentials",
                "devices",
                "enrollment_codes",
                "connection_records",
            ] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (row,) in rows {
                    text.push_str(&row);
                }
            }
            pool.close().await;
            text
        };
        drop(dir);
        for needle in needles {
            assert!(!dump.contains(needle), "{needle} is stored in clear");
        }
    }
}

/// Checks one change-feed event against the protocol's types, the ones a device's
/// client reads, so a renamed event or field fails here too.
fn follows_the_protocol(name: &str, data: &Value) {
    use latchkey_protocol::device::{ChangeKind, FeedChange, FeedDeviceRevoked, FeedReady};
    let parsed = match ChangeKind::from_name(name) {
        ChangeKind::Ready => serde_json::from_value::<FeedReady>(data.clone()).map(drop),
        ChangeKind::Unknown => panic!("the feed sent {name}, which the protocol does not name"),
        ChangeKind::DeviceRevoked if data.get("device_id").is_some() => {
            serde_json::from_value::<FeedDeviceRevoked>(data.clone()).map(drop)
        }
        kind => serde_json::from_value::<FeedChange>(data.clone()).map(|change| {
            assert_eq!(
                change.kind, kind,
                "the event name and its data's kind differ"
            );
        }),
    };
    if let Err(e) = parsed {
        panic!("the {name} event does not follow the protocol ({e}): {data}");
    }
}

/// Reads server-sent events until `want` arrives or the deadline passes.
pub struct Feed {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buf: String,
}

impl Feed {
    pub async fn open(s: &TestServer, token: &str, since: Option<i64>) -> Self {
        let path = since.map_or("/v1/events".to_owned(), |n| format!("/v1/events?since={n}"));
        let resp = s
            .http
            .get(format!("{}{path}", s.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let stream = resp.bytes_stream().map(|r| r.map(|b| b.to_vec()));
        Self {
            stream: Box::pin(stream),
            buf: String::new(),
        }
    }

    /// The next event as (event name, data), or None when the stream ends.
    pub async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = "message".to_owned();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() && name == "message" {
                    continue; // keep-alive comment
                }
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                follows_the_protocol(&name, &data);
                return Some((name, data));
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("no event within {within:?}; buffered: {:?}", self.buf),
            }
        }
    }

    /// Skips events until one named `want` arrives.
    pub async fn expect(&mut self, want: &str) -> Value {
        loop {
            match self.next(Duration::from_secs(5)).await {
                Some((name, data)) if name == want => return data,
                Some(_) => continue,
                None => panic!("feed ended before {want}"),
            }
        }
    }
}

pub async fn admin_changes_reach_the_change_feed(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let ada = s.new_user_device("ada@example.com").await;
    let mut feed = Feed::open(&s, &ada.token, None).await;
    let ready = feed.expect("ready").await;
    assert!(ready["seq"].is_i64());

    s.enable("salesforce").await;
    let e = feed.expect("integration.enabled").await;
    assert_eq!(e["integration_id"], "salesforce");

    let put = s
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"x") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    feed.expect("connection.changed").await;

    // Admin disconnects Ada: her record is gone and her menu hears of it.
    let status = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", ada.user_id),
            None,
        )
        .await;
    assert_eq!(status.body["connections"].as_array().unwrap().len(), 1);
    let dis = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}/connections/salesforce", ada.user_id),
            None,
        )
        .await;
    assert_eq!(dis.body["deleted_records"], 1);
    let e = feed.expect("connection.disconnected").await;
    assert_eq!(e["integration_id"], "salesforce");
    assert_eq!(
        s.device(&ada, Method::GET, SLOT, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // Disabling deletes every record of the integration and tells the menus to revoke.
    // (After the admin's disconnect only a new sign-in may fill the slot again.)
    let again = s
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"y"), "new_grant": true })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    let off = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    feed.expect("integration.disabled").await;
    assert_eq!(
        s.device(&ada, Method::GET, SLOT, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // A feed resumed from an old seq replays what it missed.
    let mut replay = Feed::open(&s, &ada.token, Some(ready["seq"].as_i64().unwrap())).await;
    replay.expect("integration.enabled").await;
    replay.expect("integration.disabled").await;

    // Revoking the device ends its stream.
    s.admin(
        Method::POST,
        &format!("/v1/admin/devices/{}/revoke", ada.id),
        None,
    )
    .await;
    feed.expect("device.revoked").await;
    assert!(
        feed.next(Duration::from_secs(5)).await.is_none(),
        "stream ends after revocation"
    );
    s.stop().await;
}

pub async fn console_sessions_need_csrf_and_expire_on_logout(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let login = |password: &'static str| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                "/v1/admin/login",
                None,
                Some(json!({ "email": "Admin@Example.com", "password": password })),
                &[],
            )
            .await
        }
    };
    let wrong = login("not the password").await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_login")
    );

    let ok = login(super::ADMIN_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let set_cookie = ok.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = ok.body["csrf_token"].as_str().unwrap().to_owned();

    let read = s
        .call(
            Method::GET,
            "/v1/admin/users",
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let body = Some(json!({ "email": "ada@example.com", "display_name": "Ada" }));
    let no_csrf = s
        .call(
            Method::POST,
            "/v1/admin/users",
            None,
            body.clone(),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(
        (no_csrf.status, no_csrf.code()),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let bad_csrf = s
        .call(
            Method::POST,
            "/v1/admin/users",
            None,
            body.clone(),
            &[("cookie", &cookie), ("x-csrf-token", "lkc_x")],
        )
        .await;
    assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
    let with_csrf = s
        .call(
            Method::POST,
            "/v1/admin/users",
            None,
            body,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(with_csrf.status, StatusCode::CREATED);

    // The session token is not an API token.
    let session_token = cookie.split_once('=').unwrap().1.to_owned();
    let as_bearer = s
        .call(
            Method::GET,
            "/v1/admin/users",
            Some(&session_token),
            None,
            &[],
        )
        .await;
    assert_eq!(as_bearer.status, StatusCode::UNAUTHORIZED);

    let out = s
        .call(
            Method::POST,
            "/v1/admin/logout",
            None,
            None,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = s
        .call(
            Method::GET,
            "/v1/admin/users",
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Admin API tokens made from the console work for automation.
    let ok = login(super::ADMIN_PASSWORD).await;
    let cookie = ok.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = ok.body["csrf_token"].as_str().unwrap().to_owned();
    let made = s
        .call(
            Method::POST,
            "/v1/admin/tokens",
            None,
            None,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    // Admin API tokens expire (90 days unless configured), and say when at creation.
    let expires_at = made.body["expires_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = 24 * 3600 * 1000;
    assert!(
        (now + 89 * day..now + 91 * day).contains(&expires_at),
        "{expires_at} is not about 90 days from {now}"
    );
    let token = made.body["token"].as_str().unwrap();
    assert_eq!(
        s.call(Method::GET, "/v1/admin/devices", Some(token), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    s.stop().await;
}

pub async fn auth_endpoints_are_rate_limited(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.auth_rate_per_minute = 5).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = s
            .call(
                Method::POST,
                "/v1/admin/login",
                None,
                Some(json!({ "email": "admin@example.com", "password": "guess" })),
                &[],
            )
            .await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.code(), "rate_limited");
            assert!(r.headers.contains_key("retry-after"));
        }
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(&statuses[5..], &[StatusCode::TOO_MANY_REQUESTS; 2]);

    let mut last = StatusCode::OK;
    for _ in 0..7 {
        last = s.enroll("lke_AAAAAAAAAAAAAAAAAAAAAA", "guess").await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // Guessing device tokens is throttled too.
    for _ in 0..7 {
        last = s
            .call(Method::GET, "/v1/me", Some("lkd_guess"), None, &[])
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // A forged X-Forwarded-For does not buy a fresh bucket: the peer is not a
    // trusted proxy, so the header is ignored.
    let forged = s
        .call(
            Method::POST,
            "/v1/admin/login",
            None,
            Some(json!({ "email": "other@example.com", "password": "guess" })),
            &[("X-Forwarded-For", "198.51.100.77")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;

    // Behind a trusted proxy (here: loopback), each forwarded client has its
    // own bucket, and the load balancer's own address is not the client.
    let s = TestServer::start_with(&backend, |c| {
        c.auth_rate_per_minute = 2;
        trust_loopback_proxy(c);
    })
    .await;
    let login = |ip: &'static str| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                "/v1/admin/login",
                None,
                Some(json!({ "email": format!("{ip}@example.com"), "password": "guess" })),
                &[("X-Forwarded-For", ip)],
            )
            .await
            .status
        }
    };
    for _ in 0..2 {
        assert_eq!(login("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login("198.51.100.2").await, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

pub async fn connection_status_and_audit_hold_no_secrets(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    s.admin(
        Method::PUT,
        "/v1/admin/integrations/openai",
        Some(json!({ "enabled": true, "api_key": "sk-SECRET-KEY" })),
    )
    .await;
    let d = s.new_user_device("ada@example.com").await;
    let envelope = b64(b"SEALED-ENVELOPE-BYTES");
    s.device(
        &d,
        Method::PUT,
        SLOT,
        Some(json!({ "envelope": envelope })),
        &[("If-None-Match", "*")],
    )
    .await;

    let status = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", d.user_id),
            None,
        )
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let conns = status.body["connections"].as_array().unwrap();
    let sf = conns
        .iter()
        .find(|c| c["integration_id"] == "salesforce")
        .unwrap();
    assert_eq!(sf["environment"], "production");
    assert_eq!(sf["device_id"], d.id.as_str());
    assert_eq!(sf["device_name"], "Test laptop");
    assert!(sf["connected_at"].is_i64());
    let openai = conns
        .iter()
        .find(|c| c["integration_id"] == "openai")
        .unwrap();
    assert_eq!(
        (openai["kind"].as_str(), openai["connected"].as_bool()),
        (Some("api_key"), Some(true))
    );
    let text = status.body.to_string();
    assert!(
        !text.contains(&envelope) && !text.contains("sk-SECRET-KEY"),
        "{text}"
    );

    let audit = s.admin(Method::GET, "/v1/admin/audit?limit=50", None).await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "admin.create",
        "integration.put",
        "user.invite",
        "device.enroll",
        "record.put",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let put = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "record.put")
        .unwrap();
    assert_eq!(put["actor_kind"], "device");
    assert_eq!(put["actor_id"], d.id.as_str());
    let text = audit.body.to_string();
    assert!(
        !text.contains(&envelope) && !text.contains("sk-SECRET-KEY") && !text.contains(&d.token),
        "{text}"
    );
    s.stop().await;
}

pub async fn openapi_document_matches_the_routes(backend: Backend) {
    // Every route is called once without credentials: room for all of them.
    let s = TestServer::start_with(&backend, |c| c.auth_rate_per_minute = 1000).await;
    let doc = s
        .call(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(
                op["operationId"].is_string() && op["responses"].is_object(),
                "{method} {path}"
            );
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if concrete == "/v1/events" {
                continue; // needs auth to answer at all; covered by 401 below
            }
            let r = s.call(m, &concrete, None, None, &[]).await;
            assert!(
                !matches!(r.code(), "no_such_route" | "method_not_allowed"),
                "documented {method} {path} is not served: {} {:?}",
                r.status,
                r.body
            );
            if let Some(body) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let name = body.rsplit('/').next().unwrap();
                assert!(
                    doc.body["components"]["schemas"][name].is_object(),
                    "{name}"
                );
            }
        }
    }
    assert!(operations >= 29, "{operations}");
    assert_eq!(
        s.call(Method::GET, "/v1/events", None, None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    for must in [
        "/v1/records/{integration}/{environment}/{vault_key_id}",
        "/v1/enroll",
        "/v1/events",
        "/v1/admin/integrations/{id}",
    ] {
        assert!(paths.contains_key(must), "{must}");
    }
    s.stop().await;
}

pub async fn health_readiness_and_metrics(backend: Backend) {
    let s = TestServer::start(&backend).await;
    assert_eq!(
        s.call(Method::GET, "/healthz", None, None, &[]).await.body["status"],
        "ok"
    );
    let ready = s.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::OK);
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    assert_eq!(ready.body["backend"], expected);
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "latchkey_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE latchkey_http_request_duration_seconds histogram"));
    assert!(metrics.contains(&format!("backend=\"{expected}\"")));
    s.stop().await;
}

pub async fn graceful_shutdown_drains_and_ends_feeds(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let d = s.new_user_device("ada@example.com").await;
    let mut feed = Feed::open(&s, &d.token, None).await;
    feed.expect("ready").await;
    let base = s.base.clone();
    // Shutdown must not hang on the open event stream.
    tokio::time::timeout(Duration::from_secs(10), s.stop())
        .await
        .expect("shutdown completes with a feed open");
    assert!(
        feed.next(Duration::from_secs(5)).await.is_none(),
        "the feed ends on shutdown"
    );
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer listening"
    );
}

/// Two servers on one database, as replicas behind a load balancer: an admin
/// change made on one reaches a feed held open on the other, and CAS holds
/// across them (racing writers on both: exactly one wins).
pub async fn replicas_share_one_database_feed_and_cas(backend: Backend) {
    let a = TestServer::start(&backend).await;
    if matches!(backend, Backend::Sqlite) {
        // One process serves a SQLite file (its in-memory lookups rely on it);
        // a second server is refused in words that point to PostgreSQL.
        let refused = a
            .try_replica()
            .await
            .err()
            .expect("a second SQLite server is refused");
        assert!(refused.contains("already serving"), "{refused}");
        assert!(refused.contains("PostgreSQL"), "{refused}");
        return;
    }
    let b = a.replica().await;
    let ada = a.new_user_device("ada@example.com").await;

    let mut feed = Feed::open(&b, &ada.token, None).await;
    feed.expect("ready").await;
    a.enable("salesforce").await;
    let e = feed.expect("integration.enabled").await;
    assert_eq!(e["integration_id"], "salesforce");

    let created = b
        .device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"base") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let (ra, rb) = tokio::join!(
        a.device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"from a") })),
            &[("If-Match", "1")]
        ),
        b.device(
            &ada,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"from b") })),
            &[("If-Match", "1")]
        ),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
    let winner: &[u8] = if ra.status == StatusCode::OK {
        b"from a"
    } else {
        b"from b"
    };
    for s in [&a, &b] {
        let got = s.device(&ada, Method::GET, SLOT, None, &[]).await;
        assert_eq!(got.body["version"], 2);
        assert_eq!(unb64(got.body["envelope"].as_str().unwrap()), winner);
    }

    // A device revoked through one replica fails at once on the other.
    a.admin(
        Method::POST,
        &format!("/v1/admin/devices/{}/revoke", ada.id),
        None,
    )
    .await;
    assert_eq!(
        b.device(&ada, Method::GET, "/v1/me", None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    feed.expect("device.revoked").await;
    b.stop().await;
    a.stop().await;
}

/// A stand-in provider API on 127.0.0.1 that records what reached it.
async fn fake_provider() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    use axum::extract::Request;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let log = log.clone();
        async move {
            let key = req
                .headers()
                .get("x-api-key")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let target = req.uri().to_string();
            log.lock().unwrap().push((target.clone(), key.clone()));
            let issuer = format!("http://{}/base", req.headers()["host"].to_str().unwrap());
            match req.uri().path() {
                "/base/.well-known/oauth-authorization-server" => axum::response::Response::new(axum::body::Body::from(
                    json!({ "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"), "token_endpoint": format!("{issuer}/token") })
                        .to_string(),
                )),
                "/base/v1/models" if key != "sk-PROXY-KEY" => axum::response::Response::builder()
                    .status(401)
                    .body(axum::body::Body::from("bad key"))
                    .unwrap(),
                "/base/v1/big" => axum::response::Response::new(axum::body::Body::from(vec![
                        b'x';
                        2 * 1024 * 1024
                    ])),
                "/base/v1/slow" => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    axum::response::Response::new(axum::body::Body::from("late"))
                }
                "/base/v1/redirect" => axum::response::Response::builder()
                    .status(302)
                    .header("location", "http://127.0.0.1:1/elsewhere")
                    .body(axum::body::Body::empty())
                    .unwrap(),
                _ => axum::response::Response::builder()
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({ "target": target, "key_ok": key == "sk-PROXY-KEY" }).to_string(),
                    ))
                    .unwrap(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/base"), seen)
}

/// A catalog that knows one authorization server.
struct FakeCatalog(String);

impl latchkey_server::CatalogLookup for FakeCatalog {
    fn check(&self, id: &str, _environment: &str) -> Result<(), String> {
        if id == "not-in-catalog" {
            Err("The catalog has no integration not-in-catalog.".into())
        } else {
            Ok(())
        }
    }
    fn issuer(&self, id: &str, _environment: &str) -> Option<String> {
        (id == "acme-oauth").then(|| self.0.clone())
    }
}

pub async fn api_key_proxy_injects_the_key_only_toward_allowed_paths(backend: Backend) {
    let (upstream, seen) = fake_provider().await;
    let catalog = std::sync::Arc::new(FakeCatalog(upstream.clone()));
    let s = TestServer::start_with_catalog(
        &backend,
        |c| {
            c.proxy_allow_http = true;
            c.proxy_timeout_secs = 1;
            c.proxy_max_response_bytes = 1024 * 1024;
        },
        catalog,
    )
    .await;
    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/acme-api",
            Some(json!({
                "enabled": true, "api_key": "sk-PROXY-KEY", "api_base_url": upstream,
                "api_paths": ["/v1/models", "/v1/big", "/v1/slow", "/v1/redirect"], "api_key_header": "x-api-key"
            })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["api_key"], "set");
    let d = s.new_user_device("ada@example.com").await;

    let ok = s
        .device(
            &d,
            Method::GET,
            "/v1/proxy/acme-api/v1/models/gpt?limit=2",
            None,
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["key_ok"], true);
    assert_eq!(ok.body["target"], "/base/v1/models/gpt?limit=2");
    assert!(!ok.body.to_string().contains("sk-PROXY-KEY"));
    // The answer names the provider URL it came from, without the query.
    assert_eq!(
        ok.headers["latchkey-upstream-url"],
        format!("{upstream}/v1/models/gpt").as_str()
    );

    let reached_before = seen.lock().unwrap().len();
    for (path, code) in [
        ("/v1/proxy/acme-api/v1/admin", "path_not_allowed"),
        ("/v1/proxy/acme-api/v1/modelsX", "path_not_allowed"),
        ("/v1/proxy/other/v1/models", "proxy_not_configured"),
    ] {
        let r = s.device(&d, Method::GET, path, None, &[]).await;
        assert_eq!(r.code(), code, "{path}: {:?}", r.body);
    }
    // Dot segments sent raw (an HTTP client would resolve them before sending).
    for path in [
        "/v1/proxy/acme-api/v1/models/../../admin",
        "/v1/proxy/acme-api/v1/models/%2e%2e/%2e%2e/admin",
        "/v1/proxy/acme-api/v1/models%2f..%2f..%2fadmin",
        "/v1/proxy/acme-api/v1/models/x%3fy",
    ] {
        let raw = raw_get(&s, path, &d.token).await;
        assert!(
            raw.starts_with("HTTP/1.1 400") && raw.contains("invalid_path"),
            "{path}: {raw}"
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        reached_before,
        "refused requests never reach the provider"
    );

    let big = s
        .device(&d, Method::GET, "/v1/proxy/acme-api/v1/big", None, &[])
        .await;
    assert_eq!(
        (big.status, big.code()),
        (StatusCode::BAD_GATEWAY, "upstream_too_large")
    );
    let slow = s
        .device(&d, Method::GET, "/v1/proxy/acme-api/v1/slow", None, &[])
        .await;
    assert_eq!(
        (slow.status, slow.code()),
        (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
    );
    let redirect = s
        .device(&d, Method::GET, "/v1/proxy/acme-api/v1/redirect", None, &[])
        .await;
    assert_eq!(
        redirect.status,
        StatusCode::FOUND,
        "redirects are relayed, never followed"
    );
    assert!(!redirect.headers.contains_key("location"));

    // Test connection: the key against the provider, then a wrong key.
    let tested = s
        .admin(Method::POST, "/v1/admin/integrations/acme-api/test", None)
        .await;
    assert_eq!(
        (tested.status, tested.body["ok"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{:?}",
        tested.body
    );
    s.admin(Method::PUT, "/v1/admin/integrations/acme-api", Some(json!({
        "enabled": true, "api_key": "sk-WRONG", "api_base_url": upstream, "api_paths": ["/v1/models"], "api_key_header": "x-api-key"
    }))).await;
    let wrong = s
        .admin(Method::POST, "/v1/admin/integrations/acme-api/test", None)
        .await;
    assert_eq!(
        (wrong.body["ok"].as_bool(), wrong.body["status"].as_u64()),
        (Some(false), Some(401)),
        "{:?}",
        wrong.body
    );
    assert!(
        wrong.body["message"]
            .as_str()
            .unwrap()
            .contains("rejected the API key")
    );
    // Test connection for OAuth: the catalog's authorization server publishes RFC 8414 metadata.
    s.admin(
        Method::PUT,
        "/v1/admin/integrations/acme-oauth",
        Some(json!({ "enabled": true, "client_id": "c" })),
    )
    .await;
    let oauth = s
        .admin(Method::POST, "/v1/admin/integrations/acme-oauth/test", None)
        .await;
    assert_eq!(oauth.body["ok"], true, "{:?}", oauth.body);
    assert_eq!(oauth.body["token_endpoint"], format!("{upstream}/token"));
    s.admin(
        Method::PUT,
        "/v1/admin/integrations/salesforce",
        Some(json!({ "enabled": true })),
    )
    .await;
    let unknown = s
        .admin(Method::POST, "/v1/admin/integrations/salesforce/test", None)
        .await;
    assert_eq!(unknown.body["ok"], false);
    let rejected = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/not-in-catalog",
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(
        (rejected.status, rejected.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_integration")
    );

    // Each use of the key is in the audit log: device, integration, method, path, status.
    let audit = s
        .admin(Method::GET, "/v1/admin/audit?action=proxy.request", None)
        .await;
    let events = audit.body["events"].as_array().unwrap();
    assert!(!events.is_empty(), "{:?}", audit.body);
    let first = &events[events.len() - 1];
    assert_eq!(first["detail"]["integration_id"], "acme-api", "{first}");
    assert!(first["detail"]["method"].is_string() && first["detail"]["status"].is_number());
    assert!(first["detail"]["path"].as_str().unwrap().starts_with('/'));
    assert_eq!(first["actor_kind"], "device");
    assert!(
        !audit.body.to_string().contains("sk-"),
        "no key in the audit log"
    );

    // Without a device token the proxy is closed.
    let anon = s
        .call(Method::GET, "/v1/proxy/acme-api/v1/models", None, None, &[])
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    // An https-only server refuses an http base URL.
    s.stop().await;
    let strict = TestServer::start(&backend).await;
    let refused = strict
        .admin(
            Method::PUT,
            "/v1/admin/integrations/acme-api",
            Some(json!({ "enabled": true, "api_base_url": "http://api.example.com" })),
        )
        .await;
    assert_eq!(refused.code(), "invalid_api_base_url");
    strict.stop().await;
}

/// Sends a GET with the path exactly as given, over a plain socket.
async fn raw_get(s: &TestServer, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

pub async fn the_first_admin_is_created_with_the_one_time_setup_code(backend: Backend) {
    latchkey_server::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(dir.path()).await;
    let config = || latchkey_server::Config::for_tests(dir.path(), url.clone()).unwrap();
    let mut server = latchkey_server::start(config()).await.unwrap();
    let code = server
        .take_setup_code()
        .expect("an empty database gets a setup code");
    assert!(code.expose().starts_with("lku_"));
    let http = reqwest::Client::new();
    let setup = |body: Value| {
        let (http, url) = (http.clone(), format!("{}/v1/admin/setup", server.url()));
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = setup(json!({ "code": "lku_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "email": "root@example.com", "password": "long enough password" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("setup_code_invalid"))
    );
    let (status, body) =
        setup(json!({ "code": code.expose(), "email": "root@example.com", "password": "short" }))
            .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    let (status, body) = setup(json!({ "code": code.expose(), "email": "Root@Example.com", "password": "long enough password" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    assert_eq!(body["admin"]["email"], "root@example.com");
    let (status, _) = setup(json!({ "code": code.expose(), "email": "second@example.com", "password": "long enough password" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the code is single use");
    let login = http
        .post(format!("{}/v1/admin/login", server.url()))
        .json(&json!({ "email": "root@example.com", "password": "long enough password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    server.shutdown().await.unwrap();

    let mut again = latchkey_server::start(config()).await.unwrap();
    assert!(
        again.take_setup_code().is_none(),
        "no setup code once an admin exists"
    );
    again.shutdown().await.unwrap();
}

pub async fn audit_can_be_filtered_and_paged(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let ada = s.new_user_device("ada@example.com").await;
    s.new_user_device("bob@example.com").await;
    s.enable("github").await;
    s.enable("salesforce").await;
    let r = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}/connections/github", ada.user_id),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let audit = |q: String| {
        let s = &s;
        async move {
            let r = s
                .admin(Method::GET, &format!("/v1/admin/audit?{q}"), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
            r.body
        }
    };
    let actions = |body: &Value| -> Vec<String> {
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };

    let puts = audit("action=integration.put".into()).await;
    assert_eq!(actions(&puts), ["integration.put", "integration.put"]);

    // About github: its configuration (target) and the disconnect (detail), nothing else.
    let github = audit("integration=github".into()).await;
    assert_eq!(
        actions(&github),
        ["connection.disconnect", "integration.put"]
    );

    // About Ada: her invitation and the disconnect; nothing about Bob.
    let ada_events = audit(format!("user={}", ada.user_id)).await;
    let ada_actions = actions(&ada_events);
    assert!(
        ada_actions.contains(&"user.invite".to_owned()),
        "{ada_actions:?}"
    );
    assert!(ada_actions.contains(&"connection.disconnect".to_owned()));
    assert!(
        !ada_events.to_string().contains("bob@example.com"),
        "{ada_events}"
    );

    // Pages of 2 with the cursor cover everything once, newest first.
    let all = audit("limit=1000".into()).await;
    assert!(all["next_before"].is_null());
    let all_ids: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = audit(format!("limit=2{cursor}")).await;
        paged.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_before"].as_i64() {
            Some(id) => cursor = format!("&before={id}"),
            None => break,
        }
    }
    assert_eq!(paged, all_ids);

    // Time window: nothing in the future; everything since the epoch.
    let future = latchkey_server::state::now_millis() + 3_600_000;
    assert!(actions(&audit(format!("since={future}")).await).is_empty());
    assert_eq!(
        actions(&audit(format!("since=0&until={future}&limit=1000")).await).len(),
        all_ids.len()
    );

    // Filters are validated.
    let r = s
        .admin(Method::GET, "/v1/admin/audit?action=%25", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    s.stop().await;
}

pub async fn console_sessions_expire_after_their_lifetime(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.session_ttl_secs = 1).await;
    let ok = s
        .call(
            Method::POST,
            "/v1/admin/login",
            None,
            Some(json!({ "email": super::ADMIN_EMAIL, "password": super::ADMIN_PASSWORD })),
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let set_cookie = ok.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("Max-Age=1"),
        "the browser drops it too: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let fresh = s
        .call(
            Method::GET,
            "/v1/admin/users",
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let stale = s
        .call(
            Method::GET,
            "/v1/admin/users",
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{:?}", stale.body);
    assert!(
        !stale.code().is_empty()
            && stale.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
    );
    s.stop().await;
}

/// An admin who reuses a Salesforce app registered like the Salesforce CLI's
/// (`http://localhost:1717/OauthRedirect`) says so; devices get the choice and the
/// catalog shows both callback URLs. Providers that must use 127.0.0.1 refuse it.
pub async fn a_salesforce_callback_may_name_localhost(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({
                "enabled": true, "environment": "production", "client_id": "3MVG9",
                "redirect_host": "localhost"
            })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["redirect_host"], "localhost");
    let d = s.new_user_device("ada@example.com").await;
    let mine = s.client(&d).integrations().await.unwrap();
    assert_eq!(
        mine[0].redirect_host.as_deref(),
        Some("localhost"),
        "{mine:?}"
    );

    // The default stays the IP literal.
    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(json!({ "enabled": true, "environment": "production", "client_id": "3MVG9" })),
        )
        .await;
    assert_eq!(put.body["redirect_host"], "127.0.0.1");

    for (id, host) in [
        ("github", "localhost"),
        ("salesforce", "[::1]"),
        ("salesforce", "example.com"),
    ] {
        let put = s
            .admin(
                Method::PUT,
                &format!("/v1/admin/integrations/{id}"),
                Some(json!({ "enabled": true, "client_id": "c", "redirect_host": host })),
            )
            .await;
        assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{id} {host}");
        assert_eq!(put.body["code"], "invalid_redirect_host", "{:?}", put.body);
    }

    // The console's catalog shows exactly the URL to register, for either choice.
    let catalog = s.admin(Method::GET, "/v1/admin/catalog", None).await;
    let sf = catalog.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "salesforce")
        .unwrap()
        .clone();
    assert_eq!(
        sf["oauth2"]["callback_url"],
        "http://127.0.0.1:1717/OauthRedirect"
    );
    assert_eq!(
        sf["oauth2"]["callback_url_localhost"],
        "http://localhost:1717/OauthRedirect"
    );
}

/// The kill switch on the server: an admin's disconnect orders each of the user's devices
/// to revoke and wipe; each answers once with a receipt the console shows; an old push
/// (If-None-Match: *) cannot bring the record back, and only a new grant can.
pub async fn an_admins_disconnect_orders_every_device_and_an_old_push_cannot_revive(
    backend: Backend,
) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let laptop = s.new_user_device("ada@example.com").await;
    let code = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{}/enrollment", laptop.user_id),
            None,
        )
        .await;
    let desktop = s
        .enroll_existing(
            &laptop.user_id,
            code.body["enrollment"]["code"].as_str().unwrap(),
        )
        .await;
    let other = s.new_user_device("bob@example.com").await;
    for d in [&laptop, &other] {
        let put = s
            .device(
                d,
                Method::PUT,
                SLOT,
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    }
    for d in [&laptop, &desktop, &other] {
        let none = s.client(d).revocation_orders().await.unwrap();
        assert_eq!(none, [], "no order before the admin acts");
    }

    let cut = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}/connections/salesforce", laptop.user_id),
            None,
        )
        .await;
    assert_eq!(cut.status, StatusCode::OK, "{:?}", cut.body);

    // Both of Ada's devices have the order, with what they need to reach the provider;
    // Bob's has none.
    for d in [&laptop, &desktop] {
        let list = s.client(d).revocation_orders().await.unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].integration_id, "salesforce");
        assert_eq!(list[0].environment, "production");
        assert_eq!(list[0].reason, "disconnect");
        let config = list[0].integration.as_ref().unwrap();
        assert_eq!(config.client_id.as_deref(), Some("client-123"));
    }
    let bob = s.client(&other).revocation_orders().await.unwrap();
    assert_eq!(bob, []);

    // The console: pending on two devices until the receipts are in.
    let view = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", laptop.user_id),
            None,
        )
        .await;
    assert_eq!(
        view.body["revocations_pending"]["salesforce"], 2,
        "{:?}",
        view.body
    );

    // The laptop answers; a second answer for the same order is refused.
    let orders = s.client(&laptop).revocation_orders().await.unwrap();
    let order = orders[0].id.to_string();
    let answer = |d: &TestDevice| {
        let client = s.client(d);
        let order = order.clone();
        async move {
            client
                .revocation_receipt(
                    &order,
                    ProviderOutcome::Revoked,
                    "Salesforce confirmed",
                    true,
                )
                .await
        }
    };
    let path = format!("/v1/revocation-orders/{order}/receipt");
    answer(&laptop).await.unwrap();
    let again = answer(&laptop).await;
    assert!(
        matches!(again, Err(ClientError::NotFound { .. })),
        "{again:?}"
    );
    // Another device cannot answer for it, and nonsense is refused.
    let foreign = answer(&desktop).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound { .. })),
        "{foreign:?}"
    );
    let bad = s
        .device(
            &desktop,
            Method::POST,
            &path,
            Some(json!({ "provider": "maybe", "local_wiped": true })),
            &[],
        )
        .await;
    assert_eq!(bad.code(), "invalid_receipt");
    let left = s.client(&laptop).revocation_orders().await.unwrap();
    assert_eq!(left, []);
    let view = s
        .admin(
            Method::GET,
            &format!("/v1/admin/users/{}/connections", laptop.user_id),
            None,
        )
        .await;
    assert_eq!(view.body["revocations_pending"]["salesforce"], 1);
    let receipts: Vec<&Value> = view.body["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["receipt"].is_null())
        .collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["receipt"]["provider"], "revoked");
    assert_eq!(receipts[0]["receipt"]["local_wiped"], true);
    assert_eq!(receipts[0]["device_id"], laptop.id.as_str());

    // An old push from the desktop (a refresh after the disconnect) cannot revive it...
    let revive = s
        .device(
            &desktop,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"stale-refresh") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(revive.status, StatusCode::GONE, "{:?}", revive.body);
    assert_eq!(revive.code(), "revoked_by_admin");
    // ...a new sign-in can.
    let fresh = s
        .device(
            &desktop,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"new-grant"), "new_grant": true })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{:?}", fresh.body);

    // The audit log has the order's cause and the receipt.
    let audit = s
        .admin(
            Method::GET,
            "/v1/admin/audit?action=revocation.receipt",
            None,
        )
        .await;
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        1,
        "{:?}",
        audit.body
    );
}

/// What the console shows admins is what was typed: no NUL or terminal escapes in an
/// email (PostgreSQL would even refuse a NUL with a 500), no direction overrides that
/// make one name read as another; and one person is one user whatever the case or
/// Unicode composition of their address.
pub async fn emails_and_names_refuse_hidden_characters_and_one_person_is_one_user(
    backend: Backend,
) {
    let s = TestServer::start(&backend).await;
    let invite = |email: &str, name: &str| {
        let body = json!({ "email": email, "display_name": name });
        let s = &s;
        async move { s.admin(Method::POST, "/v1/admin/users", Some(body)).await }
    };
    for bad in [
        "nul\u{0000}@example.com",
        "ada\u{001b}[2J@example.com",
        "ada\u{202E}moc.elpmaxe@example.com",
        "ada\u{200B}@example.com",
    ] {
        let r = invite(bad, "Ada").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}: {:?}",
            r.body
        );
        assert_eq!(r.code(), "invalid_email", "{bad:?}");
    }
    let r = invite("ada@example.com", "Ada \u{202E}ecalevoL").await;
    assert_eq!(r.code(), "invalid_name");

    let first = invite("  José.Núñez@Example.COM ", "José").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["user"]["email"], "josé.núñez@example.com");
    // The same address, decomposed (e + combining acute) and in another case.
    let again = invite("JOSE\u{0301}.nu\u{0301}n\u{0303}ez@EXAMPLE.com", "José").await;
    assert_ne!(
        again.status,
        StatusCode::CREATED,
        "one person, one user: {:?}",
        again.body
    );
    let users = s.admin(Method::GET, "/v1/admin/users", None).await;
    assert_eq!(
        users.body["users"].as_array().unwrap().len(),
        1,
        "{:?}",
        users.body
    );
}

/// A leaver's devices and a revoked device are cut off from everything, except their own
/// last orders: fetch them, answer them, nothing else.
pub async fn a_revoked_device_and_a_removed_users_devices_still_get_their_last_orders(
    backend: Backend,
) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let laptop = s.new_user_device("ada@example.com").await;
    let code = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{}/enrollment", laptop.user_id),
            None,
        )
        .await;
    let desktop = s
        .enroll_existing(
            &laptop.user_id,
            code.body["enrollment"]["code"].as_str().unwrap(),
        )
        .await;
    let bob = s.new_user_device("bob@example.com").await;
    for d in [&laptop, &bob] {
        let put = s
            .device(
                d,
                Method::PUT,
                SLOT,
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
    }

    // The admin revokes Ada's desktop: it may read only its order (wipe, keep the grant).
    let revoked = s
        .admin(
            Method::POST,
            &format!("/v1/admin/devices/{}/revoke", desktop.id),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    match s.client(&desktop).integrations().await {
        Err(ClientError::Unauthorized { code, .. }) => assert_eq!(code, ErrorCode::DEVICE_REVOKED),
        other => panic!("a revoked device was not refused with 401: {other:?}"),
    }
    let list = s.client(&desktop).revocation_orders().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].reason, "device_revoked");
    s.client(&desktop)
        .revocation_receipt(&list[0].id, ProviderOutcome::Kept, "wiped here", true)
        .await
        .unwrap();
    // The laptop keeps working and has no order; the record is still there.
    let none = s.client(&laptop).revocation_orders().await.unwrap();
    assert_eq!(none, []);
    let records = s.client(&laptop).list_records(None).await.unwrap();
    assert_eq!(records.len(), 1);

    // Ada leaves: the admin removes her. Her laptop's token opens nothing but its order.
    let removed = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/users/{}", laptop.user_id),
            None,
        )
        .await;
    assert!(removed.status.is_success(), "{:?}", removed.body);
    let cut = s
        .device(&laptop, Method::GET, "/v1/records", None, &[])
        .await;
    assert_eq!(cut.status, StatusCode::UNAUTHORIZED);
    let list = s.client(&laptop).revocation_orders().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].reason, "user_removed");
    let config = list[0].integration.as_ref().unwrap();
    assert_eq!(config.client_id.as_deref(), Some("client-123"));
    // Bob cannot answer it; the laptop can, once.
    let answer = |d: &TestDevice| {
        let client = s.client(d);
        let id = list[0].id.clone();
        async move {
            client
                .revocation_receipt(&id, ProviderOutcome::Revoked, "Salesforce confirmed", true)
                .await
        }
    };
    let foreign = answer(&bob).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound { .. })),
        "{foreign:?}"
    );
    answer(&laptop).await.unwrap();
    let left = s.client(&laptop).revocation_orders().await.unwrap();
    assert_eq!(left, []);
    // A made-up token opens nothing.
    let stranger = TestDevice {
        id: "x".into(),
        user_id: "x".into(),
        token: {
            let (head, last) = bob.token.split_at(bob.token.len() - 1);
            format!("{head}{}", if last == "A" { "B" } else { "A" })
        },
    };
    let nope = s.client(&stranger).revocation_orders().await;
    assert!(
        matches!(nope, Err(ClientError::Unauthorized { .. })),
        "{nope:?}"
    );
    // The audit log keeps both receipts.
    let audit = s
        .admin(
            Method::GET,
            "/v1/admin/audit?action=revocation.receipt",
            None,
        )
        .await;
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        2,
        "{:?}",
        audit.body
    );
}

/// Only a user's latest enrollment link works (an old one forwarded or leaked is dead),
/// and codes live a day unless configured otherwise.
pub async fn a_new_enrollment_code_replaces_the_older_ones(backend: Backend) {
    let defaults = latchkey_server::Config::for_tests(std::path::Path::new("/tmp"), None).unwrap();
    assert_eq!(defaults.enrollment_code_ttl_secs, 24 * 3600);
    let s = TestServer::start(&backend).await;
    let (user_id, first, _) = s.invite("ada@example.com").await;
    let again = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{user_id}/enrollment"),
            None,
        )
        .await;
    let second = again.body["enrollment"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = s.enroll(&first, "old link").await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{:?}", old.body);
    assert_eq!(old.code(), "enrollment_code_expired");
    let new = s.enroll(&second, "new link").await;
    assert_eq!(new.status, StatusCode::CREATED, "{:?}", new.body);
}

/// An API key goes only where the admin entered it for: pointing the integration at
/// another base URL or header clears the key (enter it again), the base URL must be on the
/// provider's own host, and the audit log shows the old and new base URL.
pub async fn moving_an_api_key_clears_it_and_only_the_catalogs_host_is_allowed(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    let put = |body: Value| {
        let s = &s;
        async move {
            s.admin(Method::PUT, "/v1/admin/integrations/openai", Some(body))
                .await
        }
    };
    let first = put(json!({
        "enabled": true, "api_key": "sk-FIRST", "api_base_url": "https://api.openai.com",
        "api_paths": ["/v1/models"]
    }))
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["api_key"], "set");
    // Saving the same destination keeps the key (the console sends the default header).
    let same = put(json!({
        "enabled": true, "api_base_url": "https://api.openai.com/", "api_paths": ["/v1/models"],
        "api_key_header": "authorization"
    }))
    .await;
    assert_eq!(same.body["api_key"], "set", "{:?}", same.body);
    // Another host is refused outright; nothing changes.
    let evil = put(json!({
        "enabled": true, "api_base_url": "https://api.openai.com.evil.example", "api_paths": ["/v1/models"]
    }))
    .await;
    assert_eq!(evil.code(), "invalid_api_base_url", "{:?}", evil.body);
    let kept = s
        .admin(Method::GET, "/v1/admin/integrations/openai", None)
        .await;
    assert_eq!(kept.body["api_key"], "set");
    // A new path prefix on the same host is a new destination: the key is cleared.
    let moved = put(json!({
        "enabled": true, "api_base_url": "https://api.openai.com/v2", "api_paths": ["/v1/models"]
    }))
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["api_key"], "not set", "{:?}", moved.body);
    // A new header too, once the key is entered again.
    let again = put(json!({
        "enabled": true, "api_key": "sk-SECOND", "api_base_url": "https://api.openai.com/v2",
        "api_paths": ["/v1/models"]
    }))
    .await;
    assert_eq!(again.body["api_key"], "set");
    let header = put(json!({
        "enabled": true, "api_base_url": "https://api.openai.com/v2", "api_paths": ["/v1/models"],
        "api_key_header": "x-api-key"
    }))
    .await;
    assert_eq!(header.body["api_key"], "not set", "{:?}", header.body);
    let audit = s
        .admin(Method::GET, "/v1/admin/audit?action=integration.put", None)
        .await;
    let events = audit.body["events"].as_array().unwrap();
    let change = events
        .iter()
        .find(|e| {
            e["detail"]["api_base_url"]["new"] == "https://api.openai.com/v2"
                && e["detail"]["api_base_url"]["old"] == "https://api.openai.com"
        })
        .unwrap_or_else(|| panic!("{:?}", audit.body));
    assert_eq!(change["detail"]["api_key_cleared"], true);
    assert!(
        !audit.body.to_string().contains("sk-"),
        "no key in the audit log"
    );
}

pub async fn development_providers_need_the_deployments_opt_in(backend: Backend) {
    let s =
        TestServer::start_with_builtin_catalog(&backend, |c| c.allow_development_providers = false)
            .await;
    let entries = s.admin(Method::GET, "/v1/admin/catalog", None).await;
    let ids: Vec<&str> = entries.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(ids.contains(&"salesforce"), "{ids:?}");
    assert!(
        !ids.iter().any(|id| id.starts_with("demo-")),
        "the demo providers are not offered: {ids:?}"
    );
    let enable = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({ "enabled": true, "environment": "production", "client_id": "c", "params": { "issuer": "http://127.0.0.1:3000" } })),
        )
        .await;
    assert_eq!(
        enable.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        enable.body
    );
    assert_eq!(enable.body["code"], "development_provider");
    assert!(
        enable.body["message"]
            .as_str()
            .unwrap()
            .contains("allow_development_providers"),
        "says how to opt in: {:?}",
        enable.body
    );
    s.stop().await;

    // A deployment that opts in (make run, the tests) offers them.
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    let enable = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/demo-oauth",
            Some(json!({ "enabled": true, "environment": "production", "client_id": "c", "params": { "issuer": "http://127.0.0.1:3000" } })),
        )
        .await;
    assert_eq!(enable.status, StatusCode::OK, "{:?}", enable.body);
    let d = s.new_user_device("ada@example.com").await;
    let mine = s
        .device(&d, Method::GET, "/v1/integrations", None, &[])
        .await;
    assert_eq!(mine.body["integrations"][0]["id"], "demo-oauth");
    s.stop().await;
}

/// Signs in to the console from `ip` (the test server trusts loopback as its proxy, or
/// ignores the header): (status, cookie header, CSRF token).
async fn console_login(
    s: &TestServer,
    email: &str,
    password: &str,
    ip: &str,
) -> (StatusCode, String, String, super::Reply) {
    let r = s
        .call(
            Method::POST,
            "/v1/admin/login",
            None,
            Some(json!({ "email": email, "password": password })),
            &[("X-Forwarded-For", ip)],
        )
        .await;
    let cookie = r
        .headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    let csrf = r.body["csrf_token"].as_str().unwrap_or_default().to_owned();
    (r.status, cookie, csrf, r)
}

pub async fn admin_credentials_are_named_listed_revoked_and_die_with_their_admin(backend: Backend) {
    let s = TestServer::start_with(&backend, trust_loopback_proxy).await;
    // The first admin is the owner.
    let admins = s.admin(Method::GET, "/v1/admin/admins", None).await;
    assert_eq!(admins.body["me"]["role"], "owner", "{:?}", admins.body);

    // A named token, listed with its expiry and last use, never the token itself.
    let made = s
        .admin(
            Method::POST,
            "/v1/admin/tokens",
            Some(json!({ "name": "CI deploy" })),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let ci = made.body["token"].as_str().unwrap().to_owned();
    let ci_id = made.body["id"].as_str().unwrap().to_owned();
    let used = s
        .call(Method::GET, "/v1/admin/users", Some(&ci), None, &[])
        .await;
    assert_eq!(used.status, StatusCode::OK);
    let list = s.admin(Method::GET, "/v1/admin/tokens", None).await;
    let tokens = list.body["tokens"].as_array().unwrap();
    let entry = tokens.iter().find(|t| t["id"] == ci_id.as_str()).unwrap();
    assert_eq!(entry["name"], "CI deploy");
    assert!(entry["last_used_at"].as_i64().unwrap() > 0, "{entry}");
    assert!(entry["expires_at"].as_i64().unwrap() > entry["created_at"].as_i64().unwrap());
    assert!(!list.body.to_string().contains(&ci), "never the token");

    // The owner adds Bob; Bob sees only his own tokens and cannot touch the owner's.
    let bob_password = "bob's long password 1";
    let added = s
        .admin(
            Method::POST,
            "/v1/admin/admins",
            Some(json!({ "email": "Bob@Example.com", "password": bob_password })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["admin"]["role"], "admin");
    let bob_id = added.body["admin"]["id"].as_str().unwrap().to_owned();
    let (status, bob_cookie, bob_csrf, _) =
        console_login(&s, "bob@example.com", bob_password, "10.0.0.2").await;
    assert_eq!(status, StatusCode::OK);
    let bob_session = [
        ("cookie", bob_cookie.as_str()),
        ("x-csrf-token", bob_csrf.as_str()),
    ];
    let bob_made = s
        .call(Method::POST, "/v1/admin/tokens", None, None, &bob_session)
        .await;
    assert_eq!(bob_made.status, StatusCode::CREATED, "{:?}", bob_made.body);
    assert_eq!(bob_made.body["name"], "API token", "a default name");
    let bob_token = bob_made.body["token"].as_str().unwrap().to_owned();
    let bobs = s
        .call(Method::GET, "/v1/admin/tokens", Some(&bob_token), None, &[])
        .await;
    assert!(
        bobs.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["admin_id"] == bob_id.as_str()),
        "{:?}",
        bobs.body
    );
    let all = s
        .call(
            Method::GET,
            "/v1/admin/tokens?all=true",
            Some(&bob_token),
            None,
            &[],
        )
        .await;
    assert_eq!(all.status, StatusCode::FORBIDDEN);
    assert_eq!(all.code(), "owner_only");
    let theirs = s
        .call(
            Method::DELETE,
            &format!("/v1/admin/tokens/{ci_id}"),
            Some(&bob_token),
            None,
            &[],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let removing = s
        .call(
            Method::DELETE,
            &format!("/v1/admin/admins/{bob_id}"),
            Some(&bob_token),
            None,
            &[],
        )
        .await;
    assert_eq!(removing.code(), "owner_only");

    // The owner sees everyone's and revokes the CI token: it stops at once.
    let all = s
        .admin(Method::GET, "/v1/admin/tokens?all=true", None)
        .await;
    assert!(
        all.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["admin_email"] == "bob@example.com"),
        "{:?}",
        all.body
    );
    let revoked = s
        .admin(Method::DELETE, &format!("/v1/admin/tokens/{ci_id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = s
        .call(Method::GET, "/v1/admin/users", Some(&ci), None, &[])
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Bob changes his password: the session he changes it from stays, his others end.
    let (_, other_cookie, _, _) =
        console_login(&s, "bob@example.com", bob_password, "10.0.0.2").await;
    let wrong = s
        .call(
            Method::POST,
            "/v1/admin/password",
            None,
            Some(json!({ "current_password": "not it at all", "new_password": "a brand new password" })),
            &bob_session,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.code(), "wrong_password");
    let changed = s
        .call(
            Method::POST,
            "/v1/admin/password",
            None,
            Some(
                json!({ "current_password": bob_password, "new_password": "a brand new password" }),
            ),
            &bob_session,
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let me = |cookie: String| {
        let s = &s;
        async move {
            s.call(
                Method::GET,
                "/v1/admin/admins",
                None,
                None,
                &[("cookie", cookie.as_str())],
            )
            .await
            .status
        }
    };
    assert_eq!(me(bob_cookie.clone()).await, StatusCode::OK);
    assert_eq!(me(other_cookie).await, StatusCode::UNAUTHORIZED);
    let (old, ..) = console_login(&s, "bob@example.com", bob_password, "10.0.0.2").await;
    assert_eq!(old, StatusCode::UNAUTHORIZED);
    let (new, ..) = console_login(&s, "bob@example.com", "a brand new password", "10.0.0.2").await;
    assert_eq!(new, StatusCode::OK);

    // Removing Bob ends his sessions and tokens in the same step.
    let removed = s
        .admin(Method::DELETE, &format!("/v1/admin/admins/{bob_id}"), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let token_after = s
        .call(Method::GET, "/v1/admin/users", Some(&bob_token), None, &[])
        .await;
    assert_eq!(token_after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(bob_cookie).await, StatusCode::UNAUTHORIZED);
    // The last owner stays.
    let owner_id = admins.body["me"]["id"].as_str().unwrap();
    let last = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/admins/{owner_id}"),
            None,
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert_eq!(last.code(), "last_owner");

    // Sign-ins, failures, sign-outs and every step above are in the audit log.
    let (_, cookie, csrf, _) =
        console_login(&s, super::ADMIN_EMAIL, super::ADMIN_PASSWORD, "10.0.0.1").await;
    let out = s
        .call(
            Method::POST,
            "/v1/admin/logout",
            None,
            None,
            &[("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let audit = s
        .admin(Method::GET, "/v1/admin/audit?limit=200", None)
        .await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "admin.login",
        "admin.login_failed",
        "admin.logout",
        "admin.token.create",
        "admin.token.revoke",
        "admin.create",
        "admin.password_change",
        "admin.remove",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let text = audit.body.to_string();
    for secret in [
        bob_password,
        "a brand new password",
        ci.as_str(),
        bob_token.as_str(),
    ] {
        assert!(!text.contains(secret), "the audit log holds no secret");
    }
    s.stop().await;
}

pub async fn sign_in_slows_an_account_down_without_locking_its_admin_out(backend: Backend) {
    let s = TestServer::start_with(&backend, trust_loopback_proxy).await;
    let email = super::ADMIN_EMAIL;
    let good = super::ADMIN_PASSWORD;
    // The admin signs in from their desk.
    assert_eq!(
        console_login(&s, email, good, "10.0.0.1").await.0,
        StatusCode::OK
    );
    // Someone guesses from many addresses (each under its own per-address limit).
    for i in 0..6 {
        let (status, ..) = console_login(&s, email, "a wrong guess", &format!("10.9.0.{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The account now waits, for any new address, even with the right password...
    let (status, _, _, reply) = console_login(&s, email, good, "10.9.1.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{:?}", reply.body);
    let wait: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&wait),
        "a short wait, never a lock: {wait}"
    );
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("failed sign-ins for this account"),
        "{:?}",
        reply.body
    );
    // ...but not the admin at the desk they signed in from before.
    assert_eq!(
        console_login(&s, email, good, "10.0.0.1").await.0,
        StatusCode::OK
    );
    // An unknown account is slowed the same way (nothing tells accounts apart).
    for i in 0..6 {
        console_login(&s, "nobody@example.com", "x", &format!("10.8.0.{i}")).await;
    }
    let (status, ..) = console_login(&s, "nobody@example.com", "x", "10.8.1.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

pub async fn the_console_shows_which_device_redeemed_each_code(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (user_id, code, _) = s.invite("ada@example.com").await;
    let user = s
        .admin(Method::GET, &format!("/v1/admin/users/{user_id}"), None)
        .await;
    let codes = user.body["enrollment_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 1, "{:?}", user.body);
    assert_eq!(codes[0]["status"], "waiting");
    assert!(codes[0]["device_name"].is_null());
    assert!(!user.body.to_string().contains(&code), "never the code");

    let enrolled = s.enroll(&code, "Ada's laptop").await;
    assert_eq!(enrolled.status, StatusCode::CREATED);
    // A second code, left unused, then replaced by a third.
    let enrollment = format!("/v1/admin/users/{user_id}/enrollment");
    let again = || s.admin(Method::POST, &enrollment, None);
    assert_eq!(again().await.status, StatusCode::CREATED);
    assert_eq!(again().await.status, StatusCode::CREATED);
    let user = s
        .admin(Method::GET, &format!("/v1/admin/users/{user_id}"), None)
        .await;
    let codes = user.body["enrollment_codes"].as_array().unwrap();
    let statuses: Vec<&str> = codes.iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(
        statuses,
        ["waiting", "expired", "redeemed"],
        "{:?}",
        user.body
    );
    let redeemed = &codes[2];
    assert_eq!(redeemed["device_name"], "Ada's laptop");
    assert_eq!(
        redeemed["device_id"], enrolled.body["device"]["id"],
        "{:?}",
        enrolled.body
    );
    assert!(redeemed["used_at"].as_i64().unwrap() >= redeemed["created_at"].as_i64().unwrap());
    s.stop().await;
}

pub async fn the_server_key_rotates_and_a_key_in_the_data_dir_is_reported(backend: Backend) {
    let s = TestServer::start(&backend).await;
    // The demo's default: the key generated into the data dir, said plainly.
    let ready = s.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["warnings"], json!(["server_key_in_data_dir"]));

    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/salesforce",
            Some(
                json!({ "enabled": true, "client_id": "3MVG9", "client_secret": "sf-secret-123" }),
            ),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let put = s
        .admin(
            Method::PUT,
            "/v1/admin/integrations/openai",
            Some(json!({ "enabled": true, "api_key": "sk-API-KEY-456", "api_base_url": "https://api.openai.com" })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let d = s.new_user_device("ada@example.com").await;
    let secret_of = |server: &TestServer| {
        let d = d.clone();
        let base = server.base.clone();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{base}/v1/integrations"))
                .bearer_auth(&d.token)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let secret = body["integrations"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["id"] == "salesforce"))
                .map(|i| i["client_secret"].clone());
            (status, secret)
        }
    };
    assert_eq!(
        secret_of(&s).await.1,
        Some(json!("sf-secret-123")),
        "the device gets the client secret"
    );

    // The servers stop (one process serves a SQLite file), then the key rotates into a
    // key file outside the data dir (created by the command).
    let mut s = s;
    s.server.take().unwrap().shutdown().await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let new_key_file = keys.path().join("latchkey-server.key");
    let new_key = latchkey_server::crypto::ServerKey::load_or_create(&new_key_file).unwrap();
    let command = latchkey_server::server::open_for_command(s.config())
        .await
        .unwrap();
    let count = latchkey_server::key_rotation::rotate(&command, &new_key)
        .await
        .unwrap();
    assert_eq!(count, 2, "the client secret and the API key");
    // Every stored value is sealed under the new key only.
    let old_key =
        latchkey_server::crypto::ServerKey::load_or_create(&s.dir.path().join("server.key"))
            .unwrap();
    let integrations = command.db.list_integrations(&command.org.id).await.unwrap();
    let mut opened = 0;
    for i in &integrations {
        for (field, sealed) in [
            ("client_secret", &i.client_secret_sealed),
            ("api_key", &i.api_key_sealed),
        ] {
            let Some(sealed) = sealed else { continue };
            let context = latchkey_server::crypto::secret_context(&i.org_id, &i.id, field);
            assert!(
                old_key.open(&context, sealed).is_err(),
                "the old key opens nothing"
            );
            let plain = new_key.open(&context, sealed).unwrap();
            assert!(["sf-secret-123", "sk-API-KEY-456"].contains(&plain.expose()));
            opened += 1;
        }
    }
    assert_eq!(opened, 2);
    let audit = command
        .db
        .list_audit(
            &command.org.id,
            &latchkey_server_database::AuditQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "server_key.rotate"));
    command.db.close().await;

    // A server started with the new key, from outside the data dir, opens them and has
    // nothing to warn about.
    let new_hex = std::fs::read_to_string(&new_key_file).unwrap();
    let rotated = s
        .try_replica_with(|c| {
            c.server_key = Some(latchkey_secret::SecretString::new(
                new_hex.trim().to_owned(),
            ));
            c.server_key_file = Some(new_key_file.clone());
        })
        .await
        .unwrap();
    let ready = rotated.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.body["warnings"], json!([]));
    assert_eq!(secret_of(&rotated).await.1, Some(json!("sf-secret-123")));
    let mut rotated = rotated;
    rotated.server.take().unwrap().shutdown().await.unwrap();

    // Rotating again from a key that is no longer the server's changes nothing.
    let command = latchkey_server::server::open_for_command(s.config())
        .await
        .unwrap();
    let other =
        latchkey_server::crypto::ServerKey::load_or_create(&keys.path().join("other.key")).unwrap();
    let refused = latchkey_server::key_rotation::rotate(&command, &other)
        .await
        .unwrap_err();
    assert_eq!(refused.code, "server_key_mismatch");
    command.db.close().await;
    let again = s
        .try_replica_with(|c| {
            c.server_key = Some(latchkey_secret::SecretString::new(
                new_hex.trim().to_owned(),
            ));
        })
        .await
        .unwrap();
    assert_eq!(secret_of(&again).await.1, Some(json!("sf-secret-123")));
    again.stop().await;
}

pub async fn a_device_cannot_grow_record_slots_without_bound(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.enable("salesforce").await;
    let d = s.new_user_device("ada@example.com").await;
    let put = |vk: String| {
        let s = &s;
        let d = &d;
        async move {
            s.device(
                d,
                Method::PUT,
                &format!("/v1/records/salesforce/production/{vk}"),
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await
        }
    };
    // A few vault keys (a user who lost theirs and reconnected) are fine...
    for n in 0..5 {
        let r = put(format!("vk{n}")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {:?}", r.body);
    }
    // ...an endless stream of them is not.
    let r = put("vk5".to_owned()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "too_many_records");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Revoke the old ones")
    );
    // An integration or environment the admin did not enable gets none at all.
    for path in [
        "/v1/records/github/production/vk1",
        "/v1/records/salesforce/sandbox/vk1",
    ] {
        let r = s
            .device(
                &d,
                Method::PUT,
                path,
                Some(json!({ "envelope": b64(b"sealed") })),
                &[("If-None-Match", "*")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
    }
    // Deleting one makes room again.
    let del = s
        .device(
            &d,
            Method::DELETE,
            "/v1/records/salesforce/production/vk0",
            None,
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(del.status, StatusCode::OK, "{:?}", del.body);
    assert_eq!(put("vk5".to_owned()).await.status, StatusCode::CREATED);
    s.stop().await;
}

pub async fn an_admin_picks_the_default_widgets_from_the_catalogs(backend: Backend) {
    let s = TestServer::start_with_builtin_catalog(&backend, |_| {}).await;
    let put = |body: Value| {
        let s = &s;
        async move {
            s.admin(Method::PUT, "/v1/admin/integrations/salesforce", Some(body))
                .await
        }
    };
    let base = json!({ "enabled": true, "environment": "production", "client_id": "3MVG9" });
    let r = put(base.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["default_widgets"],
        Value::Null,
        "all the catalog offers"
    );
    let d = s.new_user_device("ada@example.com").await;
    let mine = || s.device(&d, Method::GET, "/v1/integrations", None, &[]);
    assert_eq!(
        mine().await.body["integrations"][0]["default_widgets"],
        Value::Null,
        "null: every widget the catalog offers (the device's catalog says which)"
    );
    let catalog = s.admin(Method::GET, "/v1/admin/catalog", None).await;
    let sf = catalog.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "salesforce")
        .unwrap()
        .clone();
    assert_eq!(
        sf["search"]["widgets"],
        json!(["salesforce.recent_accounts"])
    );

    // None by default; then a widget another provider offers is refused, in words.
    let mut none = base.clone();
    none["default_widgets"] = json!([]);
    assert_eq!(put(none).await.body["default_widgets"], json!([]));
    assert_eq!(
        mine().await.body["integrations"][0]["default_widgets"],
        json!([])
    );
    // Absent keeps the choice.
    assert_eq!(put(base.clone()).await.body["default_widgets"], json!([]));
    let mut wrong = base.clone();
    wrong["default_widgets"] = json!(["github.review_requests"]);
    let r = put(wrong).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "unknown_widget");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("it offers salesforce.recent_accounts"),
        "{:?}",
        r.body
    );
    // null goes back to all.
    let mut all = base;
    all["default_widgets"] = Value::Null;
    assert_eq!(put(all).await.body["default_widgets"], Value::Null);
    s.stop().await;
}

/// Issues a SCIM token through the admin API; returns (token id, secret).
async fn scim_token(s: &TestServer) -> (String, String) {
    let r = s
        .admin(
            Method::POST,
            "/v1/admin/scim-tokens",
            Some(json!({ "name": "Okta" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["scim_base_url"],
        json!(format!("{}/scim/v2", s.base))
    );
    (
        r.body["scim_token"]["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    )
}

async fn scim(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    s.call(method, &format!("/scim/v2{path}"), Some(token), body, &[])
        .await
}

/// Runs one statement against the server's database (to age a token past its expiry).
async fn run_sql(s: &TestServer, sql: &str) {
    if s.database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&s.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// The identity provider provisions users and groups over SCIM; deactivating a user
/// (`active: false`) is the leaver flow of "remove user" with the row kept: devices cut
/// off, a revocation order for every connection, no new enrollment until reactivated.
pub async fn scim_provisions_users_and_groups_and_deactivation_is_the_leaver_flow(
    backend: Backend,
) {
    let s = TestServer::start(&backend).await;
    let (_, token) = scim_token(&s).await;

    // Create, read back, and refuse a second user with the same userName.
    let ada = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "externalId": "okta-ada",
        "name": { "givenName": "Ada", "familyName": "Lovelace" },
        "emails": [{ "value": "ada@example.com", "type": "work", "primary": true }],
        "active": true
    });
    let created = scim(&s, &token, Method::POST, "/Users", Some(ada.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.headers["content-type"], "application/scim+json");
    let ada_id = created.body["id"].as_str().unwrap().to_owned();
    let meta = &created.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(
        meta["location"],
        json!(format!("{}/scim/v2/Users/{ada_id}", s.base))
    );
    assert_eq!(
        created.headers["location"],
        meta["location"].as_str().unwrap()
    );
    assert_eq!(created.headers["etag"], meta["version"].as_str().unwrap());
    assert!(meta["created"].as_str().unwrap().ends_with('Z'));
    let again = scim(&s, &token, Method::POST, "/Users", Some(ada)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.body["scimType"], "uniqueness");
    assert_eq!(again.body["status"], "409");
    assert_eq!(
        again.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    let got = scim(&s, &token, Method::GET, &format!("/Users/{ada_id}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["name"]["givenName"], "Ada");
    assert_eq!(got.body["externalId"], "okta-ada");
    // The console sees who the identity provider made.
    let listed = s.admin(Method::GET, "/v1/admin/users", None).await;
    let row = &listed.body["users"][0];
    assert_eq!(
        (row["provisioned_by"].as_str(), row["active"].as_bool()),
        (Some("scim"), Some(true))
    );
    assert_eq!(row["display_name"], "Ada Lovelace");

    // Five more, then filter and page.
    for i in 0..5 {
        let u =
            json!({ "userName": format!("user{i}@example.com"), "externalId": format!("ext-{i}") });
        let r = scim(&s, &token, Method::POST, "/Users", Some(u)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for (filter, expected) in [
        ("userName eq \"ADA@example.com\"", 1),
        ("emails[type eq \"work\"].value eq \"ada@example.com\"", 1),
        ("emails.value eq \"ada@example.com\"", 1),
        ("externalId eq \"ext-3\"", 1),
        ("userName sw \"user\"", 5),
        ("userName eq \"nobody@example.com\"", 0),
    ] {
        let q = format!("/Users?filter={}", urlencode(filter));
        let r = scim(&s, &token, Method::GET, &q, None).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], json!(expected), "{filter}");
        assert_eq!(
            r.body["Resources"].as_array().unwrap().len(),
            expected,
            "{filter}"
        );
    }
    let page = scim(&s, &token, Method::GET, "/Users?startIndex=2&count=2", None).await;
    assert_eq!(page.body["totalResults"], 6);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 2);
    assert_eq!(page.body["Resources"][0]["userName"], "user0@example.com");
    let bad = scim(
        &s,
        &token,
        Method::GET,
        &format!("/Users?filter={}", urlencode("userName eq")),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["scimType"], "invalidFilter");

    // Ada has a device with a connection, then the identity provider deactivates her.
    s.enable("salesforce").await;
    let code = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{ada_id}/enrollment"),
            None,
        )
        .await;
    assert_eq!(code.status, StatusCode::CREATED, "{:?}", code.body);
    let laptop = s
        .enroll_existing(&ada_id, code.body["enrollment"]["code"].as_str().unwrap())
        .await;
    let put = s
        .device(
            &laptop,
            Method::PUT,
            SLOT,
            Some(json!({ "envelope": b64(b"sealed") })),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    let spare = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{ada_id}/enrollment"),
            None,
        )
        .await;
    let spare_code = spare.body["enrollment"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let off = scim(
        &s,
        &token,
        Method::PATCH,
        &format!("/Users/{ada_id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "value": { "active": false } }]
        })),
    )
    .await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    assert_eq!(off.body["active"], false);
    // Her token opens nothing but the order to revoke at the provider and wipe.
    let cut = s
        .device(&laptop, Method::GET, "/v1/records", None, &[])
        .await;
    assert_eq!(cut.status, StatusCode::UNAUTHORIZED);
    let list = s.client(&laptop).revocation_orders().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].reason, "user_removed");
    let config = list[0].integration.as_ref().unwrap();
    assert_eq!(config.client_id.as_deref(), Some("client-123"));
    // The row stays, inactive; no code works and no new one is issued.
    let got = scim(&s, &token, Method::GET, &format!("/Users/{ada_id}"), None).await;
    assert_eq!(got.body["active"], false);
    let refused = s.enroll(&spare_code, "Another laptop").await;
    assert!(refused.status.is_client_error(), "{:?}", refused.body);
    let no_code = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{ada_id}/enrollment"),
            None,
        )
        .await;
    assert_eq!(no_code.status, StatusCode::CONFLICT);
    assert_eq!(no_code.code(), "user_inactive");
    let audit = s
        .admin(Method::GET, "/v1/admin/audit?action=user.deactivate", None)
        .await;
    assert_eq!(
        audit.body["events"][0]["actor_kind"], "scim",
        "{:?}",
        audit.body
    );

    // Reactivated (path form), she can be enrolled again.
    let on = scim(
        &s,
        &token,
        Method::PATCH,
        &format!("/Users/{ada_id}"),
        Some(json!({ "Operations": [{ "op": "Replace", "path": "active", "value": "True" }] })),
    )
    .await;
    assert_eq!(on.body["active"], true, "{:?}", on.body);
    let code = s
        .admin(
            Method::POST,
            &format!("/v1/admin/users/{ada_id}/enrollment"),
            None,
        )
        .await;
    assert_eq!(code.status, StatusCode::CREATED, "{:?}", code.body);
    let enrolled = s
        .enroll(
            code.body["enrollment"]["code"].as_str().unwrap(),
            "New laptop",
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{:?}", enrolled.body);

    // Groups with members; add and remove by PATCH.
    let users = scim(
        &s,
        &token,
        Method::GET,
        "/Users?filter=userName%20sw%20%22user%22",
        None,
    )
    .await;
    let ids: Vec<String> = users.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let group = scim(
        &s,
        &token,
        Method::POST,
        "/Groups",
        Some(json!({ "displayName": "Engineering", "members": [{ "value": ada_id }, { "value": ids[0] }] })),
    )
    .await;
    assert_eq!(group.status, StatusCode::CREATED, "{:?}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let patched = scim(
        &s,
        &token,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({ "Operations": [
            { "op": "add", "path": "members", "value": [{ "value": ids[1] }] },
            { "op": "remove", "path": format!("members[value eq \"{}\"]", ids[0]) }
        ] })),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let members: Vec<&str> = patched.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ada_id.as_str(), ids[1].as_str()]);
    let stranger = scim(
        &s,
        &token,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "nobody" }] }] })),
    )
    .await;
    assert_eq!(
        stranger.body["scimType"], "invalidValue",
        "{:?}",
        stranger.body
    );
    let by_name = scim(
        &s,
        &token,
        Method::GET,
        "/Groups?filter=displayName%20eq%20%22engineering%22",
        None,
    )
    .await;
    assert_eq!(by_name.body["totalResults"], 1);

    // DELETE is "remove user": gone, and gone from the group.
    let gone = scim(
        &s,
        &token,
        Method::DELETE,
        &format!("/Users/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let missing = scim(&s, &token, Method::GET, &format!("/Users/{}", ids[1]), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["status"], "404");
    let group = scim(&s, &token, Method::GET, &format!("/Groups/{gid}"), None).await;
    assert_eq!(group.body["members"].as_array().unwrap().len(), 1);
    let deleted = scim(&s, &token, Method::DELETE, &format!("/Groups/{gid}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A SCIM token opens /scim/v2 and nothing else; admin tokens do not open SCIM; a
/// missing, revoked or expired token is refused with a SCIM error, and the refusals
/// are audited.
pub async fn scim_tokens_open_only_scim_until_revoked_or_expired(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (id, token) = scim_token(&s).await;
    let ok = scim(&s, &token, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["patch"]["supported"], true);
    let types = scim(&s, &token, Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types.body["totalResults"], 2);
    let schemas = scim(&s, &token, Method::GET, "/Schemas", None).await;
    assert_eq!(schemas.body["totalResults"], 2);

    let none = s.call(Method::GET, "/scim/v2/Users", None, None, &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["status"], "401");
    let admin_on_scim = scim(&s, &s.admin_token.clone(), Method::GET, "/Users", None).await;
    assert_eq!(admin_on_scim.status, StatusCode::UNAUTHORIZED);
    let scim_on_admin = s
        .call(Method::GET, "/v1/admin/users", Some(&token), None, &[])
        .await;
    assert_eq!(scim_on_admin.status, StatusCode::FORBIDDEN);
    assert_eq!(scim_on_admin.code(), "not_an_admin");

    // Listed without the secret.
    let listed = s.admin(Method::GET, "/v1/admin/scim-tokens", None).await;
    assert_eq!(listed.body["tokens"][0]["status"], "active");
    assert!(!listed.body.to_string().contains(&token));

    // Revoked: refused at once.
    let revoked = s
        .admin(Method::DELETE, &format!("/v1/admin/scim-tokens/{id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = scim(&s, &token, Method::GET, "/Users", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body["detail"].as_str().unwrap().contains("revoked"));

    // Expired: refused.
    let (_, old) = scim_token(&s).await;
    run_sql(
        &s,
        "UPDATE scim_tokens SET expires_at = 1 WHERE revoked_at IS NULL",
    )
    .await;
    let expired = scim(&s, &old, Method::GET, "/Users", None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"));

    let audit = s
        .admin(
            Method::GET,
            "/v1/admin/audit?action=scim.token.refused",
            None,
        )
        .await;
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        2,
        "{:?}",
        audit.body
    );
    for action in ["scim.token.issue", "scim.token.revoke"] {
        let a = s
            .admin(
                Method::GET,
                &format!("/v1/admin/audit?action={action}"),
                None,
            )
            .await;
        assert!(!a.body["events"].as_array().unwrap().is_empty(), "{action}");
    }
}

/// The ids of the integrations `device` is offered.
async fn offered(s: &TestServer, device: &TestDevice) -> Vec<String> {
    let list = s.client(device).integrations().await.unwrap();
    list.into_iter().map(|i| i.id.into_string()).collect()
}

/// The (integration, reason) of the revocation orders `device` has not answered.
async fn pending_orders(s: &TestServer, device: &TestDevice) -> Vec<(String, String)> {
    let orders = s.client(device).revocation_orders().await.unwrap();
    orders
        .into_iter()
        .map(|o| (o.integration_id.into_string(), o.reason.as_str().to_owned()))
        .collect()
}

/// An integration's allow-list can name SCIM groups ("only the Sales group"): members
/// are offered it and others are not, and the kill switch follows membership — a user the
/// identity provider takes out of the group (PATCH, or DELETE of the group), or whom the
/// admin's new allow-list leaves out, gets a revocation order for it at once.
pub async fn an_allow_list_of_groups_follows_scim_membership(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (_, token) = scim_token(&s).await;
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cy"] {
        let u = json!({ "userName": format!("{name}@example.com") });
        let r = scim(&s, &token, Method::POST, "/Users", Some(u)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let (ann, ben, cy) = (&ids[0], &ids[1], &ids[2]);
    let group = |name: &str, members: Vec<&String>| {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        json!({ "displayName": name, "members": members })
    };
    let r = scim(
        &s,
        &token,
        Method::POST,
        "/Groups",
        Some(group("Sales", vec![ann, ben])),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let sales = r.body["id"].as_str().unwrap().to_owned();
    let r = scim(
        &s,
        &token,
        Method::POST,
        "/Groups",
        Some(group("Engineering", vec![cy])),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let eng = r.body["id"].as_str().unwrap().to_owned();

    // The admin sees the groups to pick from.
    let listed = s.admin(Method::GET, "/v1/admin/groups", None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let mut seen = listed.body["groups"].as_array().unwrap().clone();
    seen.sort_by_key(|g| g["display_name"].as_str().unwrap().to_owned());
    assert_eq!(
        seen,
        vec![
            json!({ "id": eng, "display_name": "Engineering", "member_count": 1 }),
            json!({ "id": sales, "display_name": "Sales", "member_count": 2 }),
        ]
    );

    // An unknown group is refused, naming it and where to look.
    let server = &s;
    let put = |body: Value| async move {
        server
            .admin(Method::PUT, "/v1/admin/integrations/salesforce", Some(body))
            .await
    };
    let base = json!({ "enabled": true, "client_id": "client-123", "scopes": ["api"] });
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let unknown = put(with(json!({ "allowed_groups": [sales, "no-such-group"] }))).await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        unknown.body
    );
    assert_eq!(unknown.code(), "unknown_group");
    let message = unknown.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("no-such-group") && message.contains("GET /v1/admin/groups"),
        "{:?}",
        unknown.body
    );

    // Only Sales: Ann and Ben are offered it, Cy is not and cannot write a record of it.
    let saved = put(with(json!({ "allowed_groups": [sales] }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.body["allowed_groups"], json!([sales]));
    let read = s
        .admin(Method::GET, "/v1/admin/integrations/salesforce", None)
        .await;
    assert_eq!(read.body["allowed_groups"], json!([sales]));
    let mut devices = Vec::new();
    for id in [ann, ben, cy] {
        let code = s
            .admin(
                Method::POST,
                &format!("/v1/admin/users/{id}/enrollment"),
                None,
            )
            .await;
        assert_eq!(code.status, StatusCode::CREATED, "{:?}", code.body);
        devices.push(
            s.enroll_existing(id, code.body["enrollment"]["code"].as_str().unwrap())
                .await,
        );
    }
    let (ann_dev, ben_dev, cy_dev) = (&devices[0], &devices[1], &devices[2]);
    assert_eq!(offered(&s, ann_dev).await, vec!["salesforce"]);
    assert_eq!(offered(&s, ben_dev).await, vec!["salesforce"]);
    assert!(offered(&s, cy_dev).await.is_empty());
    let record = |d: &TestDevice| {
        let d = d.clone();
        async move {
            server
                .device(
                    &d,
                    Method::PUT,
                    SLOT,
                    Some(json!({ "envelope": b64(b"sealed") })),
                    &[("If-None-Match", "*")],
                )
                .await
        }
    };
    let refused = record(cy_dev).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.code(), "integration_not_enabled");
    for d in [ann_dev, ben_dev] {
        let r = record(d).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for d in [ann_dev, ben_dev, cy_dev] {
        assert!(pending_orders(&s, d).await.is_empty());
    }

    // The identity provider takes Ann out of Sales: her device gets the order with the
    // change, the integration leaves her list and her record is gone; Ben keeps his.
    let out = scim(
        &s,
        &token,
        Method::PATCH,
        &format!("/Groups/{sales}"),
        Some(json!({ "Operations": [
            { "op": "remove", "path": format!("members[value eq \"{ann}\"]") }
        ] })),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK, "{:?}", out.body);
    assert_eq!(
        pending_orders(&s, ann_dev).await,
        vec![("salesforce".to_owned(), "allow_list".to_owned())]
    );
    assert!(offered(&s, ann_dev).await.is_empty());
    let gone = s.client(ann_dev).list_records(None).await.unwrap();
    assert_eq!(gone, [], "{gone:?}");
    assert!(pending_orders(&s, ben_dev).await.is_empty());
    assert_eq!(offered(&s, ben_dev).await, vec!["salesforce"]);
    let again = record(ann_dev).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{:?}", again.body);

    // Users or groups: Ann named by id is back beside Sales.
    let both = put(with(
        json!({ "allowed_users": [ann], "allowed_groups": [sales] }),
    ))
    .await;
    assert_eq!(both.status, StatusCode::OK, "{:?}", both.body);
    assert_eq!(offered(&s, ann_dev).await, vec!["salesforce"]);
    assert_eq!(offered(&s, ben_dev).await, vec!["salesforce"]);
    assert!(offered(&s, cy_dev).await.is_empty());

    // The admin moves it to Engineering: Ben, in Sales only, loses it with an order.
    let moved = put(with(json!({ "allowed_groups": [eng] }))).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(
        pending_orders(&s, ben_dev).await,
        vec![("salesforce".to_owned(), "allow_list".to_owned())]
    );
    assert!(offered(&s, ben_dev).await.is_empty());
    assert_eq!(offered(&s, cy_dev).await, vec!["salesforce"]);
    let r = record(cy_dev).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // The identity provider deletes Engineering: Cy loses it with an order.
    let deleted = scim(&s, &token, Method::DELETE, &format!("/Groups/{eng}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_eq!(
        pending_orders(&s, cy_dev).await,
        vec![("salesforce".to_owned(), "allow_list".to_owned())]
    );
    assert!(offered(&s, cy_dev).await.is_empty());
    let audit = s
        .admin(
            Method::GET,
            &format!("/v1/admin/audit?action=connection.disconnect&user={cy}"),
            None,
        )
        .await;
    assert_eq!(
        audit.body["events"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        audit.body
    );
}
