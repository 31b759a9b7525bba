//! Opening the authorization page in the system browser, and only there.
//!
//! The app's own webview never shows a provider page (RFC 8252 §8.12): the
//! URL goes to the OS default browser. On Linux and the BSDs `$BROWSER` is
//! honoured first (the freedesktop convention, and how tests drive a real
//! headless Chromium), then `xdg-open`. Every URL is checked before it is
//! handed over, because the opener itself checks nothing.

use url::Url;

use crate::ConnectError;

/// Opens URLs for the user. Injected so tests can drive a real browser.
pub trait BrowserLauncher: Send + Sync {
    /// Hands `url` to the browser and returns without waiting for it.
    fn open(&self, url: &Url) -> Result<(), ConnectError>;
}

/// The OS default browser.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBrowser;

impl BrowserLauncher for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Some(list) = std::env::var_os("BROWSER") {
            let list = list.to_string_lossy().into_owned();
            let mut last_error = String::from("$BROWSER is empty");
            for command in list.split(':').filter(|c| !c.trim().is_empty()) {
                match spawn_detached(command.trim(), url.as_str()) {
                    Ok(()) => return Ok(()),
                    Err(e) => last_error = format!("{command}: {e}"),
                }
            }
            return Err(ConnectError::BrowserUnavailable { reason: last_error });
        }
        open::that_detached(url.as_str()).map_err(|e| ConnectError::BrowserUnavailable {
            reason: e.to_string(),
        })
    }
}

/// Starts `command` with the URL (replacing `%s`, else as the last argument)
/// and reaps it in the background.
#[cfg(all(unix, not(target_os = "macos")))]
fn spawn_detached(command: &str, url: &str) -> std::io::Result<()> {
    use std::process::{Command, Stdio};
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or(command);
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    if args.iter().any(|a| a.contains("%s")) {
        for a in &mut args {
            *a = a.replace("%s", url);
        }
    } else {
        args.push(url.to_owned());
    }
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Checks a URL before it goes to the browser: it must be https (or plain
/// http to a loopback IP literal, for local authorization servers) and have
/// the same origin as the provider's authorization endpoint.
pub fn check_authorization_url(
    url: &Url,
    authorization_endpoint: &Url,
) -> Result<(), ConnectError> {
    let origin = url.origin().ascii_serialization();
    let secure = match url.scheme() {
        "https" => true,
        "http" => latchkey_catalog::is_loopback_url(url),
        _ => false,
    };
    if !secure {
        return Err(ConnectError::UnsafeUrl {
            origin,
            reason: "only https pages (or http on a loopback address) may be opened",
        });
    }
    if url.origin() != authorization_endpoint.origin()
        || url.path() != authorization_endpoint.path()
    {
        return Err(ConnectError::UnsafeUrl {
            origin,
            reason: "it is not the provider's authorization endpoint",
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectError::UnsafeUrl {
            origin,
            reason: "it carries credentials",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_the_authorization_endpoint_over_https_or_loopback_is_opened() {
        let sf = u("https://login.salesforce.com/services/oauth2/authorize");
        assert!(
            check_authorization_url(
                &u("https://login.salesforce.com/services/oauth2/authorize?client_id=x"),
                &sf
            )
            .is_ok()
        );
        for bad in [
            "http://login.salesforce.com/services/oauth2/authorize",
            "https://evil.example/services/oauth2/authorize",
            "https://login.salesforce.com/other",
            "https://user:pw@login.salesforce.com/services/oauth2/authorize",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            let err = check_authorization_url(&u(bad), &sf).unwrap_err();
            assert_eq!(err.code(), "connect.unsafe_url", "{bad}");
        }
        let local = u("http://127.0.0.1:4000/auth");
        assert!(check_authorization_url(&u("http://127.0.0.1:4000/auth?x=1"), &local).is_ok());
        let named = u("http://localhost:4000/auth");
        assert!(check_authorization_url(&u("http://localhost:4000/auth"), &named).is_err());
    }
}
