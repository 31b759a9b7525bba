//! The HTTP client for provider calls, injected everywhere it is used.
//!
//! Redirects are never followed (a token endpoint that redirects is either
//! misconfigured or an SSRF attempt), bodies are size-capped, and every call
//! has a timeout. It plugs into `oauth2` as its async HTTP client.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(describe_reqwest(&e)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
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

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
