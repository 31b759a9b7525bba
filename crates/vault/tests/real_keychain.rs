//! The vault against the REAL OS keychain: the Secret Service on Linux
//! (gnome-keyring inside a private D-Bus session; `make test` runs this file
//! through `scripts/with-keychain.sh`). Entry names are random and removed
//! afterwards. Where the script says a keychain is required (or under CI), a
//! missing keychain fails these tests instead of skipping them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::{assert_no_secret_in_files, contains, encodings, identity, slot, tokens};
use latchkey_keychain::{Keychain, OsKeychain};
use latchkey_vault::{SlotId, Vault, VaultOpening};

/// D-Bus calls from parallel tests race in gnome-keyring; run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes).unwrap();
    hex::encode(bytes)
}

/// A real keychain under a random service name, or `None` (with a notice)
/// when none is running and none is required.
fn real_keychain() -> Option<OsKeychain> {
    let required = std::env::var("LATCHKEY_KEYCHAIN_TESTS").as_deref() == Ok("required")
        || std::env::var_os("CI").is_some();
    let kc = OsKeychain::new(format!("latchkey-test-{}", random_hex(6)));
    match kc.get("probe") {
        Ok(_) => Some(kc),
        Err(e) if required => panic!("the real keychain is required but failed: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no Secret Service here ({e}); run via scripts/with-keychain.sh");
            None
        }
    }
}

/// Deletes the named entries even when the test fails.
struct Cleanup(OsKeychain, Vec<String>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for account in &self.1 {
            let _ = self.0.delete(account);
        }
    }
}

fn salt_account(user: &str) -> String {
    format!("vault-salt/v1/https://latchkey.example/{user}")
}

#[test]
fn the_os_keychain_stores_reads_and_deletes_a_salt() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(kc) = real_keychain() else { return };
    let account = format!("entry-{}", random_hex(4));
    let _cleanup = Cleanup(kc.clone(), vec![account.clone()]);
    let secret = random_hex(32).into_bytes();

    assert!(kc.get(&account).unwrap().is_none());
    kc.set(&account, &secret).unwrap();
    assert_eq!(kc.get(&account).unwrap().unwrap().expose(), &secret[..]);
    // A second handle (as after a restart) sees the same entry.
    let again = OsKeychain::new(kc.service());
    assert_eq!(again.get(&account).unwrap().unwrap().expose(), &secret[..]);
    assert!(kc.delete(&account).unwrap());
    assert!(kc.get(&account).unwrap().is_none());
    assert!(!kc.delete(&account).unwrap());
}

#[test]
fn the_os_keychain_takes_at_most_what_windows_credential_manager_takes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(kc) = real_keychain() else { return };
    let fits = format!("entry-{}", random_hex(4));
    let too_long = format!("entry-{}", random_hex(4));
    let _cleanup = Cleanup(kc.clone(), vec![fits.clone(), too_long.clone()]);

    kc.set(&fits, &[b'x'; latchkey_keychain::MAX_SECRET_LEN])
        .unwrap();
    let err = kc
        .set(&too_long, &[b'x'; latchkey_keychain::MAX_SECRET_LEN + 1])
        .unwrap_err();

    assert_eq!(err.code(), "keychain.rejected");
    assert!(kc.get(&too_long).unwrap().is_none());
    assert_eq!(
        kc.get(&fits).unwrap().unwrap().expose().len(),
        latchkey_keychain::MAX_SECRET_LEN
    );
}

#[test]
fn the_vault_story_on_the_real_keychain() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(kc) = real_keychain() else { return };
    let user = format!("ada-{}", random_hex(3));
    let _cleanup = Cleanup(kc.clone(), vec![salt_account(&user)]);
    let dir = tempfile::tempdir().unwrap();

    let vault = Vault::open(kc.clone(), identity(&user), dir.path()).unwrap();
    assert_eq!(vault.opening(), VaultOpening::Created);
    let key_id = vault.key_id();
    vault.store_tokens(&slot(), 1, &tokens("R1")).unwrap();
    drop(vault);

    let vault = Vault::open(OsKeychain::new(kc.service()), identity(&user), dir.path()).unwrap();
    assert_eq!(vault.opening(), VaultOpening::Existing);
    assert_eq!(vault.key_id(), key_id);
    let (_, loaded) = vault.load_tokens(&slot()).unwrap().unwrap();
    assert_eq!(loaded.access_token.expose(), "00D5g0000ACCESSR1!AQ4AQ");
    drop(vault);

    // The user (or a keychain cleaner) deletes the entry.
    assert!(kc.delete(&salt_account(&user)).unwrap());
    let err = Vault::open(kc.clone(), identity(&user), dir.path()).unwrap_err();
    assert_eq!(err.code(), "vault.salt_missing");
    assert!(err.to_string().contains(kc.describe()), "{err}");
    assert!(
        kc.get(&salt_account(&user)).unwrap().is_none(),
        "not regenerated"
    );

    let vault = Vault::reset(kc.clone(), identity(&user), dir.path()).unwrap();
    assert_ne!(vault.key_id(), key_id);
    assert!(vault.load_tokens(&slot()).unwrap().is_none());
    vault.forget().unwrap();
    assert!(kc.get(&salt_account(&user)).unwrap().is_none());
}

/// Collects formatted tracing output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn no_salt_or_token_reaches_a_file_or_a_log() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(kc) = real_keychain() else { return };
    let user = format!("scan-{}", random_hex(3));
    let _cleanup = Cleanup(kc.clone(), vec![salt_account(&user)]);
    let dir = tempfile::tempdir().unwrap();
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();

    let access = format!("ACCESS-{}", random_hex(16));
    let refresh = format!("REFRESH-{}", random_hex(16));
    tracing::subscriber::with_default(subscriber, || {
        let mut vault = Vault::open(kc.clone(), identity(&user), dir.path()).unwrap();
        let mut set = tokens("X");
        set.access_token = access.as_str().into();
        set.refresh_token = Some(refresh.as_str().into());
        for environment in ["production", "sandbox", "acme.my.salesforce.com"] {
            let slot = SlotId::new("salesforce", environment).unwrap();
            vault.store_tokens(&slot, 1, &set).unwrap();
            vault.load_tokens(&slot).unwrap().unwrap();
        }
        vault.lock();
        vault.unlock().unwrap();
        // An error path too: a missing salt is logged.
        kc.delete(&salt_account(&user)).unwrap();
        drop(vault);
        let _ = Vault::open(kc.clone(), identity(&user), dir.path());
        let vault = Vault::reset(kc.clone(), identity(&user), dir.path()).unwrap();
        vault.store_tokens(&slot(), 1, &set).unwrap();
    });
    let salt = kc
        .get(&salt_account(&user))
        .unwrap()
        .expect("salt after reset");
    assert_eq!(salt.len(), 32);

    let secrets: [(&str, &[u8]); 3] = [
        ("the salt", salt.expose()),
        ("the access token", access.as_bytes()),
        ("the refresh token", refresh.as_bytes()),
    ];
    assert_no_secret_in_files(dir.path(), &secrets);
    let logged = logs.0.lock().unwrap().clone();
    assert!(contains(&logged, b"vault created"), "logs were captured");
    for (name, secret) in secrets {
        for form in encodings(secret) {
            assert!(!contains(&logged, &form), "{name} found in the logs");
        }
    }

    // The self-check binary at full verbosity against the same keychain.
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey-vault"))
        .args(["--keychain-service", kc.service(), "--user", &user])
        .arg("--server")
        .arg("https://latchkey.example")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("selfcheck")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "selfcheck failed: {stdout}");
    assert!(stdout.contains("OK: the vault works"), "{stdout}");
    let all = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
    for form in encodings(salt.expose()) {
        assert!(
            !contains(&all, &form),
            "the salt was printed by the self-check"
        );
    }
    assert_no_secret_in_files(dir.path(), &secrets);
}

/// Linux and BSD only: it takes the D-Bus session away, and Windows' Credential Manager
/// and the macOS keychain are always there.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
#[test]
fn without_a_secret_service_the_error_is_keychain_unavailable_and_nothing_is_stored() {
    // No lock needed: this test never reaches a keychain.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey-vault"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--keychain-service", "latchkey-test-absent", "selfcheck"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error [keychain.unavailable]"), "{stderr}");
    assert!(
        stderr.contains(
            "The system keychain (Secret Service: GNOME Keyring or KWallet) is not available"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("never stores tokens without it"),
        "{stderr}"
    );
    let stored: Vec<_> = common::files_under(dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "lkc" || e == "json"))
        .collect();
    assert!(stored.is_empty(), "no plaintext fallback: {stored:?}");
}
