//! Vault benchmarks, each next to a baseline measured in the same run:
//! - key derivation vs. the bare `argon2` call with the same parameters;
//! - sealing / opening a typical Salesforce token set vs. the bare
//!   XChaCha20-Poly1305 operation on the same plaintext bytes;
//! - an atomic, fsynced cache write vs. a plain `fs::write` of the same bytes.
//!
//! `scripts/bench-vault.sh` runs this and writes `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_keychain::MemoryKeychain;
use latchkey_secret::SecretBytes;
use latchkey_vault::{KdfParams, SlotId, TokenSet, UserIdentity, Vault, VaultKey};

fn identity() -> UserIdentity {
    UserIdentity::new("https://latchkey.example", "005Dn000001bench").unwrap()
}

/// A realistic Salesforce token set (sizes as Salesforce issues them).
fn token_set() -> TokenSet {
    TokenSet {
        access_token: format!("00D5g000004bench!{}", "A".repeat(96)).into(),
        refresh_token: Some(format!("5Aep861{}", "R".repeat(80)).into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["api".into(), "refresh_token".into(), "openid".into()],
        expires_at: None,
        issued_at: 1_700_000_000,
        instance_url: Some("https://acme.my.salesforce.com".into()),
        extras: BTreeMap::from([
            (
                "id".into(),
                "https://login.salesforce.com/id/00D5g000004bench/005Dn000001bench".into(),
            ),
            (
                "signature".into(),
                "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=".into(),
            ),
        ]),
    }
}

fn kdf(c: &mut Criterion) {
    let mut group = c.benchmark_group("kdf");
    group.sample_size(20);
    let salt = SecretBytes::from_array([7u8; 32]);
    let p = KdfParams::CURRENT;
    group.bench_function("vault_key_derive", |b| {
        b.iter(|| VaultKey::derive(black_box(&salt), &identity(), p).unwrap())
    });
    group.bench_function("baseline_argon2id_same_params", |b| {
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32)).unwrap(),
        );
        b.iter(|| {
            let mut out = [0u8; 32];
            argon
                .hash_password_into(
                    b"latchkey/vault-key/v1 identity",
                    black_box(salt.expose()),
                    &mut out,
                )
                .unwrap();
            out
        })
    });
    group.finish();
}

fn seal_open(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(Arc::new(MemoryKeychain::new()), identity(), dir.path()).unwrap();
    let slot = SlotId::new("salesforce", "production").unwrap();
    let tokens = token_set();
    let sealed = vault.seal_tokens(&slot, 1, &tokens).unwrap();
    // The same number of plaintext bytes the vault encrypts.
    let plain_len = sealed.len() - latchkey_vault::envelope::MIN_LEN;
    let plain = vec![b'x'; plain_len];
    let cipher = XChaCha20Poly1305::new_from_slice(&[9u8; 32]).unwrap();
    let nonce = XNonce::from([3u8; 24]);
    let raw_ct = cipher.encrypt(&nonce, plain.as_slice()).unwrap();

    let mut group = c.benchmark_group("seal");
    group.bench_function("seal_token_set", |b| {
        b.iter(|| vault.seal_tokens(&slot, 1, black_box(&tokens)).unwrap())
    });
    group.bench_function("baseline_raw_aead_encrypt", |b| {
        b.iter(|| cipher.encrypt(&nonce, black_box(plain.as_slice())).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("open");
    group.bench_function("open_token_set", |b| {
        b.iter(|| vault.open_tokens(&slot, 1, black_box(&sealed)).unwrap())
    });
    group.bench_function("baseline_raw_aead_decrypt", |b| {
        b.iter(|| {
            cipher
                .decrypt(&nonce, black_box(raw_ct.as_slice()))
                .unwrap()
        })
    });
    group.finish();

    // On the real disk (the target dir), not tmpfs, so fsync costs what it costs.
    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cache = latchkey_vault::EnvelopeCache::new(disk.path().join("records"));
    let plain_file = disk.path().join("plain.bin");
    let mut group = c.benchmark_group("cache_write");
    group.sample_size(30);
    group.bench_function("atomic_fsynced_put", |b| {
        b.iter(|| cache.put(&slot, 1, black_box(&sealed)).unwrap())
    });
    group.bench_function("baseline_plain_fs_write", |b| {
        b.iter(|| std::fs::write(&plain_file, black_box(&sealed)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, kdf, seal_open);
criterion_main!(benches);
