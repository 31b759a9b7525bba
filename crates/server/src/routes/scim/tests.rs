use super::*;

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(rfc3339(1_796_036_645_007), "2026-11-30T11:04:05.007Z");
}

#[test]
fn projection_keeps_id_and_what_was_asked() {
    let r = json!({ "schemas": [], "id": "1", "userName": "a", "name": { "givenName": "A", "familyName": "B" }, "emails": [] });
    let p = project(r.clone(), &["name.givenName".into()], &[]);
    assert_eq!(
        p,
        json!({ "schemas": [], "id": "1", "name": { "givenName": "A" } })
    );
    let p = project(r, &[], &["emails".into(), "USERNAME".into()]);
    assert!(p.get("emails").is_none() && p.get("userName").is_none() && p.get("name").is_some());
}
