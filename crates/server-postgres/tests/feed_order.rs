//! The change feed's order on PostgreSQL, where writers append concurrently
//! (no lock): a feed that resumes after the last `seq` it saw must still get
//! every change exactly once, including one whose transaction commits after a
//! later `seq` was already served. Run through
//! `scripts/with-postgres.sh cargo test -p latchkey-server-postgres`; without
//! `LATCHKEY_TEST_POSTGRES_URL` the tests skip locally and fail under CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_server_database::sql::INSERT_CHANGE;
use latchkey_server_database::{
    Database, Journal, NewAudit, NewChange, Precondition, SlotKey, User,
};
use latchkey_server_postgres::PostgresDatabase;
use sqlx::postgres::PgPool;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ORG: &str = "org-feed";
const ADA: &str = "user-ada";
const BOB: &str = "user-bob";

/// A fresh database in the test cluster, migrated, with one org and two users.
async fn fresh() -> Option<(PostgresDatabase, String)> {
    let base = match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "LATCHKEY_TEST_POSTGRES_URL is unset under CI: run through scripts/with-postgres.sh"
            );
            eprintln!("NOTICE: skipping a PostgreSQL test: LATCHKEY_TEST_POSTGRES_URL is unset");
            return None;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("lk_feed_{}_{nanos}", std::process::id());
    let admin = PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let db = PostgresDatabase::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    db.ensure_org(ORG, "Feed", 1).await.unwrap();
    for id in [ADA, BOB] {
        let user = User {
            id: id.into(),
            org_id: ORG.into(),
            email: format!("{id}@example.com"),
            display_name: id.into(),
            created_at: 1,
            external_id: None,
            active: true,
            provisioned_by: None,
            scim_profile: None,
            updated_at: 1,
        };
        db.create_user(&user, &journal(None, "user.created"))
            .await
            .unwrap();
    }
    Some((db, url))
}

/// A journal with one change for `user` (`None`: every user of the org).
fn journal(user: Option<&str>, kind: &str) -> Journal {
    Journal {
        audit: NewAudit {
            org_id: ORG.into(),
            at: 1,
            actor_kind: "system".into(),
            actor_id: None,
            action: kind.into(),
            target: None,
            detail: "{}".into(),
        },
        changes: vec![NewChange {
            org_id: ORG.into(),
            user_id: user.map(str::to_owned),
            kind: kind.into(),
            integration_id: Some("salesforce".into()),
            at: 1,
        }],
    }
}

/// Appends a change in a transaction of its own that stays open for `hold`
/// before it commits, as a slow admin write would.
async fn slow_append(pool: &PgPool, user: Option<&str>, hold: Duration) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(INSERT_CHANGE)
        .bind(ORG)
        .bind(user)
        .bind("slow.change")
        .bind(None::<&str>)
        .bind(1_i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    tokio::time::sleep(hold).await;
    tx.commit().await.unwrap();
}

/// Every seq Ada's feed may be served, read straight from the table.
async fn all_of_ada(pool: &PgPool) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>(
        "SELECT seq FROM changes WHERE org_id = $1 AND (user_id IS NULL OR user_id = $2)",
    )
    .bind(ORG)
    .bind(ADA)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Follows Ada's feed from `cursor` as the server's feed does, asserting that
/// the cursor only moves forward and no seq comes twice.
async fn follow(db: &PostgresDatabase, cursor: &mut i64, seen: &mut BTreeSet<i64>) {
    for c in db.changes_since(ORG, ADA, *cursor, 50).await.unwrap() {
        assert!(
            c.seq > *cursor,
            "seq {} served after cursor {}",
            c.seq,
            *cursor
        );
        assert!(seen.insert(c.seq), "seq {} served twice", c.seq);
        *cursor = c.seq;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_committed_after_a_later_one_is_still_served() {
    let Some((db, url)) = fresh().await else {
        return;
    };
    let raw = PgPool::connect(&url).await.unwrap();
    let start = db.latest_change_seq(ORG).await.unwrap();

    // A slow transaction appends first and commits last.
    let slow = {
        let raw = raw.clone();
        tokio::spawn(async move { slow_append(&raw, Some(ADA), Duration::from_millis(600)).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let slot = SlotKey {
        user_id: ADA.into(),
        vault_key_id: "vk".into(),
        integration_id: "salesforce".into(),
        environment: "production".into(),
    };
    db.put_record(
        &slot,
        b"sealed",
        "device",
        Precondition::Absent,
        2,
        &journal(Some(ADA), "connection.changed"),
    )
    .await
    .unwrap();

    // Read while the slow one is still open, then subscribe "from now".
    let mut cursor = start;
    let mut seen = BTreeSet::new();
    follow(&db, &mut cursor, &mut seen).await;
    let from_now = db.latest_change_seq(ORG).await.unwrap();
    slow.await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let all = all_of_ada(&raw).await;
    let after_start: BTreeSet<i64> = all.iter().copied().filter(|s| *s > start).collect();
    let ours: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM changes WHERE kind IN ('slow.change', 'connection.changed') ORDER BY seq",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    assert_eq!(ours.len(), 2, "the slow change and the record's");
    assert!(
        ours.iter().all(|s| after_start.contains(s)),
        "both were written after the feed started"
    );
    while seen != after_start && Instant::now() < deadline {
        follow(&db, &mut cursor, &mut seen).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, after_start, "the feed missed a change");

    // A feed that subscribed while the slow transaction was open gets its change.
    let slow_seq =
        sqlx::query_scalar::<_, i64>("SELECT seq FROM changes WHERE kind = 'slow.change'")
            .fetch_one(&raw)
            .await
            .unwrap();
    let mut late_cursor = from_now;
    let mut late = BTreeSet::new();
    while !late.contains(&slow_seq) && Instant::now() < deadline {
        follow(&db, &mut late_cursor, &mut late).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        late.contains(&slow_seq),
        "a feed that started while the slow change was open never got it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_reach_a_feed_exactly_once_in_order() {
    let Some((db, url)) = fresh().await else {
        return;
    };
    let db = Arc::new(db);
    let raw = PgPool::connect(&url).await.unwrap();
    let start = db.latest_change_seq(ORG).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));

    // The feed reader polls all the while.
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = BTreeSet::new();
            while !done.load(Ordering::SeqCst) {
                follow(&db, &mut cursor, &mut seen).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (cursor, seen)
        })
    };

    // Record writers (the hot path, one slot each, Ada's and Bob's), org-wide
    // changes, and slow transactions, all at once.
    let mut writers = Vec::new();
    for w in 0..12_usize {
        let db = db.clone();
        writers.push(tokio::spawn(async move {
            let user = if w % 3 == 0 { BOB } else { ADA };
            let slot = SlotKey {
                user_id: user.into(),
                vault_key_id: format!("vk{w}"),
                integration_id: "salesforce".into(),
                environment: "production".into(),
            };
            let mut pre = Precondition::Absent;
            for n in 0..40 {
                let written = db
                    .put_record(
                        &slot,
                        b"sealed",
                        "device",
                        pre,
                        n,
                        &journal(Some(user), "connection.changed"),
                    )
                    .await
                    .unwrap();
                pre = Precondition::Version(written.version);
            }
        }));
    }
    for w in 0..3_u64 {
        let raw = raw.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..8 {
                let user = if n % 2 == 0 { None } else { Some(ADA) };
                slow_append(&raw, user, Duration::from_millis(10 + 7 * w + n)).await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (mut cursor, mut seen) = reader.await.unwrap();

    let written: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM changes WHERE (user_id IS NULL OR user_id = $1) \
         AND kind IN ('connection.changed', 'slow.change')",
    )
    .bind(ADA)
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!(written, 8 * 40 + 3 * 8, "every write added one change");
    // What the last commits added reaches the feed once every older transaction
    // in the cluster (other tests' too) has finished.
    let expected: BTreeSet<i64> = all_of_ada(&raw)
        .await
        .into_iter()
        .filter(|s| *s > start)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.is_superset(&expected) && Instant::now() < deadline {
        follow(&db, &mut cursor, &mut seen).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let missed: Vec<_> = expected.difference(&seen).collect();
    assert!(missed.is_empty(), "the feed missed {missed:?}");
    assert_eq!(seen, expected);
}
