//! The storage contract against a model: random sequences of record writes,
//! deletes and reads on a few slots, run on each backend, must agree with a
//! tiny in-memory model of compare-and-swap with monotonic versions. Any lost
//! update, reused version or wrong 412 shows up as a disagreement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Backend;
use latchkey_server::server::Opener;
use latchkey_server_database::{
    AppReport, AuditQuery, Database, DbError, Device, DeviceSlot, EnrollmentCode, ExcludedUser,
    Integration, Journal, NewAudit, NewChange, Precondition, Release, SlotKey, User,
};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Create { slot: usize, data: u8 },
    Update { slot: usize, guess: Guess, data: u8 },
    Delete { slot: usize, guess: Guess },
    Get { slot: usize },
}

/// Which version the client sends: the right one, or a stale or future one.
#[derive(Debug, Clone, Copy)]
enum Guess {
    Current,
    Stale,
    Future,
    One,
}

fn op() -> impl Strategy<Value = Op> {
    let guess = prop_oneof![
        Just(Guess::Current),
        Just(Guess::Stale),
        Just(Guess::Future),
        Just(Guess::One)
    ];
    prop_oneof![
        (0..3usize, any::<u8>()).prop_map(|(slot, data)| Op::Create { slot, data }),
        (0..3usize, guess.clone(), any::<u8>()).prop_map(|(slot, guess, data)| Op::Update {
            slot,
            guess,
            data
        }),
        (0..3usize, guess).prop_map(|(slot, guess)| Op::Delete { slot, guess }),
        (0..3usize).prop_map(|slot| Op::Get { slot }),
    ]
}

/// The model of one slot: its version counter and live envelope.
#[derive(Default, Clone)]
struct Model {
    version: i64,
    live: Option<Vec<u8>>,
}

fn journal(org: &str, user: &str) -> Journal {
    Journal {
        audit: NewAudit {
            org_id: org.into(),
            at: 0,
            actor_kind: "device".into(),
            actor_id: Some("d".into()),
            action: "record.test".into(),
            target: Some(user.into()),
            detail: "{}".into(),
        },
        changes: vec![NewChange {
            org_id: org.into(),
            user_id: Some(user.into()),
            kind: "connection.changed".into(),
            integration_id: Some("salesforce".into()),
            at: 0,
        }],
    }
}

async fn check(db: Arc<dyn Database>, org: String, case: u64, ops: Vec<Op>) {
    let user = format!("user-{case}");
    let j = journal(&org, &user);
    db.create_user(
        &User::new(
            user.clone(),
            org.clone(),
            format!("{user}@example.com"),
            "M".into(),
            0,
        ),
        &j,
    )
    .await
    .unwrap();
    let slot = |i: usize| SlotKey {
        user_id: user.clone(),
        vault_key_id: format!("vk{i}"),
        integration_id: "salesforce".into(),
        environment: "production".into(),
    };
    let mut model: HashMap<usize, Model> = HashMap::new();
    for (step, op) in ops.into_iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        match op {
            Op::Create { slot: s, data } => {
                let m = model.entry(s).or_default();
                let got = db
                    .put_record(&slot(s), &[data], "d", Precondition::Absent, 1, &j)
                    .await;
                match (&m.live, got) {
                    (None, Ok(r)) => {
                        m.version += 1;
                        m.live = Some(vec![data]);
                        assert_eq!(r.version, m.version, "{ctx}");
                    }
                    (Some(_), Err(DbError::VersionMismatch { current })) => {
                        assert_eq!(current, Some(m.version), "{ctx}")
                    }
                    (_, other) => panic!("{ctx}: got {:?}", other.map(|r| r.version)),
                }
            }
            Op::Update {
                slot: s,
                guess,
                data,
            } => {
                let m = model.entry(s).or_default();
                let v = pick(m.version, guess);
                let got = db
                    .put_record(&slot(s), &[data], "d", Precondition::Version(v), 1, &j)
                    .await;
                match got {
                    Ok(r) => {
                        assert!(
                            m.live.is_some() && v == m.version,
                            "{ctx}: update accepted against v{}",
                            m.version
                        );
                        m.version += 1;
                        m.live = Some(vec![data]);
                        assert_eq!(r.version, m.version, "{ctx}");
                    }
                    Err(DbError::VersionMismatch { current }) => {
                        assert!(
                            m.live.is_none() || v != m.version,
                            "{ctx}: a correct If-Match was refused"
                        );
                        assert_eq!(current, m.live.as_ref().map(|_| m.version), "{ctx}");
                    }
                    Err(e) => panic!("{ctx}: {e}"),
                }
            }
            Op::Delete { slot: s, guess } => {
                let m = model.entry(s).or_default();
                let v = pick(m.version, guess);
                match db.delete_record(&slot(s), v, "d", 1, &j).await {
                    Ok(tombstone) => {
                        assert!(m.live.is_some() && v == m.version, "{ctx}");
                        m.version += 1;
                        m.live = None;
                        assert_eq!(tombstone, m.version, "{ctx}");
                    }
                    Err(DbError::NotFound) => assert!(m.live.is_none(), "{ctx}"),
                    Err(DbError::VersionMismatch { current }) => {
                        assert!(m.live.is_some() && v != m.version, "{ctx}");
                        assert_eq!(current, Some(m.version), "{ctx}");
                    }
                    Err(e) => panic!("{ctx}: {e}"),
                }
            }
            Op::Get { slot: s } => {
                let m = model.entry(s).or_default();
                let got = db.get_record(&slot(s)).await.unwrap();
                match (&m.live, got) {
                    (None, None) => {}
                    (Some(data), Some(r)) => {
                        assert_eq!(&r.envelope, data, "{ctx}");
                        assert_eq!(r.version, m.version, "{ctx}");
                    }
                    (want, got) => panic!("{ctx}: want {want:?}, got {:?}", got.map(|r| r.version)),
                }
            }
        }
    }
}

fn pick(current: i64, guess: Guess) -> i64 {
    match guess {
        Guess::Current => current,
        Guess::Stale => current - 1,
        Guess::Future => current + 1,
        Guess::One => 1,
    }
}

fn run_model(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, org) = rt.block_on(async {
        let url = backend.fresh_database_url(dir.path()).await;
        let config = latchkey_server::Config::for_tests(dir.path(), url).unwrap();
        let db = latchkey_server::server::open_database(
            &config,
            latchkey_server::server::Opener::Command,
        )
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let org = db.ensure_org("org-model", "Model", 0).await.unwrap();
        (db, org.id)
    });
    // Each case gets its own user, so its slots start empty.
    let case = std::sync::atomic::AtomicU64::new(0);
    proptest!(ProptestConfig::with_cases(48), |(ops in proptest::collection::vec(op(), 1..40))| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(check(db.clone(), org.clone(), n, ops));
    });
    rt.block_on(db.close());
}

#[test]
fn sqlite_records_follow_the_cas_model() {
    run_model(Backend::Sqlite);
}

#[test]
fn postgres_records_follow_the_cas_model() {
    if let Some(backend) = Backend::postgres() {
        run_model(backend);
    }
}

fn user(org: &str, id: &str) -> User {
    User::new(
        id.into(),
        org.into(),
        format!("{id}@example.com"),
        id.into(),
        0,
    )
}

fn slot_of(user_id: &str, i: usize) -> SlotKey {
    SlotKey {
        user_id: user_id.into(),
        vault_key_id: format!("vk{i}"),
        integration_id: "salesforce".into(),
        environment: "production".into(),
    }
}

/// A fresh, migrated store in `dir` with one org and the user `user_id`;
/// returns the org's id and a journal for that user's writes.
async fn store_with_user(
    backend: &Backend,
    dir: &std::path::Path,
    user_id: &str,
) -> (Arc<dyn Database>, String, Journal) {
    store_opened_by(backend, dir, user_id, Opener::Command).await
}

/// [`store_with_user`], opened as `opener` would (on SQLite, only the serving
/// process keeps devices and integrations in memory).
async fn store_opened_by(
    backend: &Backend,
    dir: &std::path::Path,
    user_id: &str,
    opener: Opener,
) -> (Arc<dyn Database>, String, Journal) {
    let url = backend.fresh_database_url(dir).await;
    let config = latchkey_server::Config::for_tests(dir, url).unwrap();
    let db = latchkey_server::server::open_database(&config, opener)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let org = db.ensure_org("org-test", "Test", 0).await.unwrap().id;
    let j = journal(&org, user_id);
    db.create_user(&user(&org, user_id), &j).await.unwrap();
    (db, org, j)
}

/// Many writers at once, as the group-committing SQLite writer batches them:
/// 24 slots, three writers per slot racing from version 1. Exactly one wins
/// each slot, the others learn the live version, and each slot holds its
/// winner's envelope.
async fn racing_batches(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _org, j) = store_with_user(&backend, dir.path(), "racer").await;
    let slot = |i: usize| slot_of("racer", i);
    for i in 0..24 {
        db.put_record(&slot(i), b"v1", "d", Precondition::Absent, 1, &j)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for writer in 0..3u8 {
        for i in 0..24 {
            let db = db.clone();
            let j = j.clone();
            let s = slot(i);
            tasks.push(tokio::spawn(async move {
                let r = db
                    .put_record(&s, &[writer], "d", Precondition::Version(1), 2, &j)
                    .await;
                (i, writer, r)
            }));
        }
    }
    let mut winners = std::collections::HashMap::new();
    for t in tasks {
        let (i, writer, r) = t.await.unwrap();
        match r {
            Ok(record) => {
                assert_eq!(record.version, 2);
                assert!(
                    winners.insert(i, writer).is_none(),
                    "two winners on slot {i}"
                );
            }
            Err(DbError::VersionMismatch { current }) => assert_eq!(current, Some(2)),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(winners.len(), 24, "every slot has a winner");
    for (i, writer) in winners {
        let live = db.get_record(&slot(i)).await.unwrap().unwrap();
        assert_eq!((live.version, live.envelope), (2, vec![writer]));
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_racing_batches_have_one_winner_per_slot() {
    racing_batches(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_racing_batches_have_one_winner_per_slot() {
    if let Some(backend) = Backend::postgres() {
        racing_batches(backend).await;
    }
}

/// SQLite has one writer at a time, and record writes are committed by a
/// writer of their own: under a sustained record-write load, other writes
/// (here, creating users) still get their turn and succeed, and no record
/// write fails or is lost meanwhile.
async fn other_writes_under_record_load(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, org, j) = store_with_user(&backend, dir.path(), "loader").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for i in 0..16 {
        let (db, j, stop, written) = (db.clone(), j.clone(), stop.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            let slot = slot_of("loader", i);
            let mut version = db
                .put_record(&slot, &0i64.to_be_bytes(), "d", Precondition::Absent, 1, &j)
                .await
                .unwrap()
                .version;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = db
                    .put_record(
                        &slot,
                        &version.to_be_bytes(),
                        "d",
                        Precondition::Version(version),
                        2,
                        &j,
                    )
                    .await
                    .unwrap_or_else(|e| {
                        panic!("record write {i} at version {version} failed: {e}")
                    });
                assert_eq!(r.version, version + 1);
                version = r.version;
                written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (slot, version)
        }));
    }
    // Wait until the load is really on before the other writes start.
    while written.load(std::sync::atomic::Ordering::Relaxed) < 200 {
        tokio::task::yield_now().await;
    }
    let before = written.load(std::sync::atomic::Ordering::Relaxed);
    for n in 0..20 {
        db.create_user(&user(&org, &format!("u{n}")), &j)
            .await
            .unwrap_or_else(|e| panic!("creating user {n} under record load failed: {e}"));
    }
    let during = written.load(std::sync::atomic::Ordering::Relaxed) - before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let (slot, version) = w.await.unwrap();
        let live = db.get_record(&slot).await.unwrap().unwrap();
        assert_eq!(live.version, version);
        assert_eq!(live.envelope, (version - 1).to_be_bytes());
    }
    assert!(
        during > 0,
        "record writes went on while the users were created"
    );
    assert_eq!(db.list_users(&org).await.unwrap().len(), 21);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_other_writes_get_their_turn_under_record_load() {
    other_writes_under_record_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_other_writes_get_their_turn_under_record_load() {
    if let Some(backend) = Backend::postgres() {
        other_writes_under_record_load(backend).await;
    }
}

/// Narrowing an integration's allow-list revokes, with the save itself, the
/// records of the users it leaves out; only a user who had records is journalled.
async fn allow_list_revokes_with_the_save(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, org, j) = store_with_user(&backend, dir.path(), "kept").await;
    for id in ["dropped", "idle"] {
        db.create_user(&user(&org, id), &j).await.unwrap();
    }
    let mut integration = Integration {
        org_id: org.clone(),
        id: "salesforce".into(),
        provider: "salesforce".into(),
        display_name: None,
        enabled: true,
        environment: "production".into(),
        client_id: Some("client".into()),
        client_secret_sealed: None,
        scopes: vec![],
        params: Default::default(),
        allowed_users: None,
        allowed_groups: None,
        api_key_sealed: None,
        api_base_url: None,
        api_paths: vec![],
        api_key_header: None,
        redirect_host: "127.0.0.1".into(),
        default_widgets: None,
        created_at: 0,
        updated_at: 0,
        asked_at_connect: Vec::new(),
        org_wide: false,
        require_customize_application: false,
    };
    db.put_integration(&integration, &j).await.unwrap();
    for id in ["kept", "dropped"] {
        db.put_record(&slot_of(id, 0), b"sealed", "d", Precondition::Absent, 1, &j)
            .await
            .unwrap();
    }
    integration.allowed_users = Some(vec!["kept".into()]);
    let excluded: Vec<ExcludedUser> = ["dropped", "idle"]
        .into_iter()
        .map(|id| {
            let mut journal = journal(&org, id);
            journal.audit.action = "connection.disconnect".into();
            ExcludedUser {
                user_id: id.into(),
                journal,
            }
        })
        .collect();
    let revoked = db
        .put_integration_excluding(&integration, &j, &excluded)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(
        db.get_record(&slot_of("dropped", 0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.admin_revoked(&slot_of("dropped", 0)).await.unwrap());
    assert!(db.get_record(&slot_of("kept", 0)).await.unwrap().is_some());
    let saved = db
        .get_integration(&org, "salesforce")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.allowed_users, Some(vec!["kept".to_owned()]));
    let query = AuditQuery {
        limit: 10,
        action: Some("connection.disconnect".into()),
        ..AuditQuery::default()
    };
    let disconnects = db.list_audit(&org, &query).await.unwrap();
    let targets: Vec<_> = disconnects.iter().map(|e| e.target.clone()).collect();
    assert_eq!(targets, vec![Some("dropped".to_owned())]);
    db.close().await;
}

#[tokio::test]
async fn sqlite_allow_list_revokes_with_the_save() {
    allow_list_revokes_with_the_save(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_allow_list_revokes_with_the_save() {
    if let Some(backend) = Backend::postgres() {
        allow_list_revokes_with_the_save(backend).await;
    }
}

fn release(org: &str, id: &str, version: &str, channel: &str) -> Release {
    Release {
        id: id.into(),
        org_id: org.into(),
        version: version.into(),
        target: "linux".into(),
        arch: "x86_64".into(),
        channel: channel.into(),
        notes: format!("notes {version}"),
        signature: "c2ln".into(),
        size: 3,
        sha256: "ab".repeat(32),
        created_at: version.len() as i64,
        withdrawn_at: None,
    }
}

/// Releases and a device's update channel and app report, as stored: an artifact comes
/// back byte for byte until its release is withdrawn; one live release per version,
/// platform and channel; moving and withdrawing keep the rest of the row.
async fn releases_round_trip(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, org, j) = store_with_user(&backend, dir.path(), "ada").await;
    let beta = release(&org, "r1", "0.2.0-beta.1", "beta");
    let stable = release(&org, "r2", "0.1.0", "stable");
    db.create_release(&beta, &[0, 1, 255], &j).await.unwrap();
    db.create_release(&stable, b"one", &j).await.unwrap();
    let duplicate = release(&org, "r3", "0.1.0", "stable");
    assert!(matches!(
        db.create_release(&duplicate, b"dup", &j).await,
        Err(DbError::AlreadyExists(_))
    ));
    let listed = db.list_releases(&org).await.unwrap();
    assert_eq!(listed, vec![beta.clone(), stable.clone()], "newest first");
    assert_eq!(
        db.release_artifact(&org, "r1").await.unwrap(),
        Some(vec![0, 1, 255])
    );
    assert_eq!(
        db.offered_releases(&org, "linux", "x86_64", "stable")
            .await
            .unwrap(),
        vec![stable.clone()]
    );
    assert!(
        db.offered_releases(&org, "windows", "x86_64", "beta")
            .await
            .unwrap()
            .is_empty()
    );

    // Promote: the same row on another channel; a clash with a live one is refused.
    let moved = db
        .set_release_channel(&org, "r1", "stable", &j)
        .await
        .unwrap();
    assert_eq!(moved.channel, "stable");
    assert_eq!(moved.version, beta.version);
    db.create_release(&release(&org, "r4", "0.1.0", "beta"), b"b", &j)
        .await
        .unwrap();
    assert!(matches!(
        db.set_release_channel(&org, "r4", "stable", &j).await,
        Err(DbError::AlreadyExists(_))
    ));
    assert_eq!(
        db.offered_releases(&org, "linux", "x86_64", "stable")
            .await
            .unwrap()
            .len(),
        2
    );

    // Withdraw: not offered, not served, not movable; the first time is kept; the slot
    // is free for a new upload.
    let gone = db.withdraw_release(&org, "r2", 50, &j).await.unwrap();
    assert_eq!(gone.withdrawn_at, Some(50));
    let again = db.withdraw_release(&org, "r2", 60, &j).await.unwrap();
    assert_eq!(again.withdrawn_at, Some(50));
    assert_eq!(db.release_artifact(&org, "r2").await.unwrap(), None);
    assert!(matches!(
        db.set_release_channel(&org, "r2", "beta", &j).await,
        Err(DbError::NotFound)
    ));
    let offered = db
        .offered_releases(&org, "linux", "x86_64", "stable")
        .await
        .unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].id, "r1");
    db.create_release(&release(&org, "r5", "0.1.0", "stable"), b"new", &j)
        .await
        .unwrap();
    assert!(matches!(
        db.withdraw_release(&org, "nope", 1, &j).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(
        db.release_by_id(&org, "r2")
            .await
            .unwrap()
            .unwrap()
            .withdrawn_at,
        Some(50)
    );
    assert_eq!(db.release_by_id("other-org", "r1").await.unwrap(), None);

    // A device starts on stable with no app report; both are stored and read back,
    // through the token lookup too.
    let code = EnrollmentCode {
        id: "c1".into(),
        org_id: org.clone(),
        user_id: "ada".into(),
        code_hash: vec![7; 32],
        created_at: 0,
        expires_at: i64::MAX,
    };
    db.insert_enrollment_code(&code).await.unwrap();
    let device = Device {
        id: "d1".into(),
        org_id: org.clone(),
        user_id: String::new(),
        name: "laptop".into(),
        token_hash: vec![9; 32],
        created_at: 0,
        last_seen_at: None,
        revoked_at: None,
        update_channel: "stable".into(),
        app: None,
    };
    db.redeem_enrollment_code(&code.code_hash, 1, &device, &j)
        .await
        .unwrap();
    let (fresh, _) = db
        .device_and_user_by_token_hash(&device.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((fresh.update_channel.as_str(), fresh.app), ("stable", None));
    let report = AppReport {
        version: "0.1.0".into(),
        target: "linux".into(),
        arch: "x86_64".into(),
        seen_at: 42,
    };
    db.record_device_app("d1", &report).await.unwrap();
    let on_beta = db
        .set_device_update_channel(&org, "d1", "beta", &j)
        .await
        .unwrap();
    assert_eq!(on_beta.update_channel, "beta");
    assert_eq!(on_beta.app, Some(report.clone()));
    let (looked_up, _) = db
        .device_and_user_by_token_hash(&device.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(looked_up.update_channel, "beta", "no stale cached channel");
    assert_eq!(looked_up.app, Some(report));
    assert!(matches!(
        db.set_device_update_channel(&org, "nope", "beta", &j).await,
        Err(DbError::NotFound)
    ));
    db.close().await;
}

#[tokio::test]
async fn sqlite_releases_round_trip() {
    releases_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_releases_round_trip() {
    if let Some(backend) = Backend::postgres() {
        releases_round_trip(backend).await;
    }
}

/// The first migration of named connections: what a database below it holds is
/// what the release before named connections wrote.
const NAMED_CONNECTIONS: i64 = 20261130000013;

/// Runs `backend`'s migrations older than `before` on the empty database at `url`,
/// as the release that shipped them did.
async fn migrate_as_an_older_release(backend: &Backend, url: &str, before: i64) {
    let crate_dir = match backend {
        Backend::Sqlite => "server-sqlite",
        Backend::Postgres(_) => "server-postgres",
    };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("migrations");
    let older = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version < before {
            std::fs::copy(&path, older.path().join(&name)).unwrap();
            copied += 1;
        }
    }
    assert!(
        copied > 10,
        "found the older migrations in {}",
        all.display()
    );
    let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
    match backend {
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres(_) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// A database written by the release before named connections opens without a
/// reconnect: its one configuration per provider becomes that provider's first
/// connection under the same id, and the users' sealed records stay where they were.
async fn named_connections_migrate_an_older_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(dir.path()).await.unwrap();
    migrate_as_an_older_release(&backend, &url, NAMED_CONNECTIONS).await;
    let config = latchkey_server::Config::for_tests(dir.path(), Some(url.clone())).unwrap();
    let db =
        latchkey_server::server::open_database(&config, latchkey_server::server::Opener::Command)
            .await
            .unwrap();
    // The older schema's org, user, integration and record (none of these statements
    // touch what the migration changes).
    let org = db.ensure_org("org-old", "Old", 0).await.unwrap().id;
    let j = journal(&org, "ada");
    db.create_user(&user(&org, "ada"), &j).await.unwrap();
    // What that release stored for its one Salesforce configuration.
    let insert = "INSERT INTO integrations (org_id, id, enabled, environment, client_id, scopes, created_at, updated_at) \
                  VALUES ($1, 'salesforce', TRUE, 'sandbox', 'cid', '[\"api\"]', 1, 2)";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(insert).bind(&org).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres(_) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(insert).bind(&org).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    let slot = SlotKey {
        user_id: "ada".into(),
        vault_key_id: "vk1".into(),
        integration_id: "salesforce".into(),
        environment: "sandbox".into(),
    };
    db.put_record(&slot, b"sealed before", "d1", Precondition::Absent, 3, &j)
        .await
        .unwrap();
    db.close().await;

    // The new release opens it and migrates first, as the server does at start.
    let db =
        latchkey_server::server::open_database(&config, latchkey_server::server::Opener::Command)
            .await
            .unwrap();
    db.migrate().await.unwrap();
    let i = db
        .get_integration(&org, "salesforce")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.provider, "salesforce");
    assert_eq!(i.display_name, None);
    assert_eq!(i.environment, "sandbox");
    assert_eq!(i.client_id.as_deref(), Some("cid"));
    let record = db.get_record(&slot).await.unwrap().unwrap();
    assert_eq!(record.envelope, b"sealed before");
    assert_eq!(record.version, 1);
    // A second connection of the provider fits beside it; the same system twice does not.
    let mut uat = i.clone();
    uat.id = "salesforce-uat".into();
    let saved = db.put_integration_excluding(&uat, &j, &[]).await;
    assert!(
        matches!(saved, Err(DbError::AlreadyExists(_))),
        "{:?}",
        saved.err()
    );
    uat.environment = "uat.sandbox.my.salesforce.com".into();
    uat.display_name = Some("Salesforce — UAT".into());
    db.put_integration_excluding(&uat, &j, &[]).await.unwrap();
    let listed: Vec<(String, String, Option<String>)> = db
        .list_integrations(&org)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.provider, i.display_name))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("salesforce".into(), "salesforce".into(), None),
            (
                "salesforce-uat".into(),
                "salesforce".into(),
                Some("Salesforce — UAT".into())
            ),
        ]
    );
    db.close().await;
}

#[tokio::test]
async fn sqlite_named_connections_migrate_an_older_database() {
    named_connections_migrate_an_older_database(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_named_connections_migrate_an_older_database() {
    if let Some(backend) = Backend::postgres() {
        named_connections_migrate_an_older_database(backend).await;
    }
}

/// A device enrolled for `user_id` in `org`, with the token hash `[tag; 32]`.
async fn enroll(db: &Arc<dyn Database>, org: &str, user_id: &str, tag: u8, j: &Journal) -> Device {
    let code = EnrollmentCode {
        id: format!("code-{tag}"),
        org_id: org.into(),
        user_id: user_id.into(),
        code_hash: vec![tag ^ 0xff; 32],
        created_at: 0,
        expires_at: i64::MAX,
    };
    db.insert_enrollment_code(&code).await.unwrap();
    let device = Device {
        id: format!("device-{tag}"),
        org_id: org.into(),
        user_id: String::new(),
        name: "laptop".into(),
        token_hash: vec![tag; 32],
        created_at: 0,
        last_seen_at: None,
        revoked_at: None,
        update_channel: "stable".into(),
        app: None,
    };
    db.redeem_enrollment_code(&code.code_hash, 1, &device, j)
        .await
        .unwrap()
        .0
}

/// The lookups a record GET and PUT authenticate with: the device with its user's
/// record (never another user's, none for a revoked device), and the device with
/// an integration (as it is now, disabled too).
async fn device_lookups_carry_the_record_and_the_integration(backend: Backend, opener: Opener) {
    let dir = tempfile::tempdir().unwrap();
    let (db, org, j) = store_opened_by(&backend, dir.path(), "ada", opener).await;
    db.create_user(&user(&org, "bob"), &j).await.unwrap();
    let ada = enroll(&db, &org, "ada", 1, &j).await;
    let bob = enroll(&db, &org, "bob", 2, &j).await;
    let mut integration = Integration {
        org_id: org.clone(),
        id: "salesforce".into(),
        provider: "salesforce".into(),
        display_name: None,
        enabled: true,
        environment: "production".into(),
        client_id: Some("client".into()),
        client_secret_sealed: None,
        scopes: vec!["api".into()],
        params: Default::default(),
        allowed_users: Some(vec!["ada".into()]),
        allowed_groups: None,
        api_key_sealed: None,
        api_base_url: None,
        api_paths: vec![],
        api_key_header: None,
        redirect_host: "127.0.0.1".into(),
        default_widgets: None,
        created_at: 0,
        updated_at: 0,
        asked_at_connect: Vec::new(),
        org_wide: false,
        require_customize_application: false,
    };
    db.put_integration(&integration, &j).await.unwrap();
    for (id, envelope) in [("ada", b"ada's"), ("bob", b"bob's")] {
        db.put_record(&slot_of(id, 0), envelope, "d", Precondition::Absent, 1, &j)
            .await
            .unwrap();
    }
    let named = DeviceSlot {
        vault_key_id: "vk0".into(),
        integration_id: "salesforce".into(),
        environment: "production".into(),
    };
    // The user comes from the token: the same slot name reads each one's own record.
    for (device, envelope) in [(&ada, b"ada's"), (&bob, b"bob's")] {
        let (found, owner, record) = db
            .device_and_record(&device.token_hash, &named)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id.as_str(), owner.id.as_str()),
            (device.id.as_str(), device.user_id.as_str())
        );
        let record = record.unwrap();
        assert_eq!(record.slot, slot_of(&device.user_id, 0));
        assert_eq!(record.envelope, envelope);
        assert_eq!(record.version, 1);
    }
    let empty = DeviceSlot {
        vault_key_id: "vk1".into(),
        ..named.clone()
    };
    let (_, _, none) = db
        .device_and_record(&ada.token_hash, &empty)
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_none());
    assert!(
        db.device_and_record(&[3; 32], &named)
            .await
            .unwrap()
            .is_none()
    );

    let (found, _, configured) = db
        .device_and_integration(&ada.token_hash, &org, "salesforce")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ada.id);
    let configured = configured.unwrap();
    assert!(configured.enabled);
    assert_eq!(configured.allowed_users, Some(vec!["ada".to_owned()]));
    assert_eq!(configured.scopes, vec!["api".to_owned()]);
    let (_, _, absent) = db
        .device_and_integration(&ada.token_hash, &org, "github")
        .await
        .unwrap()
        .unwrap();
    assert!(absent.is_none());
    let (_, _, elsewhere) = db
        .device_and_integration(&ada.token_hash, "another-org", "salesforce")
        .await
        .unwrap()
        .unwrap();
    assert!(elsewhere.is_none());
    assert!(
        db.device_and_integration(&[3; 32], &org, "salesforce")
            .await
            .unwrap()
            .is_none()
    );
    integration.enabled = false;
    db.put_integration(&integration, &j).await.unwrap();
    let (_, _, disabled) = db
        .device_and_integration(&bob.token_hash, &org, "salesforce")
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.unwrap().enabled);

    // A revoked device is still found (the caller refuses it), without the record.
    db.put_record(
        &slot_of("ada", 1),
        b"again",
        "d",
        Precondition::Absent,
        2,
        &j,
    )
    .await
    .unwrap();
    db.revoke_device(&org, &ada.id, 3, &j).await.unwrap();
    let (revoked, _, record) = db
        .device_and_record(&ada.token_hash, &empty)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(3));
    assert!(
        record.is_none(),
        "a revoked device's lookup carried a record"
    );
    db.close().await;
}

#[tokio::test]
async fn sqlite_device_lookups_carry_the_record_and_the_integration() {
    // One statement (a command's connection) and the serving process's
    // in-memory device lookup followed by the read.
    for opener in [Opener::Command, Opener::Server] {
        device_lookups_carry_the_record_and_the_integration(Backend::Sqlite, opener).await;
    }
}

#[tokio::test]
async fn postgres_device_lookups_carry_the_record_and_the_integration() {
    if let Some(backend) = Backend::postgres() {
        device_lookups_carry_the_record_and_the_integration(backend, Opener::Server).await;
    }
}
