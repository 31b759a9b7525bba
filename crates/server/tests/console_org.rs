//! An org connection authorized in the real console, in Debian's headless Chromium
//! (`console/e2e/org-connection.mjs`, playwright-core): a server on SQLite with the
//! built-in catalog and development providers, and oidc-provider shaped as Salesforce
//! with a client registered for the server's own callback. The admin makes Demo
//! Salesforce org-wide, presses Authorize, signs in and consents on the provider's pages
//! in the same page, lands back on the integration page showing who authorized it, tests
//! the connection, and revokes it; here we check the grant at the provider while it is
//! live and after the revocation.
//!
//! Needs the test peers (scripts/install-test-peers.sh) and the console's node_modules
//! (scripts/install-console-deps.sh): without them it skips with a notice, and fails when
//! `CI` is set. Screenshots go to the test's temporary dir; with
//! `LATCHKEY_UPDATE_SCREENSHOTS=1` to `docs/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_server::org_tokens::{TokenField, open_token};
use latchkey_test_peers::store::ADMIN_EMAIL;
use latchkey_test_peers::{AuthServer, Backend, TestStore, peers_ready};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CLIENT_ID: &str = "latchkey-org";
const CONNECTION: &str = "demo-salesforce";
/// The password every [`TestStore`] admin is created with.
const ADMIN_PASSWORD: &str = "a long admin password";

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

fn screenshot_dir() -> PathBuf {
    if std::env::var_os("LATCHKEY_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-org-screenshots")
    }
}

/// The refresh token the server holds for the connection, opened with its key.
async fn held_refresh_token(store: &TestStore) -> Option<String> {
    let state = store.state();
    let t = state
        .db
        .get_org_token(&state.org.id, CONNECTION)
        .await
        .unwrap()?;
    let sealed = t.refresh_sealed.as_deref().expect("a refresh token");
    let token = open_token(
        &state.key,
        &t.org_id,
        &t.integration_id,
        &t.environment,
        TokenField::Refresh,
        sealed,
    )
    .unwrap();
    Some(token.expose().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_authorizes_tests_and_revokes_an_org_connection_in_a_real_browser() {
    let Some(_deadline) = peers_ready() else {
        return;
    };
    let playwright = console_dir().join("node_modules/playwright-core/package.json");
    if !playwright.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the console's node_modules are missing under CI: run scripts/install-console-deps.sh"
        );
        eprintln!(
            "NOTICE: skipping the org connection browser test: run scripts/install-console-deps.sh"
        );
        return;
    }
    let store = TestStore::start_on(Backend::Sqlite).await;
    let idp = AuthServer::start_salesforce_for_org(600, CLIENT_ID, &store.url());
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let stderr_path = logs.path().join("org-connection.stderr");

    let mut child = Command::new("node")
        .arg(console_dir().join("e2e/org-connection.mjs"))
        .env("BASE_URL", store.url())
        .env("ISSUER", &idp.issuer)
        .env("CLIENT_ID", CLIENT_ID)
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PROVIDER_LOGIN", "ada@acme.example")
        .env("SCREENSHOT_DIR", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let story_log = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let next_line = || {
        let rx = &lines_rx;
        tokio::task::block_in_place(|| rx.recv_timeout(std::time::Duration::from_secs(120)))
    };

    // Authorized in the browser: the server holds a live grant at the provider.
    let said = next_line();
    assert_eq!(
        said.as_deref(),
        Ok("authorized"),
        "the browser story stopped before authorizing:\n{}",
        story_log()
    );
    let refresh = held_refresh_token(&store)
        .await
        .expect("the server holds the tokens");
    assert!(
        idp.active(CLIENT_ID, &refresh).await,
        "live at the provider"
    );
    let view = store
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/integrations/{CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(
        view["org_connection"]["authorized_by"], ADMIN_EMAIL,
        "{view}"
    );
    let stats = idp.stats().await;
    assert!(
        stats["api"]["permission_queries"].as_u64().unwrap_or(0) >= 1,
        "Test connection asked the provider: {stats}"
    );

    // Revoked in the browser: gone from the server, dead at the provider.
    writeln!(stdin, "revoke").unwrap();
    let said = next_line();
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    assert!(
        status.success(),
        "the browser story failed:\n{}",
        story_log()
    );
    assert_eq!(said.as_deref(), Ok(r#"{"ok":true}"#));
    assert!(held_refresh_token(&store).await.is_none());
    assert!(
        !idp.active(CLIENT_ID, &refresh).await,
        "the grant is revoked at the provider"
    );
    assert!(idp.stats().await["revocation"].as_u64().unwrap() >= 1);
    for page in [
        "org-connection-enabled",
        "org-connection-provider-login",
        "org-connection-provider-consent",
        "org-connection-authorized",
        "org-connection-tested",
        "org-connection-revoked",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "{page}.png");
    }
}
