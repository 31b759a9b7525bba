//! Salesforce's five approvals per user per app, end to end with the real `latchkey`
//! binary: six computers of one user connect the same connection against oidc-provider
//! told to evict the oldest of five grants (as Salesforce silently does), the real
//! Latchkey server (SQLite), headless Chromium as the system browser and the OS
//! keychain. The sixth is asked first, and the computer it signs out says why.
//!
//! Six computers, not six data dirs on one: a vault key is per user and machine (its
//! salt lives in the machine's keychain), so each computer here gets its own D-Bus
//! session and gnome-keyring, stopped by process id when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use latchkey_test_peers::{AuthServer, TestStore, browser_script, peers_ready};
use serde_json::Value;

mod common;
use common::text;

const CONNECTION: &str = "demo-salesforce";

/// One computer: its data dir and its own keychain (a private D-Bus session bus with
/// gnome-keyring unlocked on it, its keyrings in the computer's own folder).
struct Computer {
    home: tempfile::TempDir,
    _keyrings: tempfile::TempDir,
    bus: String,
    keyring: Child,
    dbus: Child,
}

impl Computer {
    fn start() -> Computer {
        let home = tempfile::tempdir().unwrap();
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (scripts/install-deps.sh)");
        let mut bus = String::new();
        BufReader::new(dbus.stdout.take().unwrap())
            .read_line(&mut bus)
            .unwrap();
        let bus = bus.trim().to_owned();
        let keyrings = tempfile::tempdir().unwrap();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .env("XDG_DATA_HOME", keyrings.path())
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (scripts/install-deps.sh)");
        // The password only protects this throwaway keyring.
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"latchkey-test-computer").unwrap();
        drop(stdin);
        let computer = Computer {
            home,
            _keyrings: keyrings,
            bus,
            keyring,
            dbus,
        };
        computer.wait_for_secret_service();
        computer
    }

    fn wait_for_secret_service(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("gnome-keyring did not come up on {}", self.bus);
    }

    fn data(&self) -> &Path {
        self.home.path()
    }

    /// Runs `latchkey --data-dir DATA ARGS…` on this computer, with the peers' Chromium
    /// as its browser.
    fn latchkey(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("BROWSER", browser_script())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env_remove("DISPLAY")
            .output()
            .unwrap()
    }
}

impl Drop for Computer {
    fn drop(&mut self) {
        for child in [&mut self.keyring, &mut self.dbus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn token(computer: &Computer, refresh: bool) -> Output {
    let mut args = vec!["token", CONNECTION];
    if refresh {
        args.push("--refresh");
    }
    computer.latchkey(&args)
}

fn connect(computer: &Computer, yes: bool) -> Output {
    let mut args = vec!["connect", CONNECTION, "--timeout", "60"];
    if yes {
        args.push("--yes");
    }
    computer.latchkey(&args)
}

fn status_of(computer: &Computer) -> Value {
    let out = computer.latchkey(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    status["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == CONNECTION)
        .unwrap()["status"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sixth_computer_is_asked_first_and_the_one_it_signs_out_says_why() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let provider = AuthServer::start_salesforce(3600);
    provider.evict_oldest_after(5).await;
    let store = TestStore::start().await;
    store
        .enable_demo(CONNECTION, &provider.issuer, "latchkey-static")
        .await;

    // Ada enrolls six computers, each with its own data dir, vault key and name.
    let (first_link, user_id) = store.invite("ada@acme.example").await;
    let homes: Vec<Computer> = (0..6).map(|_| Computer::start()).collect();
    for (n, home) in homes.iter().enumerate() {
        let link = if n == 0 {
            first_link.clone()
        } else {
            let fresh = store
                .admin(
                    reqwest::Method::POST,
                    &format!("/v1/admin/users/{user_id}/enrollment"),
                    None,
                )
                .await;
            fresh["enrollment"]["link"].as_str().unwrap().to_owned()
        };
        let name = format!("Computer {}", n + 1);
        let out = home.latchkey(&["enroll", &link, "--device-name", &name]);
        assert!(out.status.success(), "{name}: {}", text(&out));
    }

    // Five computers connect: under the limit, nobody is asked and everyone stays in.
    for home in &homes[..5] {
        let out = connect(home, false);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(provider.evicted_grants().await, 0);
    let first_token = String::from_utf8(token(&homes[0], false).stdout).unwrap();
    assert!(provider.active("latchkey-static", first_token.trim()).await);

    // The sixth would sign the first out: refused before the browser opens, naming it.
    let authorizations = provider.stats().await["authorization"].as_u64().unwrap();
    let sixth = &homes[5];
    let out = connect(sixth, false);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("[connect.approval_limit]"), "{said}");
    assert!(
        said.contains("here signs out Computer 1 (connected "),
        "{said}"
    );
    assert!(said.contains("five sign-ins"), "{said}");
    assert!(said.contains("--yes"), "{said}");
    assert_eq!(
        provider.stats().await["authorization"].as_u64().unwrap(),
        authorizations,
        "no sign-in was started"
    );
    assert_eq!(status_of(sixth)["state"], "not_connected");
    assert_eq!(provider.evicted_grants().await, 0);

    // With --yes it connects, and the provider silently signs the first computer out.
    let out = connect(sixth, true);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(provider.evicted_grants().await, 1);
    assert!(!provider.active("latchkey-static", first_token.trim()).await);

    // The first computer learns it at its next refresh: not a generic "reconnect", but why.
    let out = token(&homes[0], true);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(out.status.code(), Some(3), "needs reconnect: {said}");
    assert!(
        said.contains("Signed out because this account was connected on five other devices"),
        "{said}"
    );
    assert!(
        said.contains("[connect.approval_limit_signed_out]"),
        "{said}"
    );
    // Its card says so too, and later calls keep saying so without asking the provider.
    let status = status_of(&homes[0]);
    assert_eq!(status["state"], "needs_reconnect", "{status}");
    assert_eq!(
        status["code"], "connect.approval_limit_signed_out",
        "{status}"
    );
    assert_eq!(
        status["reason"],
        "Signed out because this account was connected on five other devices"
    );
    let refreshes = provider.refreshes().await;
    let out = token(&homes[0], false);
    assert!(
        text(&out).contains("[connect.approval_limit_signed_out]"),
        "{}",
        text(&out)
    );
    assert_eq!(provider.refreshes().await, refreshes);

    // The second computer, still within the five, refreshes fine.
    let out = token(&homes[1], true);
    assert!(out.status.success(), "{}", text(&out));
    let status = status_of(&homes[1]);
    assert_eq!(status["state"], "connected", "{status}");
}
