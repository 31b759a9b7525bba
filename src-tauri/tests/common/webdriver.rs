//! The real app's window over WebDriver (`tauri-driver` over Debian's
//! `WebKitWebDriver`): launching the app, finding, clicking, typing, waiting.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use latchkey_test_peers::{browser_script, repo_root};
use serde_json::{Value, json};

use super::{Display, KillOnDrop};

/// The key WebDriver uses for element references.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub fn tauri_driver() -> PathBuf {
    repo_root().join(".tools/bin/tauri-driver")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A W3C WebDriver session, spoken over plain HTTP.
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
}

impl Session {
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body["value"].clone()
    }

    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("find {css}: {found}"))
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("an element without a reference: {e}"))
                    .to_owned()
            })
            .collect()
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub async fn wait(&self, css: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if start.elapsed() > timeout {
                let html = self.call(reqwest::Method::GET, "/source", None).await;
                panic!("no {css} after {timeout:?}; the page was:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        let e = self.wait(css, Duration::from_secs(20)).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, Duration::from_secs(20)).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.wait(css, Duration::from_secs(20)).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the element's text contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            if start.elapsed() > timeout {
                panic!("{css} never said {needle:?}; it says {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn visible(&self, css: &str) -> bool {
        for e in self.find_all(css).await {
            let shown = self
                .call(
                    reqwest::Method::GET,
                    &format!("/element/{e}/displayed"),
                    None,
                )
                .await;
            if shown == json!(true) {
                return true;
            }
        }
        false
    }

    /// The element's DOM text (`textContent`), shown or not.
    pub async fn content(&self, css: &str) -> String {
        let e = self.wait(css, Duration::from_secs(20)).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{e}/property/textContent"),
            None,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// The `id` attribute of the focused element.
    pub async fn active_id(&self) -> String {
        let e = self
            .call(reqwest::Method::GET, "/element/active", None)
            .await;
        let e = e[ELEMENT].as_str().unwrap_or_default().to_owned();
        self.call(
            reqwest::Method::GET,
            &format!("/element/{e}/attribute/id"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn screenshot(&self, dir: &Path, name: &str) {
        // Let the page paint what the DOM already says.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(format!("menu-{name}.png")), bytes).unwrap();
    }
}

/// Starts tauri-driver on `display` with the app's environment (its data dir, `$BROWSER`,
/// XDG folders under `home`) and opens a WebDriver session that launches the app with
/// `link` as its argument, as the OS does when the user clicks the link.
pub async fn launch(
    display: &Display,
    home: &Path,
    data: &Path,
    browser: &Path,
    link: &str,
) -> (KillOnDrop, Session) {
    launch_with(display, home, data, browser, &[link], &[]).await
}

/// [`launch`] with any arguments (none: a plain start) and extra environment for the app.
pub async fn launch_with(
    display: &Display,
    home: &Path,
    data: &Path,
    browser: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (KillOnDrop, Session) {
    let port = free_port();
    let native_port = free_port();
    let driver_process = KillOnDrop(
        Command::new(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("DISPLAY", &display.name)
            .env("LATCHKEY_DATA_DIR", data)
            .env("BROWSER", browser)
            .env("NO_AT_BRIDGE", "1")
            .env("XDG_CONFIG_HOME", home)
            .env("XDG_DATA_HOME", home)
            .env("XDG_CACHE_HOME", home)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let driver = format!("http://127.0.0.1:{port}");
    let mut created = None;
    for _ in 0..100 {
        let attempt = http
            .post(format!("{driver}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "wry",
                "tauri:options": {
                    "application": env!("CARGO_BIN_EXE_latchkey-desktop"),
                    "args": args,
                },
            }}}))
            .send()
            .await;
        if let Ok(response) = attempt {
            let body: Value = response.json().await.unwrap();
            created = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let created = created.expect("tauri-driver answers");
    let id = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
        .to_owned();
    let ui = Session {
        http,
        base: format!("{driver}/session/{id}"),
    };
    (driver_process, ui)
}

/// A `$BROWSER` that logs every URL to `opened.log` in the home and sends sign-ins on to
/// the peers' Chromium.
pub fn logging_browser(home: &Path) -> String {
    format!(
        "printf '%s\\n' \"$1\" >> '{}'\ncase \"$1\" in */auth\\?*) exec '{}' \"$@\";; esac\nexit 0\n",
        home.join("opened.log").display(),
        browser_script().display()
    )
}

/// One story's home for the app: a data dir whose settings keep the window open when
/// focus moves to the browser (the user's choice), and `browser.sh` for `$BROWSER`, whose
/// body after the shebang `script` writes given the home's path.
pub struct AppHome {
    dir: tempfile::TempDir,
    pub data: PathBuf,
    pub browser: PathBuf,
}

impl AppHome {
    pub fn new(script: impl FnOnce(&Path) -> String) -> AppHome {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("latchkey");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("settings.json"),
            r#"{"start_at_login":false,"hide_on_blur":false}"#,
        )
        .unwrap();
        let browser = dir.path().join("browser.sh");
        std::fs::write(&browser, format!("#!/bin/sh\n{}", script(dir.path()))).unwrap();
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        AppHome { dir, data, browser }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn card(id: &str, state: &str) -> String {
    format!("article.card[data-integration=\"{id}\"][data-state=\"{state}\"]")
}

/// True when Xvfb, WebKitWebDriver, tauri-driver and each of `more` are installed;
/// otherwise fails under CI and skips elsewhere (see [`super::require`]).
pub fn window_tools_ready(more: &[(&str, bool)]) -> bool {
    let mut tools = vec![
        ("Xvfb", super::have("Xvfb")),
        ("WebKitWebDriver", super::have("WebKitWebDriver")),
        ("tauri-driver", tauri_driver().exists()),
    ];
    tools.extend_from_slice(more);
    super::require(
        &tools,
        "scripts/install-deps.sh and scripts/install-tauri-driver.sh",
    )
}
