//! The vault's life on one machine, told as stories, against the
//! error-injecting keychain double. The same stories run against the real
//! Secret Service in `real_keychain.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{identity, slot, tokens};
use latchkey_keychain::{InjectedFailure, Keychain, MemoryKeychain};
use latchkey_vault::{Vault, VaultError, VaultOpening};

fn keychain() -> Arc<MemoryKeychain> {
    Arc::new(MemoryKeychain::new())
}

#[test]
fn first_launch_creates_a_salt_and_later_launches_reuse_it() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    assert_eq!(vault.opening(), VaultOpening::Created);
    let key_id = vault.key_id();
    vault.store_tokens(&slot(), 1, &tokens("A")).unwrap();
    drop(vault);

    let again = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    assert_eq!(again.opening(), VaultOpening::Existing);
    assert_eq!(again.key_id(), key_id);
    let (version, loaded) = again.load_tokens(&slot()).unwrap().unwrap();
    assert_eq!(version, 1);
    assert_eq!(loaded.access_token.expose(), "00D5g0000ACCESSA!AQ4AQ");
}

#[test]
fn a_vanished_salt_is_reported_never_silently_regenerated() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    vault.store_tokens(&slot(), 1, &tokens("A")).unwrap();
    drop(vault);
    kc.remove_externally("vault-salt/v1/https://latchkey.example/ada");

    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "vault.salt_missing");
    assert!(err.needs_reconnect());
    let message = err.to_string();
    assert!(message.contains("Reconnect"), "{message}");
    assert!(
        message.contains("missing from the system keychain"),
        "{message}"
    );
    assert!(
        kc.get("vault-salt/v1/https://latchkey.example/ada")
            .unwrap()
            .is_none(),
        "no new salt may appear without the user's say-so"
    );
}

#[test]
fn reset_after_a_lost_salt_voids_old_records_and_works_again() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let old = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    let old_id = old.key_id();
    old.store_tokens(&slot(), 3, &tokens("OLD")).unwrap();
    drop(old);
    kc.remove_externally("vault-salt/v1/https://latchkey.example/ada");

    let fresh = Vault::reset(kc.clone(), identity("ada"), dir.path()).unwrap();
    assert_eq!(fresh.opening(), VaultOpening::Created);
    assert_ne!(fresh.key_id(), old_id);
    assert!(
        fresh.load_tokens(&slot()).unwrap().is_none(),
        "void records are gone"
    );
    fresh.store_tokens(&slot(), 1, &tokens("NEW")).unwrap();
    drop(fresh);
    let reopened = Vault::open(kc, identity("ada"), dir.path()).unwrap();
    assert_eq!(reopened.opening(), VaultOpening::Existing);
    let (_, loaded) = reopened.load_tokens(&slot()).unwrap().unwrap();
    assert_eq!(loaded.access_token.expose(), "00D5g0000ACCESSNEW!AQ4AQ");
}

#[test]
fn an_unavailable_keychain_is_a_clear_error_and_nothing_is_written() {
    let kc = keychain();
    kc.fail_always(Some(InjectedFailure::Unavailable));
    let dir = tempfile::tempdir().unwrap();
    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "keychain.unavailable");
    assert!(
        err.to_string().contains("never stores tokens without it"),
        "{err}"
    );
    let written: Vec<_> = common::files_under(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with(".vault.lock"))
        .collect();
    assert!(written.is_empty(), "no fallback files: {written:?}");
}

#[test]
fn a_locked_keychain_says_so() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    kc.fail_next(InjectedFailure::Locked);
    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "keychain.locked");
    assert!(err.to_string().contains("Unlock it"), "{err}");
    assert!(
        !err.needs_reconnect(),
        "a locked keychain is not a lost salt"
    );
}

#[test]
fn a_failed_salt_write_on_first_launch_leaves_no_vault_behind() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    kc.fail_next_write(InjectedFailure::Unavailable);
    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "keychain.unavailable");
    assert!(
        kc.get("vault-salt/v1/https://latchkey.example/ada")
            .unwrap()
            .is_none()
    );
    // The failed launch must not be mistaken for a set-up machine.
    let vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    assert_eq!(vault.opening(), VaultOpening::Created);
}

#[test]
fn a_damaged_or_replaced_salt_is_detected() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    let account = "vault-salt/v1/https://latchkey.example/ada";

    kc.set(account, &[1u8; 16]).unwrap();
    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "vault.salt_invalid");
    assert!(
        !err.to_string().contains("0101"),
        "no salt bytes in messages"
    );

    kc.set(account, &[2u8; 32]).unwrap();
    let err = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap_err();
    assert_eq!(err.code(), "vault.key_changed");
    assert!(err.needs_reconnect());
}

#[test]
fn locking_wipes_the_key_until_unlocked() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    let sealed = vault.seal_tokens(&slot(), 1, &tokens("A")).unwrap();
    vault.lock();
    assert!(vault.is_locked());
    assert_eq!(
        vault
            .seal_tokens(&slot(), 2, &tokens("A"))
            .unwrap_err()
            .code(),
        "vault.locked"
    );
    assert_eq!(
        vault.open_tokens(&slot(), 1, &sealed).unwrap_err().code(),
        "vault.locked"
    );
    vault.unlock().unwrap();
    assert!(vault.open_tokens(&slot(), 1, &sealed).is_ok());

    vault.lock();
    kc.remove_externally("vault-salt/v1/https://latchkey.example/ada");
    assert_eq!(vault.unlock().unwrap_err().code(), "vault.salt_missing");
}

#[test]
fn another_users_envelope_does_not_open() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let ada = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    let bob = Vault::open(kc.clone(), identity("bob"), dir.path()).unwrap();
    assert_ne!(ada.key_id(), bob.key_id());
    let sealed = ada.seal_tokens(&slot(), 1, &tokens("A")).unwrap();
    let err = bob.open_tokens(&slot(), 1, &sealed).unwrap_err();
    assert!(matches!(err, VaultError::WrongKey), "{err:?}");
    assert!(err.needs_reconnect());
}

#[test]
fn forget_removes_salt_cache_and_manifest() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    vault.store_tokens(&slot(), 1, &tokens("A")).unwrap();
    vault.forget().unwrap();
    assert!(
        kc.get("vault-salt/v1/https://latchkey.example/ada")
            .unwrap()
            .is_none()
    );
    let left: Vec<_> = common::files_under(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with(".vault.lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // After forgetting, the next launch is a first launch again.
    let vault = Vault::open(kc, identity("ada"), dir.path()).unwrap();
    assert_eq!(vault.opening(), VaultOpening::Created);
}

#[test]
fn a_widget_snapshot_opens_only_as_the_same_widget_of_the_same_slot() {
    let kc = keychain();
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(kc.clone(), identity("ada"), dir.path()).unwrap();
    let sealed = vault
        .seal_snapshot(&slot(), 1, br#"{"items":["Acme"]}"#)
        .unwrap();
    assert!(!sealed.windows(4).any(|w| w == b"Acme"), "sealed");
    assert_eq!(
        &vault.open_snapshot(&slot(), 1, &sealed).unwrap()[..],
        br#"{"items":["Acme"]}"#
    );
    assert_eq!(
        vault.open_snapshot(&slot(), 2, &sealed).unwrap_err().code(),
        "vault.tampered",
        "another widget's"
    );
    let other = latchkey_vault::SlotId::new("github", "production").unwrap();
    assert!(
        vault.open_snapshot(&other, 1, &sealed).is_err(),
        "another slot's"
    );
    // A snapshot is not a token record, nor the other way round.
    assert!(vault.open_tokens(&slot(), 1, &sealed).is_err());
    let tokens_envelope = vault.seal_tokens(&slot(), 1, &tokens("A")).unwrap();
    assert!(vault.open_snapshot(&slot(), 1, &tokens_envelope).is_err());
    // Another user's vault cannot open it.
    let bob = Vault::open(kc, identity("bob"), dir.path()).unwrap();
    assert!(bob.open_snapshot(&slot(), 1, &sealed).is_err());
}
