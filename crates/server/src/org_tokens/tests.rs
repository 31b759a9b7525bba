use super::*;

fn key() -> ServerKey {
    ServerKey::from_hex(&SecretString::new("11".repeat(32))).unwrap()
}

#[test]
fn a_sealed_token_opens_only_for_its_org_connection_environment_and_field() {
    let key = key();
    let sealed = seal_token(
        &key,
        "org1",
        "salesforce",
        "production",
        TokenField::Refresh,
        "5Aep861",
    )
    .unwrap();
    assert_eq!(&sealed[..5], b"LKO\x01\x01");
    assert!(!sealed.windows(7).any(|w| w == b"5Aep861"));
    let open = |org, conn, env, field| {
        open_token(&key, org, conn, env, field, &sealed).map(|s| s.expose().to_owned())
    };
    assert_eq!(
        open("org1", "salesforce", "production", TokenField::Refresh).unwrap(),
        "5Aep861"
    );
    assert!(open("org2", "salesforce", "production", TokenField::Refresh).is_err());
    assert!(open("org1", "hubspot", "production", TokenField::Refresh).is_err());
    assert!(open("org1", "salesforce", "sandbox", TokenField::Refresh).is_err());
    assert!(open("org1", "salesforce", "production", TokenField::Access).is_err());
    let mut v2 = sealed.clone();
    v2[3] = 2;
    assert!(
        open_token(
            &key,
            "org1",
            "salesforce",
            "production",
            TokenField::Refresh,
            &v2
        )
        .is_err(),
        "unknown version"
    );
}

#[test]
fn an_org_token_sealed_by_an_earlier_release_still_opens() {
    // Frozen: sealed once with key 11…11 for org "org1", connection "salesforce",
    // environment "production", the refresh token. If this fails, the header or the
    // associated data changed and every stored org token would no longer open.
    assert_eq!(
        String::from_utf8(
            org_token_aad("org1", "salesforce", "production", TokenField::Refresh)[5..].to_vec()
        )
        .unwrap(),
        "latchkey-server/org-token/org1/integrations/salesforce/production/refresh_token"
    );
    let sealed = hex::decode(FROZEN).unwrap();
    let open = open_token(
        &key(),
        "org1",
        "salesforce",
        "production",
        TokenField::Refresh,
        &sealed,
    )
    .unwrap();
    assert_eq!(open.expose(), "5Aep861");
}

const FROZEN: &str = "4c4b4f01014e3695a667f240742066913b0a4c8dd84b620a3153818fd14b736174c4424b2b93cb0544597f6ef36fef9650f011fa";

#[test]
fn only_an_invalid_session_is_an_expired_salesforce_token() {
    let expired = br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
    assert!(session_expired(401, ApiErrors::Salesforce, expired));
    assert!(!session_expired(
        401,
        ApiErrors::Salesforce,
        br#"[{"errorCode":"API_DISABLED_FOR_ORG"}]"#
    ));
    assert!(!session_expired(403, ApiErrors::Salesforce, expired));
    assert!(session_expired(401, ApiErrors::Generic, b"{}"));
}
