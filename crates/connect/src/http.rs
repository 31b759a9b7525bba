//! The HTTP client for provider calls, injected everywhere it is used.
//!
//! Redirects are never followed (a token endpoint that redirects is either
//! misconfigured or an SSRF attempt), bodies are size-capped, and every call
//! has a timeout. Response bodies are read into a buffer that never leaves an
//! unwiped copy behind when it grows; requests and answers that carry secrets
//! (token requests) stay in wiped buffers end to end on our side.

use std::time::Duration;

use bytes::Bytes;
use zeroize::Zeroizing;

use crate::ConnectError;

/// Largest response body accepted from a provider.
pub const MAX_BODY: usize = 1024 * 1024;

/// A provider-facing HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

/// Why an HTTP call failed. Never holds a body or a header value.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request never left this computer (no connection, DNS, TLS handshake):
    /// retrying it cannot replay anything at the provider.
    #[error("{0}")]
    NotSent(String),
    /// The connection failed or timed out after the request may have been sent.
    #[error("{0}")]
    Transport(String),
    /// The response was larger than [`MAX_BODY`].
    #[error("the response is larger than {MAX_BODY} bytes")]
    TooLarge,
}

impl HttpError {
    /// True when the request may have reached the provider.
    pub fn maybe_sent(&self) -> bool {
        !matches!(self, Self::NotSent(_))
    }
}

impl HttpClient {
    /// The default client: no redirects, 30 s per request, 10 s to connect.
    pub fn new() -> Result<Self, ConnectError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectError::Network {
                provider: "the network".to_owned(),
                reason: e.to_string(),
                maybe_sent: false,
            })?;
        Ok(Self { inner })
    }

    /// Wraps a caller-built client (it must not follow redirects).
    pub fn from_reqwest(inner: reqwest::Client) -> Self {
        Self { inner }
    }

    /// Sends a request and reads a response of at most [`MAX_BODY`] bytes.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        self.send_capped(request, MAX_BODY).await
    }

    /// Sends a request and reads a response of at most `cap` bytes.
    pub async fn send_capped(
        &self,
        request: http::Request<Vec<u8>>,
        cap: usize,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let response = self.execute(request, cap).await?;
        // Moves the buffer out (no copy); what the caller does with it is its own affair.
        Ok(response.map(|mut body| std::mem::take(&mut *body)))
    }

    /// Sends a request whose body may hold secrets (a token request's form) and reads
    /// the answer, of at most `cap` bytes, into a buffer that is wiped when dropped.
    /// The body is handed to reqwest without a copy and wiped once reqwest lets go of it;
    /// header values should come from [`secret_header`].
    pub(crate) async fn send_secret(
        &self,
        request: http::Request<Zeroizing<Vec<u8>>>,
        cap: usize,
    ) -> Result<http::Response<Zeroizing<Vec<u8>>>, HttpError> {
        self.execute(request.map(Bytes::from_owner), cap).await
    }

    async fn execute<B: Into<reqwest::Body>>(
        &self,
        request: http::Request<B>,
        cap: usize,
    ) -> Result<http::Response<Zeroizing<Vec<u8>>>, HttpError> {
        let request =
            reqwest::Request::try_from(request).map_err(|e| HttpError::NotSent(e.to_string()))?;
        let mut response = self.inner.execute(request).await.map_err(|e| {
            if e.is_connect() || e.is_builder() {
                HttpError::NotSent(describe_reqwest(&e))
            } else {
                HttpError::Transport(describe_reqwest(&e))
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        // Sized from Content-Length when there is one, so most answers never grow.
        let expected = response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(cap);
        let mut body = Zeroizing::new(Vec::with_capacity(expected));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(describe_reqwest(&e)))?
        {
            append_wiping(&mut body, &chunk, cap)?;
        }
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// A header value holding a secret (an `Authorization` header), built without an unwiped
/// copy: `http` keeps the given buffer as is and it is wiped when the last reference
/// drops. It is also marked sensitive (never indexed by HTTP/2 header compression,
/// printed as `Sensitive`).
pub(crate) fn secret_header(
    value: Zeroizing<Vec<u8>>,
) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    let mut header = http::HeaderValue::from_maybe_shared(Bytes::from_owner(value))?;
    header.set_sensitive(true);
    Ok(header)
}

/// `Authorization: Bearer <token>`, as a [`secret_header`].
pub(crate) fn bearer_header(
    token: &latchkey_secret::SecretString,
) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    const PREFIX: &[u8] = b"Bearer ";
    let mut value = Zeroizing::new(Vec::with_capacity(PREFIX.len() + token.len()));
    value.extend_from_slice(PREFIX);
    value.extend_from_slice(token.expose().as_bytes());
    secret_header(value)
}

/// Appends `chunk` to `body`, refusing to grow past `cap`. When `body` is full it is
/// moved to a larger allocation here rather than by `Vec` itself, which would free the
/// old allocation with the answer still in it; the old one is wiped instead.
fn append_wiping(body: &mut Zeroizing<Vec<u8>>, chunk: &[u8], cap: usize) -> Result<(), HttpError> {
    let needed = body
        .len()
        .checked_add(chunk.len())
        .filter(|n| *n <= cap)
        .ok_or(HttpError::TooLarge)?;
    if needed > body.capacity() {
        drop(grow(body, needed, cap));
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// Moves `body` to an allocation of at least `needed` bytes (doubling, but not past
/// `cap`), and returns the old allocation, wrapped so that it is wiped when dropped.
fn grow(body: &mut Zeroizing<Vec<u8>>, needed: usize, cap: usize) -> Zeroizing<Vec<u8>> {
    let capacity = needed.max(body.capacity().saturating_mul(2).min(cap));
    let mut larger = Zeroizing::new(Vec::with_capacity(capacity));
    larger.extend_from_slice(body);
    std::mem::replace(body, larger)
}

/// reqwest's messages can include the URL; URLs here never carry secrets
/// (tokens travel in bodies), but keep the message to its kind anyway.
fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_request() {
        "the request could not be sent".to_owned()
    } else {
        "the connection failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_kept_whole_across_growth_and_cut_off_at_the_cap() {
        let mut body = Zeroizing::new(Vec::new());
        let mut expected = Vec::new();
        for i in 0..200u8 {
            let chunk = vec![i; usize::from(i % 7) + 1];
            append_wiping(&mut body, &chunk, 4096).unwrap();
            expected.extend_from_slice(&chunk);
        }
        assert_eq!(&body[..], &expected[..]);
        let room = vec![0u8; 4096 - body.len()];
        append_wiping(&mut body, &room, 4096).unwrap();
        assert!(matches!(
            append_wiping(&mut body, b"x", 4096),
            Err(HttpError::TooLarge)
        ));
        assert!(body.capacity() <= 4096, "grew past the cap");
    }

    #[test]
    fn a_full_buffer_hands_its_old_allocation_over_to_be_wiped() {
        let mut body = Zeroizing::new(Vec::with_capacity(8));
        append_wiping(&mut body, b"token=ab", 1024).unwrap();
        let old = body.as_ptr();
        let retired = grow(&mut body, 9, 1024);
        // The allocation that held the answer is the one handed back in a wiping
        // wrapper (not a copy of it), and the data moved on to a new allocation.
        assert_eq!(retired.as_ptr(), old);
        assert_eq!(&retired[..], b"token=ab");
        assert_ne!(body.as_ptr(), old);
        assert_eq!(&body[..], b"token=ab");
        assert_eq!(body.capacity(), 16);
    }

    #[test]
    fn secret_headers_are_sensitive_and_keep_their_bytes() {
        let header = bearer_header(&latchkey_secret::SecretString::from("tok")).unwrap();
        assert_eq!(header, "Bearer tok");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("tok"));
        assert!(secret_header(Zeroizing::new(b"bad\nvalue".to_vec())).is_err());
    }
}
