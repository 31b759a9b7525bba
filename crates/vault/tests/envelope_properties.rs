//! Property tests of the envelope: whatever the token set, it round-trips;
//! whatever is changed (a bit, the length, the header, the context, the key),
//! it fails to open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_vault::envelope::{self, HEADER_LEN};
use latchkey_vault::{KdfParams, RecordContext, SlotId, TokenSet, UserIdentity, VaultKey};
use proptest::prelude::*;

fn key(byte: u8) -> VaultKey {
    VaultKey::from_raw_for_tests([byte; 32], KdfParams::CURRENT)
}

fn context(user: &str, integration: &str, environment: &str, version: u64) -> RecordContext {
    RecordContext::token_set(
        UserIdentity::new("https://latchkey.example", user).unwrap(),
        SlotId::new(integration, environment).unwrap(),
        version,
    )
}

fn plaintext_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..600)
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_plaintext_round_trips(plain in plaintext_strategy(), version in any::<u64>()) {
        let ctx = context("ada", "salesforce", "sandbox", version);
        let sealed = envelope::seal(&key(1), &ctx, &plain).unwrap();
        prop_assert_eq!(sealed.len(), envelope::MIN_LEN + plain.len());
        let opened = envelope::open(&key(1), &ctx, &sealed).unwrap();
        prop_assert_eq!(&opened[..], &plain[..]);
    }

    #[test]
    fn any_bit_flip_fails(plain in plaintext_strategy(), bit in any::<prop::sample::Index>()) {
        let ctx = context("ada", "salesforce", "sandbox", 1);
        let mut sealed = envelope::seal(&key(1), &ctx, &plain).unwrap();
        let bit = bit.index(sealed.len() * 8);
        sealed[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(envelope::open(&key(1), &ctx, &sealed).is_err());
    }

    #[test]
    fn any_truncation_or_extension_fails(plain in plaintext_strategy(), cut in any::<prop::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let ctx = context("ada", "salesforce", "sandbox", 1);
        let sealed = envelope::seal(&key(1), &ctx, &plain).unwrap();
        let cut = cut.index(sealed.len());
        prop_assert!(envelope::open(&key(1), &ctx, &sealed[..cut]).is_err());
        let mut longer = sealed.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(envelope::open(&key(1), &ctx, &longer).is_err());
    }

    #[test]
    fn any_header_change_fails(plain in plaintext_strategy(), at in 0..HEADER_LEN, value in any::<u8>()) {
        let ctx = context("ada", "salesforce", "sandbox", 1);
        let mut sealed = envelope::seal(&key(1), &ctx, &plain).unwrap();
        prop_assume!(sealed[at] != value);
        sealed[at] = value;
        prop_assert!(envelope::open(&key(1), &ctx, &sealed).is_err());
    }

    #[test]
    fn any_context_change_fails(
        plain in plaintext_strategy(),
        user in name(), integration in name(), environment in name(), version in any::<u64>(),
        which in 0..4usize,
    ) {
        let original = context(&user, &integration, &environment, version);
        let sealed = envelope::seal(&key(1), &original, &plain).unwrap();
        let moved = match which {
            0 => context(&format!("{user}x"), &integration, &environment, version),
            1 => context(&user, &format!("{integration}x"), &environment, version),
            2 => context(&user, &integration, &format!("{environment}x"), version),
            _ => context(&user, &integration, &environment, version.wrapping_add(1)),
        };
        let err = envelope::open(&key(1), &moved, &sealed).unwrap_err();
        prop_assert_eq!(err.code(), "vault.tampered");
    }

    #[test]
    fn another_key_fails(plain in plaintext_strategy(), other in 2u8..=255) {
        let ctx = context("ada", "salesforce", "sandbox", 1);
        let sealed = envelope::seal(&key(1), &ctx, &plain).unwrap();
        let err = envelope::open(&key(other), &ctx, &sealed).unwrap_err();
        prop_assert_eq!(err.code(), "vault.wrong_key");
    }

    #[test]
    fn the_header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = envelope::EnvelopeHeader::parse(&bytes);
        let _ = envelope::open(&key(1), &context("ada", "salesforce", "sandbox", 1), &bytes);
    }

    #[test]
    fn token_sets_round_trip_through_the_vault_form(
        access in "[ -~]{1,200}",
        refresh in proptest::option::of("[ -~]{1,200}"),
        scopes in proptest::collection::vec("[a-z_:./]{1,20}", 0..6),
        expires_at in proptest::option::of(any::<u64>()),
        issued_at in any::<u64>(),
        extras in proptest::collection::btree_map("[a-z_]{1,10}", "[ -~]{0,40}", 0..4),
    ) {
        // Through the public vault API with an in-memory keychain.
        let dir = tempfile::tempdir().unwrap();
        let kc = std::sync::Arc::new(latchkey_keychain::MemoryKeychain::new());
        let vault = shared_vault(&kc, dir.path());
        let slot = SlotId::new("salesforce", "sandbox").unwrap();
        let tokens = TokenSet {
            access_token: access.clone().into(),
            refresh_token: refresh.clone().map(Into::into),
            id_token: None,
            token_type: "Bearer".into(),
            scopes: scopes.clone(),
            expires_at,
            issued_at,
            instance_url: None,
            extras: extras.clone(),
        };
        let sealed = vault.seal_tokens(&slot, 9, &tokens).unwrap();
        let back = vault.open_tokens(&slot, 9, &sealed).unwrap();
        prop_assert_eq!(back.access_token.expose(), access.as_str());
        prop_assert_eq!(back.refresh_token.as_ref().map(|r| r.expose().to_owned()), refresh);
        prop_assert_eq!(back.scopes, scopes);
        prop_assert_eq!(back.expires_at, expires_at);
        prop_assert_eq!(back.issued_at, issued_at);
        prop_assert_eq!(back.extras, extras);
    }
}

/// Opening a vault derives an Argon2id key (19 MiB): do it for each case, but
/// with the cheap in-memory keychain.
fn shared_vault(
    kc: &std::sync::Arc<latchkey_keychain::MemoryKeychain>,
    dir: &std::path::Path,
) -> latchkey_vault::Vault<std::sync::Arc<latchkey_keychain::MemoryKeychain>> {
    latchkey_vault::Vault::open(
        kc.clone(),
        UserIdentity::new("https://latchkey.example", "ada").unwrap(),
        dir,
    )
    .unwrap()
}

/// Two connections of one provider in one environment (an org's Salesforce EMEA and
/// US production orgs) are two slots: a record sealed for one does not open as the
/// other's, so a server (or anyone with its database) cannot move a user's sign-in
/// from one connection to the other.
#[test]
fn a_record_cannot_move_between_two_connections_of_one_provider() {
    let dir = tempfile::tempdir().unwrap();
    let kc = std::sync::Arc::new(latchkey_keychain::MemoryKeychain::new());
    let vault = shared_vault(&kc, dir.path());
    let emea = SlotId::new("salesforce", "production").unwrap();
    let us = SlotId::new("salesforce-us", "production").unwrap();
    let tokens = TokenSet {
        access_token: "00D-emea-access".to_owned().into(),
        refresh_token: Some("5Aep-emea-refresh".to_owned().into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["api".into()],
        expires_at: None,
        issued_at: 1,
        instance_url: Some("https://emea.my.salesforce.com".into()),
        extras: Default::default(),
    };
    let sealed = vault.seal_tokens(&emea, 3, &tokens).unwrap();
    assert_eq!(
        vault
            .open_tokens(&emea, 3, &sealed)
            .unwrap()
            .access_token
            .expose(),
        "00D-emea-access"
    );
    let moved = vault.open_tokens(&us, 3, &sealed);
    assert!(
        matches!(moved, Err(latchkey_vault::VaultError::Tampered)),
        "{moved:?}"
    );
}
