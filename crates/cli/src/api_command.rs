//! `latchkey api`: one call (or every page of one) with the user's connection,
//! like `gh api`. The body goes to stdout; the provider's error message to
//! stderr with the exit code for the failure.

use std::io::{Read, Write};
use std::path::Path;

use latchkey_connect::api::provider_error;
use latchkey_connect::{ApiRequest, BrowserLauncher, ConnectError, ConnectOptions, SystemBrowser};
use latchkey_device::{Session, SessionError};
use url::Url;

/// The system browser; when it cannot be opened (no default browser, a remote
/// session) the sign-in link is printed instead, so the user can open it
/// anywhere on this computer.
pub struct LinkPrintingBrowser;

impl BrowserLauncher for LinkPrintingBrowser {
    fn open(&self, url: &Url) -> Result<(), ConnectError> {
        match SystemBrowser.open(url) {
            Ok(()) => {
                eprintln!(
                    "If your browser did not open, open this link on this computer:\n  {url}"
                );
                Ok(())
            }
            Err(e) => {
                eprintln!("{e}\nOpen this link in a browser on this computer to sign in:\n  {url}");
                Ok(())
            }
        }
    }
}

/// Builds the request from the command line; the error says which part is wrong.
pub fn request(
    path: &str,
    method: Option<&str>,
    data: Option<&str>,
    input: Option<&Path>,
    headers: &[String],
) -> Result<ApiRequest, SessionError> {
    let invalid = |reason: String| SessionError::from(ConnectError::InvalidRequest { reason });
    let body = match (data, input) {
        (Some(d), _) => Some(d.as_bytes().to_vec()),
        (None, Some(p)) if p == Path::new("-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                invalid(format!("could not read the body from standard input ({e})"))
            })?;
            Some(buf)
        }
        (None, Some(p)) => Some(
            std::fs::read(p)
                .map_err(|e| invalid(format!("could not read {} ({e})", p.display())))?,
        ),
        (None, None) => None,
    };
    let method = match method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid(format!("{m:?} is not an HTTP method")))?,
        None if body.is_some() => http::Method::POST,
        None => http::Method::GET,
    };
    let mut parsed = Vec::new();
    for h in headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(invalid(format!(
                "header {h:?} must look like 'Name: value'"
            )));
        };
        parsed.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let request = ApiRequest {
        method,
        target: path.to_owned(),
        headers: parsed,
        body,
    };
    request.check()?;
    Ok(request)
}

/// Sends the request (and follows pages); prints bodies to stdout.
pub async fn run(
    session: &Session,
    integration: &str,
    environment: Option<&str>,
    request: ApiRequest,
    paginate: bool,
    slurp: bool,
) -> Result<(), SessionError> {
    let options = ConnectOptions::default();
    let errors = session
        .catalog_entry(integration)
        .and_then(|p| p.api.as_ref())
        .map(|a| a.errors)
        .unwrap_or_default();
    let name = session.display_name(integration);
    let mut pages: Vec<serde_json::Value> = Vec::new();
    let mut current = request;
    let mut stdout = std::io::stdout().lock();
    loop {
        let response = session
            .call(integration, environment, &current, &options)
            .await?;
        if let Some(error) = provider_error(errors, response.status, &response.body) {
            let _ = stdout.write_all(&response.body);
            let _ = stdout.flush();
            return Err(ConnectError::ApiError {
                provider: name,
                status: response.status,
                code: error.code,
                message: error.message,
            }
            .into());
        }
        if slurp {
            pages.push(response.json().unwrap_or(serde_json::Value::Null));
        } else {
            let _ = stdout.write_all(&response.body);
            if !response.body.ends_with(b"\n") {
                let _ = stdout.write_all(b"\n");
            }
        }
        if !paginate {
            break;
        }
        match session.next_page(integration, environment, &current, &response)? {
            Some(next) => current = next,
            None => break,
        }
    }
    if slurp {
        let _ = writeln!(stdout, "{}", serde_json::Value::Array(pages));
    }
    let _ = stdout.flush();
    Ok(())
}
