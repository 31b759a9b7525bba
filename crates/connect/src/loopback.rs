//! The one-shot loopback listener that receives the authorization response
//! (RFC 8252 §7.3).
//!
//! - Binds 127.0.0.1 only (never 0.0.0.0, never the name `localhost`), on a
//!   port the OS assigns, or a fixed one when the provider matches the
//!   registered callback exactly (Salesforce).
//! - Each provider has its own callback path, so a response meant for one
//!   provider's flow cannot be replayed into another's (mix-up defence).
//! - Requests to another path or with another method get 404 and leave the
//!   flow waiting; a response whose `state` is missing or wrong gets 400 and
//!   also leaves it waiting (it is most likely a stale tab), without any
//!   token request.
//! - The first response with the right `state` ends the wait. The browser's
//!   connection is held open until the caller knows the outcome, so the tab
//!   says "Connected" only when the tokens are really stored.
//! - The wait times out and can be cancelled; either way the port is freed.

use std::time::Duration;

use latchkey_catalog::RedirectHost;
use latchkey_secret::{SecretString, constant_time_eq};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::ConnectError;
use crate::error::sanitize_provider_text;

const MAX_REQUEST: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the callback must carry to be accepted.
#[derive(Debug)]
pub struct Expectation<'a> {
    /// Display name, for pages and errors.
    pub provider: &'a str,
    /// The `state` sent in the authorization request.
    pub state: &'a SecretString,
    /// The issuer the response must name in `iss`, when known (RFC 9207).
    pub issuer: Option<&'a str>,
    /// The provider always sends `iss`: a response without it is refused.
    pub require_iss: bool,
}

/// A bound listener, ready to receive one callback.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
    path: String,
    host: RedirectHost,
}

/// An accepted authorization response: the code, and the browser's
/// connection waiting for the final page.
#[derive(Debug)]
pub struct Callback {
    /// The authorization code.
    pub code: SecretString,
    /// The browser tab waiting for the outcome.
    pub responder: Responder,
}

/// The browser tab that delivered the callback, waiting for its page.
#[derive(Debug)]
pub struct Responder {
    stream: TcpStream,
}

impl Responder {
    /// Tells the browser tab how it ended and closes the connection.
    pub async fn finish(mut self, ok: bool, message: &str) {
        let (status, title) = if ok {
            ("200 OK", "Connected")
        } else {
            ("400 Bad Request", "Not connected")
        };
        respond(&mut self.stream, status, title, message).await;
    }
}

impl CallbackListener {
    /// Binds `127.0.0.1:port` (`None`: any free port) for `path`.
    pub async fn bind(provider: &str, port: Option<u16>, path: &str) -> Result<Self, ConnectError> {
        Self::bind_named(provider, port, path, RedirectHost::Ip).await
    }

    /// Binds `127.0.0.1:port` for `path`, with redirect URIs naming `host`
    /// (`localhost` for apps registered that way). The socket is on the
    /// loopback address whatever the name.
    pub async fn bind_named(
        provider: &str,
        port: Option<u16>,
        path: &str,
        host: RedirectHost,
    ) -> Result<Self, ConnectError> {
        let wanted = port.unwrap_or(0);
        let listener = TcpListener::bind(("127.0.0.1", wanted))
            .await
            .map_err(|e| ConnectError::ListenerUnavailable {
                provider: provider.to_owned(),
                port: wanted,
                reason: e.to_string(),
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| ConnectError::ListenerUnavailable {
                provider: provider.to_owned(),
                port: wanted,
                reason: e.to_string(),
            })?
            .port();
        Ok(Self {
            listener,
            port,
            path: path.to_owned(),
            host,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The redirect URI, byte-identical in the authorization and token requests.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}:{}{}", self.host.as_str(), self.port, self.path)
    }

    /// Waits for the one matching callback, until `timeout` or `cancel`.
    /// The listener is closed (the port freed) when this returns.
    pub async fn wait(
        self,
        expect: Expectation<'_>,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> Result<Callback, ConnectError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let accepted = tokio::select! {
                () = &mut deadline => {
                    return Err(ConnectError::TimedOut { provider: expect.provider.to_owned(), seconds: timeout.as_secs() });
                }
                () = cancel.cancelled() => {
                    return Err(ConnectError::Cancelled { provider: expect.provider.to_owned() });
                }
                accepted = self.listener.accept() => accepted,
            };
            let Ok((mut stream, _peer)) = accepted else {
                continue;
            };
            let request = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await
            {
                Ok(Some(request)) => request,
                _ => {
                    respond(
                        &mut stream,
                        "400 Bad Request",
                        "Bad request",
                        "The request could not be read.",
                    )
                    .await;
                    continue;
                }
            };
            match Self::judge(&self.path, &request, &expect) {
                Verdict::NotOurs => {
                    respond(&mut stream, "404 Not Found", "Not found", "Nothing here.").await;
                }
                Verdict::Stale(message) => {
                    tracing::warn!(provider = expect.provider, "refused a callback: {message}");
                    respond(&mut stream, "400 Bad Request", "Not connected", message).await;
                }
                Verdict::Failed(error) => {
                    respond(
                        &mut stream,
                        "400 Bad Request",
                        "Not connected",
                        &error.to_string(),
                    )
                    .await;
                    return Err(error);
                }
                Verdict::Accepted(code) => {
                    return Ok(Callback {
                        code,
                        responder: Responder { stream },
                    });
                }
            }
        }
    }

    fn judge(path: &str, request: &Request, expect: &Expectation<'_>) -> Verdict {
        if request.method != "GET" || request.path != path {
            return Verdict::NotOurs;
        }
        let mut state = None;
        let mut params = Params::default();
        for (key, value) in query_pairs(request.query.expose()) {
            let slot = match key.as_str() {
                "state" => &mut state,
                "code" => &mut params.code,
                "iss" => &mut params.iss,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            if slot.is_some() {
                return Verdict::Stale(
                    "This sign-in response repeats a parameter, so it was refused.",
                );
            }
            *slot = Some(value);
        }
        let Some(state) = state else {
            return Verdict::Stale(
                "This sign-in response has no state, so it was refused. Start the sign-in from Latchkey.",
            );
        };
        if !constant_time_eq(state.as_bytes(), expect.state.expose().as_bytes()) {
            return Verdict::Stale(
                "This sign-in response belongs to another attempt, so it was refused. Use the tab Latchkey opened last.",
            );
        }
        let provider = expect.provider.to_owned();
        match (&params.iss, expect.issuer) {
            (Some(received), Some(expected)) if received.as_str() != expected => {
                return Verdict::Failed(ConnectError::IssuerMismatch {
                    provider,
                    expected: expected.to_owned(),
                    received: sanitize_provider_text(received),
                });
            }
            (None, _) if expect.require_iss => {
                return Verdict::Failed(ConnectError::IssuerMissing { provider });
            }
            _ => {}
        }
        if let Some(error) = params.error {
            return Verdict::Failed(ConnectError::AuthorizationDenied {
                provider,
                error: sanitize_provider_text(&error),
                description: params
                    .error_description
                    .as_deref()
                    .map(|d| sanitize_provider_text(d)),
            });
        }
        match params.code {
            // Moves the text (no copy) into the SecretString.
            Some(mut code) if !code.is_empty() => {
                Verdict::Accepted(SecretString::new(std::mem::take(&mut *code)))
            }
            _ => Verdict::Failed(ConnectError::AuthorizationDenied {
                provider,
                error: "no authorization code in the response".to_owned(),
                description: None,
            }),
        }
    }
}

/// The callback's parameters, wiped when dropped (the code above all).
#[derive(Default)]
struct Params {
    code: Option<Zeroizing<String>>,
    iss: Option<Zeroizing<String>>,
    error: Option<Zeroizing<String>>,
    error_description: Option<Zeroizing<String>>,
}

enum Verdict {
    NotOurs,
    Stale(&'static str),
    Failed(ConnectError),
    Accepted(SecretString),
}

struct Request {
    method: String,
    path: String,
    /// Holds the code and the state.
    query: SecretString,
}

/// Reads the request head (the body, if any, is ignored) and parses its
/// request line. `None` for anything that is not a plausible HTTP request.
/// The buffer holds the authorization code: it is wiped once parsed. It is
/// allocated once, large enough for the longest head read (`MAX_REQUEST`
/// plus one chunk), so it never reallocates and leaves no unwiped copy.
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    const CHUNK: usize = 2048;
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_REQUEST + CHUNK));
    let mut chunk = Zeroizing::new([0u8; CHUNK]);
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = stream.read(&mut chunk[..]).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse_request_head(&buf)
}

/// Parses a request head's first line: method, path and query. `None` for
/// anything that is not a plausible HTTP/1.x request with an origin-form target.
fn parse_request_head(buf: &[u8]) -> Option<Request> {
    let head = std::str::from_utf8(buf).ok()?;
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?;
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(Request {
        method,
        path: path.to_owned(),
        query: SecretString::from(query),
    })
}

/// The query's name/value pairs, decoded as `application/x-www-form-urlencoded`
/// exactly as `url::form_urlencoded::parse` does, but each into a buffer sized up
/// front and wiped when dropped: the `url` crate decodes an escaped value (a code
/// holding `%2F`) through growing buffers it drops unwiped.
fn query_pairs(query: &str) -> impl Iterator<Item = (Zeroizing<String>, Zeroizing<String>)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
}

/// Decodes one form-encoded name or value: `+` is a space, `%XX` a byte (a `%`
/// without two hex digits stays as it is), and bytes that are not UTF-8 become
/// U+FFFD as in `String::from_utf8_lossy`.
fn form_decode(text: &str) -> Zeroizing<String> {
    // Decoding never lengthens the text.
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut rest = text.as_bytes();
    while let [first, tail @ ..] = rest {
        rest = tail;
        match *first {
            b'+' => bytes.push(b' '),
            b'%' => match tail {
                [high, low, after @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    bytes.push(hex_value(*high) << 4 | hex_value(*low));
                    rest = after;
                }
                _ => bytes.push(b'%'),
            },
            byte => bytes.push(byte),
        }
    }
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(invalid) => {
            let bytes = Zeroizing::new(invalid.into_bytes());
            // Sized exactly: each invalid run becomes one U+FFFD (three bytes).
            let length = bytes
                .utf8_chunks()
                .map(|c| c.valid().len() + if c.invalid().is_empty() { 0 } else { 3 })
                .sum();
            let mut text = Zeroizing::new(String::with_capacity(length));
            for chunk in bytes.utf8_chunks() {
                text.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    text.push(char::REPLACEMENT_CHARACTER);
                }
            }
            text
        }
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// The listener's parser and judge on raw bytes, for the fuzzer: a request
/// head in, the verdict's name out (`not_ours`, `stale`, `failed:<code>`,
/// `accepted`). Never panics.
#[doc(hidden)]
pub fn fuzz_callback(head: &[u8], state: &str, issuer: Option<&str>, require_iss: bool) -> String {
    let Some(request) = parse_request_head(head) else {
        return "unparsable".to_owned();
    };
    let state = SecretString::from(state);
    let expect = Expectation {
        provider: "Fuzz",
        state: &state,
        issuer,
        require_iss,
    };
    match CallbackListener::judge("/callback/fuzz", &request, &expect) {
        Verdict::NotOurs => "not_ours".to_owned(),
        Verdict::Stale(_) => "stale".to_owned(),
        Verdict::Failed(e) => format!("failed:{}", e.code()),
        Verdict::Accepted(_) => "accepted".to_owned(),
    }
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latchkey: {title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>",
        escape_html(message)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_decoded_as_the_url_crate_decodes_it() {
        let queries: [&[u8]; 9] = [
            b"code=4%2F0AX4Xf+W%3D%3D&state=abc",
            b"state=s&&code=&=x&flag&iss=http%3A%2F%2F127.0.0.1%3A3000",
            b"a=%&b=%2&c=%zz&d=%%41&e=%+1&f=+%2B+",
            b"code=%FF%FEok%C3&state=%E2%9C%93%E2%9C",
            b"error=access_denied&error_description=User+said+%22no%22",
            b"x=1=2&y==&=&&&",
            "u=é✓&é=%C3%A9".as_bytes(),
            b"",
            b"only",
        ];
        for query in queries {
            let query = std::str::from_utf8(query).unwrap();
            let ours: Vec<(String, String)> = query_pairs(query)
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect();
            let theirs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }

    #[test]
    fn a_decoded_value_is_written_into_one_allocation() {
        // Decoding only shortens, so the buffer sized to the input never grows.
        for text in ["4%2F0AX4XfW%3D%3D", "plain-code", "a+b+c", "%zz%"] {
            let decoded = form_decode(text);
            assert_eq!(decoded.capacity(), text.len(), "{text:?}");
        }
    }

    #[test]
    fn the_request_line_is_split_into_path_and_query() {
        let request = parse_request_head(b"GET /cb?code=abc&state=s HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(request.query.expose(), "code=abc&state=s");
        assert_eq!(request.path, "/cb");
    }
}
