//! Crash safety of the local cache: a writer process is killed with SIGKILL
//! at random moments while it rewrites a record; afterwards the record must
//! be one complete version, never a torn mix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use latchkey_vault::{EnvelopeCache, SlotId};

const WRITER_ENV: &str = "LATCHKEY_TEST_CRASH_WRITER_DIR";
const PAYLOAD: usize = 48 * 1024;

fn slot() -> SlotId {
    SlotId::new("salesforce", "production").unwrap()
}

/// Version `v`'s payload: every byte derived from `v`, so a torn file shows.
fn payload(version: u64) -> Vec<u8> {
    (0..PAYLOAD)
        .map(|i| (version as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

#[test]
fn a_kill_during_writes_leaves_a_complete_version() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        // Child: rewrite the record forever, announcing each finished write.
        let cache = EnvelopeCache::new(dir);
        let start = cache.get(&slot()).unwrap().map_or(1, |r| r.version + 1);
        for version in start.. {
            cache.put(&slot(), version, &payload(version)).unwrap();
            println!("wrote {version}");
        }
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let mut last_acknowledged = 0u64;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_kill_during_writes_leaves_a_complete_version",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it finish a few writes, then kill it at a varying moment.
        let target = 3 + round * 2;
        let mut seen = 0;
        while seen < target {
            let line = lines.next().expect("writer died early").unwrap();
            if let Some(v) = line.strip_prefix("wrote ") {
                last_acknowledged = v.parse().unwrap();
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(300 * round));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let cache = EnvelopeCache::new(dir.path());
        let record = cache.get(&slot()).unwrap().expect("a record survives");
        assert!(
            record.version >= last_acknowledged,
            "round {round}: acknowledged {last_acknowledged} but found {}",
            record.version
        );
        assert_eq!(
            record.envelope,
            payload(record.version),
            "round {round}: torn write"
        );
        assert_eq!(cache.list().unwrap(), vec![(slot(), record.version)]);
    }
}
