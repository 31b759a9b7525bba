//! The admin bodies keep their wire spelling and their secrets out of logs.

use super::*;
use serde_json::json;

#[test]
fn a_shown_once_secret_serialises_but_never_debugs() {
    let created = CreatedToken {
        id: "t1".into(),
        name: "CI".into(),
        token: ShownOnce::new("lk_admin_SECRET"),
        expires_at: 1,
    };
    assert_eq!(
        serde_json::to_value(&created).unwrap()["token"],
        "lk_admin_SECRET"
    );
    assert!(!format!("{created:?}").contains("SECRET"));
    let login: Login =
        serde_json::from_value(json!({ "email": "a@b.c", "password": "hunter2-hunter2" })).unwrap();
    assert!(!format!("{login:?}").contains("hunter2"));
}

#[test]
fn requests_refuse_fields_the_server_would_drop() {
    let err = serde_json::from_value::<InviteUser>(
        json!({ "email": "a@b.c", "display_name": "A", "admin": true }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn integration_input_tells_absent_from_null() {
    let keep: IntegrationInput = serde_json::from_value(json!({ "enabled": true })).unwrap();
    assert!(keep.api_key.is_none() && keep.default_widgets.is_none());
    assert_eq!(keep.environment, "production");
    let clear: IntegrationInput = serde_json::from_value(
        json!({ "enabled": true, "api_key": null, "default_widgets": null }),
    )
    .unwrap();
    assert!(matches!(clear.api_key, Some(None)));
    assert!(matches!(clear.default_widgets, Some(None)));
}

#[test]
fn enums_keep_their_wire_spelling() {
    assert_eq!(json!(SecretState::NotSet), json!("not set"));
    assert_eq!(json!(RedirectHost::Loopback), json!("127.0.0.1"));
    assert_eq!(json!(IntegrationKind::ApiKey), json!("api_key"));
    assert_eq!(
        json!(crate::device::PasswordSignIn::OwnerOnly),
        json!("owner_only")
    );
    for kind in [
        ActorKind::Admin,
        ActorKind::Device,
        ActorKind::Scim,
        ActorKind::System,
    ] {
        assert_eq!(json!(kind), json!(kind.as_str()));
        assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(ActorKind::parse("robot"), None);
}

#[test]
fn connections_carry_their_kind_and_only_their_fields() {
    let c = Connection::ApiKey(ApiKeyConnection {
        integration_id: "openai".into(),
        connected: true,
        environment: "production".into(),
        connected_at: 5,
    });
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({ "kind": "api_key", "integration_id": "openai", "connected": true, "environment": "production", "connected_at": 5 })
    );
}

#[test]
fn user_detail_is_the_user_with_its_codes_beside() {
    let d = UserDetail {
        user: User {
            id: "u".into(),
            email: "a@b.c".into(),
            display_name: "A".into(),
            created_at: 1,
            active: true,
            external_id: None,
            provisioned_by: None,
        },
        enrollment_codes: vec![],
    };
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["email"], "a@b.c");
    assert!(v["external_id"].is_null() && v.get("external_id").is_some());
    assert_eq!(v["enrollment_codes"], json!([]));
}
