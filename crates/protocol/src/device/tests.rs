//! The device API's wire format, pinned: a renamed field or kind fails here.

use super::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Serialises `value`, checks it is exactly `expected`, and reads it back unchanged.
fn pinned<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
{
    let json = serde_json::to_value(value).unwrap();
    assert_eq!(json, expected);
    let back: T = serde_json::from_value(json).unwrap();
    assert_eq!(&back, value);
}

/// Adds a field the type does not have and checks the body is refused.
fn refuses_unknown_fields<T: DeserializeOwned + fmt::Debug>(mut body: Value) {
    body["surprise"] = json!(1);
    let err = serde_json::from_value::<T>(body).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

fn config() -> IntegrationConfig {
    IntegrationConfig {
        id: "salesforce-uat".into(),
        provider: Some("salesforce".into()),
        display_name: Some("Salesforce — UAT sandbox".into()),
        kind: IntegrationKind::OAuth,
        environment: EnvironmentName::production(),
        client_id: Some("3MVG9".into()),
        client_secret: Some(SecretString::from("s3cret")),
        scopes: vec!["api".into(), "refresh_token".into()],
        params: BTreeMap::from([("tenant".to_owned(), "acme".to_owned())]),
        redirect_host: None,
        default_widgets: None,
        connected: None,
        updated_at: 7,
        ask: vec![AskedValue {
            name: "login_host".into(),
            description: "the Salesforce login host".into(),
            example: Some("acme.my.salesforce.com".into()),
        }],
        org_wide: false,
    }
}

fn config_json() -> Value {
    json!({
        "id": "salesforce-uat", "provider": "salesforce",
        "display_name": "Salesforce — UAT sandbox", "kind": "oauth", "environment": "production",
        "client_id": "3MVG9", "client_secret": "s3cret",
        "scopes": ["api", "refresh_token"], "params": { "tenant": "acme" },
        "redirect_host": null, "default_widgets": null, "connected": null, "updated_at": 7,
        "ask": [{ "name": "login_host", "description": "the Salesforce login host", "example": "acme.my.salesforce.com" }],
    })
}

#[test]
fn enrollment_bodies() {
    let request = EnrollRequest {
        code: SecretString::from("lke_abc"),
        device_name: "Ada's laptop".into(),
    };
    pinned(
        &request,
        json!({ "code": "lke_abc", "device_name": "Ada's laptop" }),
    );
    refuses_unknown_fields::<EnrollRequest>(json!({ "code": "c", "device_name": "d" }));
    let redeem = SsoRedeemRequest {
        code: SecretString::from("c"),
        code_verifier: SecretString::from("v"),
        device_name: "d".into(),
    };
    pinned(
        &redeem,
        json!({ "code": "c", "code_verifier": "v", "device_name": "d" }),
    );
    refuses_unknown_fields::<SsoRedeemRequest>(
        json!({ "code": "c", "code_verifier": "v", "device_name": "d" }),
    );
    let response = EnrollResponse {
        device_token: SecretString::from("lkd_token"),
        device: DeviceInfo {
            id: "d1".into(),
            user_id: "u1".into(),
            name: "Laptop".into(),
            created_at: 1,
            last_seen_at: None,
            revoked_at: None,
            update_channel: "stable".into(),
            app_version: None,
            app_target: None,
            app_arch: None,
            app_version_seen_at: None,
        },
        user: UserInfo {
            id: "u1".into(),
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            created_at: 1,
            active: true,
            external_id: None,
            provisioned_by: None,
        },
        server: "https://latchkey.example.com".into(),
    };
    pinned(
        &response,
        json!({
            "device_token": "lkd_token",
            "device": {
                "id": "d1", "user_id": "u1", "name": "Laptop", "created_at": 1,
                "last_seen_at": null, "revoked_at": null, "update_channel": "stable",
                "app_version": null, "app_target": null, "app_arch": null,
                "app_version_seen_at": null,
            },
            "user": {
                "id": "u1", "email": "ada@example.com", "display_name": "Ada",
                "created_at": 1, "active": true, "external_id": null, "provisioned_by": null,
            },
            "server": "https://latchkey.example.com",
        }),
    );
    let printed = format!("{response:?} {request:?} {redeem:?}");
    for secret in ["lkd_token", "lke_abc", "code_verifier: \"v\""] {
        assert!(!printed.contains(secret), "{printed}");
    }
}

#[test]
fn sso_bodies() {
    pinned(
        &SsoInfo {
            enabled: false,
            label: None,
            password_sign_in: PasswordSignIn::All,
        },
        json!({ "enabled": false, "label": null, "password_sign_in": "all" }),
    );
    pinned(
        &SsoInfo {
            enabled: true,
            label: Some("Okta".into()),
            password_sign_in: PasswordSignIn::OwnerOnly,
        },
        json!({ "enabled": true, "label": "Okta", "password_sign_in": "owner_only" }),
    );
    pinned(
        &SsoStartQuery {
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            state: "s".into(),
            code_challenge: "c".into(),
            code_challenge_method: "S256".into(),
        },
        json!({ "redirect_uri": "http://127.0.0.1:1/cb", "state": "s", "code_challenge": "c", "code_challenge_method": "S256" }),
    );
}

#[test]
fn me_and_integrations() {
    pinned(
        &Me {
            user: MeUser {
                id: "u1".into(),
                email: "a@example.com".into(),
                display_name: "A".into(),
            },
            device: MeDevice {
                id: "d1".into(),
                name: "L".into(),
                created_at: 2,
            },
            org: OrgInfo {
                id: "o1".into(),
                name: "Acme".into(),
            },
        },
        json!({
            "user": { "id": "u1", "email": "a@example.com", "display_name": "A" },
            "device": { "id": "d1", "name": "L", "created_at": 2 },
            "org": { "id": "o1", "name": "Acme" },
        }),
    );
    pinned(
        &IntegrationList {
            integrations: vec![config()],
        },
        json!({ "integrations": [config_json()] }),
    );
    let api_key = IntegrationConfig {
        kind: IntegrationKind::ApiKey,
        client_id: None,
        client_secret: None,
        connected: Some(true),
        ..config()
    };
    let json = serde_json::to_value(&api_key).unwrap();
    assert_eq!(json["kind"], "api_key");
    assert_eq!(json["client_secret"], Value::Null);
    assert_eq!(json["connected"], true);
    assert!(!format!("{:?}", config()).contains("s3cret"));
}

#[test]
fn an_older_servers_integration_without_the_newer_fields_still_reads() {
    let old: IntegrationConfig = serde_json::from_value(json!({
        "id": "salesforce", "kind": "oauth", "environment": "production",
        "client_id": "x", "scopes": ["api"], "params": {}, "added_later": true,
    }))
    .unwrap();
    assert_eq!(old.default_widgets, None);
    assert_eq!(old.redirect_host, None);
    assert_eq!(old.updated_at, 0);
    // Before named connections the id was the provider's.
    assert_eq!(old.provider, None);
    assert!(old.ask.is_empty());
    assert_eq!(old.provider_id().as_str(), "salesforce");
    assert_eq!(config().provider_id().as_str(), "salesforce");
}

#[test]
fn record_bodies() {
    let record = Record {
        integration_id: "salesforce".into(),
        environment: EnvironmentName::production(),
        vault_key_id: "k1".into(),
        version: 3,
        device_id: "d1".into(),
        created_at: 1,
        updated_at: 2,
        envelope: Some("AAEC".into()),
    };
    pinned(
        &RecordList {
            records: vec![record.clone()],
        },
        json!({ "records": [{
            "integration_id": "salesforce", "environment": "production", "vault_key_id": "k1",
            "version": 3, "device_id": "d1", "created_at": 1, "updated_at": 2, "envelope": "AAEC",
        }] }),
    );
    // A write's answer leaves the envelope out, rather than sending null.
    let written = Record {
        envelope: None,
        ..record
    };
    let json = serde_json::to_value(&written).unwrap();
    assert!(json.get("envelope").is_none(), "{json}");
    pinned(&written, json);

    pinned(
        &PutRecordRequest {
            envelope: "AAEC".into(),
            new_grant: false,
        },
        json!({ "envelope": "AAEC" }),
    );
    pinned(
        &PutRecordRequest {
            envelope: "AAEC".into(),
            new_grant: true,
        },
        json!({ "envelope": "AAEC", "new_grant": true }),
    );
    refuses_unknown_fields::<PutRecordRequest>(json!({ "envelope": "AAEC" }));
    pinned(
        &DeletedRecord {
            deleted: true,
            version: 4,
        },
        json!({ "deleted": true, "version": 4 }),
    );
    pinned(
        &RecordListQuery {
            integration: Some("salesforce".into()),
        },
        json!({ "integration": "salesforce" }),
    );
    refuses_unknown_fields::<RecordListQuery>(json!({}));
}

#[test]
fn change_feed_bodies() {
    for kind in ChangeKind::ALL {
        let json = serde_json::to_value(kind).unwrap();
        assert_eq!(json, kind.as_str());
        assert_eq!(serde_json::from_value::<ChangeKind>(json).unwrap(), kind);
        assert_eq!(ChangeKind::from_name(kind.as_str()), kind);
    }
    assert_eq!(
        ChangeKind::IntegrationEnabled.as_str(),
        "integration.enabled"
    );
    assert_eq!(ChangeKind::ConnectionChanged.as_str(), "connection.changed");
    assert_eq!(ChangeKind::DeviceRevoked.as_str(), "device.revoked");
    assert_eq!(ChangeKind::from_name("widget.added"), ChangeKind::Unknown);
    assert_eq!(
        serde_json::from_value::<ChangeKind>(json!("widget.added")).unwrap(),
        ChangeKind::Unknown
    );
    pinned(
        &FeedChange {
            seq: 9,
            kind: ChangeKind::IntegrationDisabled,
            integration_id: Some("hubspot".into()),
            at: 5,
        },
        json!({ "seq": 9, "kind": "integration.disabled", "integration_id": "hubspot", "at": 5 }),
    );
    pinned(&FeedReady { seq: 0 }, json!({ "seq": 0 }));
    pinned(
        &FeedDeviceRevoked {
            device_id: "d1".into(),
        },
        json!({ "device_id": "d1" }),
    );
    pinned(&FeedQuery { since: Some(3) }, json!({ "since": 3 }));
    refuses_unknown_fields::<FeedQuery>(json!({}));
}

#[test]
fn revocation_bodies() {
    pinned(
        &RevocationOrderList {
            orders: vec![RevocationOrder {
                id: "0a1b".into(),
                integration_id: "salesforce".into(),
                environment: EnvironmentName::production(),
                reason: RevocationReason::DISCONNECT.into(),
                ordered_at: 5,
                integration: Some(config()),
            }],
        },
        json!({ "orders": [{
            "id": "0a1b", "integration_id": "salesforce", "environment": "production",
            "reason": "disconnect", "ordered_at": 5, "integration": config_json(),
        }] }),
    );
    let names: Vec<Value> = ProviderOutcome::ALL
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "revoked",
            "not_supported",
            "queued",
            "failed",
            "no_copy",
            "kept"
        ]
    );
    for o in ProviderOutcome::ALL {
        assert_eq!(o.as_str().parse::<ProviderOutcome>(), Ok(o));
    }
    assert!("gone".parse::<ProviderOutcome>().is_err());
    pinned(
        &RevocationReceipt {
            provider: ProviderOutcome::NotSupported,
            detail: "remove it in Settings".into(),
            local_wiped: true,
        },
        json!({ "provider": "not_supported", "detail": "remove it in Settings", "local_wiped": true }),
    );
    refuses_unknown_fields::<RevocationReceipt>(
        json!({ "provider": "revoked", "local_wiped": true }),
    );
    assert!(
        serde_json::from_value::<RevocationReceipt>(
            json!({ "provider": "gone", "local_wiped": true })
        )
        .is_err()
    );
    pinned(
        &ReceiptRecorded { recorded: true },
        json!({ "recorded": true }),
    );
}

#[test]
fn the_update_manifest_is_taurus() {
    pinned(
        &UpdateManifest {
            version: "1.2.3".into(),
            notes: "Fixes".into(),
            pub_date: Some("2026-11-30T12:00:00Z".into()),
            url: "https://l.example.com/v1/updates/artifacts/r1".into(),
            signature: "sig".into(),
        },
        json!({
            "version": "1.2.3", "notes": "Fixes", "pub_date": "2026-11-30T12:00:00Z",
            "url": "https://l.example.com/v1/updates/artifacts/r1", "signature": "sig",
        }),
    );
}

#[test]
fn every_device_schema_is_generated() {
    use utoipa::ToSchema;
    let mut schemas = Vec::new();
    EnrollRequest::schemas(&mut schemas);
    IntegrationList::schemas(&mut schemas);
    RevocationOrderList::schemas(&mut schemas);
    let names: Vec<String> = schemas.iter().map(|(n, _)| n.clone()).collect();
    for expected in ["IntegrationConfig", "IntegrationKind", "RevocationOrder"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert_eq!(EnrollRequest::name(), "EnrollRequest");
}
