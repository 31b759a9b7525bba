//! The token agent: while the menu app runs, `latchkey token` asks it over a
//! private local socket instead of opening the vault itself.
//!
//! Why: opening the vault costs an Argon2id derivation (tens of milliseconds, by
//! design) and a round trip to the server; the running menu has done both once,
//! keeps the key in memory and follows the server's change feed, so an admin's
//! revoke reaches it within seconds. A script calling `latchkey token` in a loop
//! then pays a socket round trip instead (see docs/benchmarks.md, "token agent").
//!
//! Who may ask: the socket lives in the private data directory (0700), is
//! itself 0600, and every connection's peer must run as the user who owns that
//! directory (checked with the kernel's peer credentials). That is the same
//! boundary as the keychain, which hands the vault salt to any program of the
//! signed-in user. The answer is written once into a wiped buffer and never
//! logged. Windows has no agent yet: the CLI opens the vault itself there.
//!
//! The exchange is one JSON line each way: [`TokenRequest`], then an answer with
//! either the token or a `{code, message}` error. Errors that mean "ask the vault
//! yourself" (the menu is not enrolled or does not know the integration yet) are
//! [`AgentError::Unavailable`], and the CLI falls back to the full path.

// The wire format is shared by both ends, which exist only on Unix so far.
#![cfg_attr(not(unix), allow(dead_code))]

use std::path::{Path, PathBuf};

use latchkey_connect::TokenInfo;
use latchkey_secret::SecretString;
use serde::{Deserialize, Serialize};

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "agent.sock";

/// Set to `off` to make the CLI open the vault itself even when the menu runs.
pub const AGENT_ENV: &str = "LATCHKEY_AGENT";

/// The largest request line the agent reads (a request is an id, an
/// environment and a flag).
const MAX_REQUEST: usize = 4096;

/// The largest answer the CLI reads (a token set's non-secret details and the
/// token itself; Salesforce tokens are ~112 bytes, JWTs a few KiB).
const MAX_ANSWER: usize = 64 * 1024;

/// What `latchkey token` asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub integration: String,
    pub environment: Option<String>,
    /// Refresh now (the agent's refresh is single-flight with the menu's own).
    pub refresh: bool,
}

/// Why the agent did not hand out a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// No agent, or it cannot answer this (not enrolled, integration unknown to
    /// it yet): open the vault directly.
    #[error("the menu app cannot answer: {0}")]
    Unavailable(String),
    /// The agent answered with an error a direct call would give as well (not
    /// connected, the provider refused the refresh…).
    #[error("{message}")]
    Refused {
        code: String,
        message: String,
        /// Only a new sign-in helps (the CLI's exit status says so).
        reconnect: bool,
    },
}

impl AgentError {
    /// The stable code of a refusal (`agent.unavailable` otherwise).
    pub fn code(&self) -> &str {
        match self {
            Self::Unavailable(_) => "agent.unavailable",
            Self::Refused { code, .. } => code,
        }
    }
}

/// The socket path for the data directory `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_NAME)
}

/// The answer on the wire (written by the agent).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum AnswerOut<'a> {
    Token {
        access_token: &'a str,
        token_type: &'a str,
        expires_at: Option<u64>,
        scopes: &'a [String],
        instance_url: Option<&'a str>,
        api_base_url: Option<&'a str>,
        fields: &'a std::collections::BTreeMap<String, String>,
        identity: Option<&'a str>,
    },
    Unavailable {
        message: &'a str,
    },
    Error {
        code: &'a str,
        message: &'a str,
        reconnect: bool,
    },
}

/// The answer on the wire (read by the CLI).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AnswerIn {
    Token {
        access_token: SecretString,
        token_type: String,
        expires_at: Option<u64>,
        scopes: Vec<String>,
        instance_url: Option<String>,
        api_base_url: Option<String>,
        fields: std::collections::BTreeMap<String, String>,
        identity: Option<String>,
    },
    Unavailable {
        message: String,
    },
    Error {
        code: String,
        message: String,
        reconnect: bool,
    },
}

/// Writes `answer` as one JSON line into a buffer that is wiped when dropped and
/// never reallocates unwiped (the capacity covers the largest answer).
fn encode(answer: &AnswerOut<'_>) -> zeroize::Zeroizing<Vec<u8>> {
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(MAX_ANSWER));
    if serde_json::to_writer(&mut *buf, answer).is_err() || buf.len() >= MAX_ANSWER {
        buf.clear();
        let fallback = AnswerOut::Error {
            code: "agent.answer_too_large",
            message: "The token is too large for the menu app to hand over; run `latchkey token` with LATCHKEY_AGENT=off.",
            reconnect: false,
        };
        let _ = serde_json::to_writer(&mut *buf, &fallback);
    }
    buf.push(b'\n');
    buf
}

fn decode(line: &[u8]) -> Result<TokenInfo, AgentError> {
    let answer: AnswerIn = serde_json::from_slice(line).map_err(|e| {
        AgentError::Unavailable(format!("the menu app's answer was not understood ({e})"))
    })?;
    match answer {
        AnswerIn::Token {
            access_token,
            token_type,
            expires_at,
            scopes,
            instance_url,
            api_base_url,
            fields,
            identity,
        } => Ok(TokenInfo {
            access_token,
            token_type,
            expires_at,
            scopes,
            instance_url,
            api_base_url,
            fields,
            identity,
        }),
        AnswerIn::Unavailable { message } => Err(AgentError::Unavailable(message)),
        AnswerIn::Error {
            code,
            message,
            reconnect,
        } => Err(AgentError::Refused {
            code,
            message,
            reconnect,
        }),
    }
}

#[cfg(unix)]
pub use unix::{ask, serve};

#[cfg(unix)]
mod unix {
    use std::future::Future;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use latchkey_connect::TokenInfo;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{UnixListener, UnixStream};
    use tokio_util::sync::CancellationToken;

    use super::{
        AgentError, AnswerOut, MAX_ANSWER, MAX_REQUEST, TokenRequest, decode, encode, socket_path,
    };

    /// How long the agent waits for a request line once a peer connected.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
    /// How long the CLI waits for an answer (a refresh goes to the provider).
    const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

    /// Serves token requests on `dir`'s socket until `stop`, answering each with
    /// `answer` (the menu's session). A stale socket left by a crashed app is
    /// replaced; a live one (another instance) is left alone and this returns.
    pub async fn serve<F, Fut>(dir: PathBuf, stop: CancellationToken, answer: F)
    where
        F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<TokenInfo, AgentError>> + Send + 'static,
    {
        let path = socket_path(&dir);
        let owner = match std::fs::metadata(&dir) {
            Ok(meta) => meta.uid(),
            Err(e) => {
                tracing::warn!(error = %e, "token agent not started: the data directory cannot be read");
                return;
            }
        };
        if UnixStream::connect(&path).await.is_ok() {
            tracing::info!(
                "token agent not started: another Latchkey app already serves this data directory"
            );
            return;
        }
        let _ = std::fs::remove_file(&path);
        let listener = match UnixListener::bind(&path) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "token agent not started: the socket could not be created (the CLI opens the vault itself)");
                return;
            }
        };
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(error = %e, "token agent not started: the socket's permissions could not be set");
            let _ = std::fs::remove_file(&path);
            return;
        }
        let answer = Arc::new(answer);
        loop {
            let stream = tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "token agent: accept failed");
                        continue;
                    }
                },
            };
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                if let Err(e) = handle(stream, owner, answer.as_ref()).await {
                    tracing::debug!(error = %e, "token agent: a request ended early");
                }
            });
        }
        let _ = std::fs::remove_file(&path);
    }

    async fn handle<F, Fut>(stream: UnixStream, owner: u32, answer: &F) -> std::io::Result<()>
    where
        F: Fn(TokenRequest) -> Fut,
        Fut: Future<Output = Result<TokenInfo, AgentError>>,
    {
        if !peer_allowed(stream.peer_cred().ok().map(|c| c.uid()), owner) {
            // Say nothing to another user's program.
            return Ok(());
        }
        let (read, mut write) = stream.into_split();
        let mut line = Vec::with_capacity(256);
        let mut reader = BufReader::new(read).take(MAX_REQUEST as u64);
        tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let reply = match serde_json::from_slice::<TokenRequest>(&line) {
            Err(_) => encode(&AnswerOut::Error {
                code: "agent.bad_request",
                message: "The request to the menu app was not understood; update the latchkey CLI to the app's version.",
                reconnect: false,
            }),
            Ok(request) => match answer(request).await {
                Ok(info) => encode(&AnswerOut::Token {
                    access_token: info.access_token.expose(),
                    token_type: &info.token_type,
                    expires_at: info.expires_at,
                    scopes: &info.scopes,
                    instance_url: info.instance_url.as_deref(),
                    api_base_url: info.api_base_url.as_deref(),
                    fields: &info.fields,
                    identity: info.identity.as_deref(),
                }),
                Err(AgentError::Unavailable(message)) => {
                    encode(&AnswerOut::Unavailable { message: &message })
                }
                Err(AgentError::Refused {
                    code,
                    message,
                    reconnect,
                }) => encode(&AnswerOut::Error {
                    code: &code,
                    message: &message,
                    reconnect,
                }),
            },
        };
        write.write_all(&reply).await?;
        write.shutdown().await
    }

    /// Only the data directory's owner may ask (an unknown peer never).
    pub(super) fn peer_allowed(peer: Option<u32>, owner: u32) -> bool {
        peer == Some(owner)
    }

    /// Asks the menu app for a token. `Err(Unavailable)` when no app serves this
    /// data directory (or it cannot answer): the caller opens the vault itself.
    pub async fn ask(dir: &Path, request: &TokenRequest) -> Result<TokenInfo, AgentError> {
        let unavailable = |why: &str| AgentError::Unavailable(why.to_owned());
        let mut stream = UnixStream::connect(socket_path(dir))
            .await
            .map_err(|_| unavailable("the menu app is not running"))?;
        let mut line = serde_json::to_vec(request)
            .map_err(|_| unavailable("the request could not be written"))?;
        line.push(b'\n');
        stream
            .write_all(&line)
            .await
            .map_err(|_| unavailable("the menu app closed the connection"))?;
        let mut answer = zeroize::Zeroizing::new(Vec::with_capacity(MAX_ANSWER + 1));
        let mut limited = (&mut stream).take(MAX_ANSWER as u64 + 1);
        match tokio::time::timeout(ANSWER_TIMEOUT, limited.read_to_end(&mut answer)).await {
            Ok(Ok(_)) if answer.len() <= MAX_ANSWER => {}
            Ok(Ok(_)) => return Err(unavailable("the menu app's answer was too large")),
            Ok(Err(_)) => return Err(unavailable("the menu app closed the connection")),
            Err(_) => return Err(unavailable("the menu app did not answer in time")),
        }
        if answer.is_empty() {
            return Err(unavailable(
                "the menu app refused the connection (another user's socket?)",
            ));
        }
        decode(answer.trim_ascii_end())
    }
}

/// On platforms without the agent, there is never one to ask.
#[cfg(not(unix))]
pub async fn ask(_dir: &Path, _request: &TokenRequest) -> Result<TokenInfo, AgentError> {
    Err(AgentError::Unavailable(
        "this platform has no token agent".to_owned(),
    ))
}

/// On platforms without the agent, serving ends at once (the CLI opens the vault itself).
#[cfg(not(unix))]
pub async fn serve<F, Fut>(_dir: PathBuf, _stop: tokio_util::sync::CancellationToken, _answer: F)
where
    F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<TokenInfo, AgentError>> + Send + 'static,
{
    tracing::debug!("token agent: not available on this platform");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TokenInfo {
        TokenInfo {
            access_token: "00Dxx!secret-token".into(),
            token_type: "Bearer".to_owned(),
            expires_at: None,
            scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
            instance_url: Some("https://acme.my.salesforce.com".to_owned()),
            api_base_url: Some("https://acme.my.salesforce.com/services/data/v62.0".to_owned()),
            fields: [(
                "id".to_owned(),
                "https://login.salesforce.com/id/00D/005".to_owned(),
            )]
            .into_iter()
            .collect(),
            identity: Some("ada@acme.example".to_owned()),
        }
    }

    #[test]
    fn a_token_answer_round_trips_every_field() {
        let i = info();
        let line = encode(&AnswerOut::Token {
            access_token: i.access_token.expose(),
            token_type: &i.token_type,
            expires_at: i.expires_at,
            scopes: &i.scopes,
            instance_url: i.instance_url.as_deref(),
            api_base_url: i.api_base_url.as_deref(),
            fields: &i.fields,
            identity: i.identity.as_deref(),
        });
        assert_eq!(line.last(), Some(&b'\n'));
        let back = decode(line.trim_ascii_end()).unwrap();
        assert_eq!(back.access_token.expose(), "00Dxx!secret-token");
        assert_eq!(back.scopes, i.scopes);
        assert_eq!(back.instance_url, i.instance_url);
        assert_eq!(back.api_base_url, i.api_base_url);
        assert_eq!(back.fields, i.fields);
        assert_eq!(back.identity, i.identity);
        assert_eq!(back.expires_at, None);
    }

    #[test]
    fn errors_keep_their_code_and_unavailable_means_fall_back() {
        let refused = decode(
            encode(&AnswerOut::Error {
                code: "connect.not_connected",
                message: "Connect Salesforce first.",
                reconnect: true,
            })
            .trim_ascii_end(),
        )
        .unwrap_err();
        assert_eq!(refused.code(), "connect.not_connected");
        assert_eq!(refused.to_string(), "Connect Salesforce first.");
        assert!(matches!(
            refused,
            AgentError::Refused {
                reconnect: true,
                ..
            }
        ));
        let unavailable = decode(
            encode(&AnswerOut::Unavailable {
                message: "not enrolled",
            })
            .trim_ascii_end(),
        )
        .unwrap_err();
        assert!(matches!(unavailable, AgentError::Unavailable(_)));
        assert!(matches!(
            decode(b"{\"token\":{}}").unwrap_err(),
            AgentError::Unavailable(_)
        ));
    }

    #[test]
    fn requests_with_unknown_fields_are_refused() {
        let ok: TokenRequest = serde_json::from_str(
            r#"{"integration":"salesforce","environment":null,"refresh":false}"#,
        )
        .unwrap();
        assert_eq!(ok.integration, "salesforce");
        assert!(
            serde_json::from_str::<TokenRequest>(
                r#"{"integration":"salesforce","environment":null,"refresh":false,"all":true}"#
            )
            .is_err()
        );
    }

    #[cfg(unix)]
    #[test]
    fn only_the_directory_owner_may_ask() {
        assert!(unix::peer_allowed(Some(1000), 1000));
        assert!(!unix::peer_allowed(Some(1001), 1000));
        assert!(!unix::peer_allowed(None, 1000));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_cli_gets_the_token_the_agent_serves_and_falls_back_without_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let request = TokenRequest {
            integration: "salesforce".to_owned(),
            environment: None,
            refresh: false,
        };
        // No agent: the caller is told to open the vault itself.
        assert!(matches!(
            ask(dir.path(), &request).await.unwrap_err(),
            AgentError::Unavailable(_)
        ));
        let stop = tokio_util::sync::CancellationToken::new();
        let served = tokio::spawn(serve(
            dir.path().to_owned(),
            stop.clone(),
            |r: TokenRequest| async move {
                match r.integration.as_str() {
                    "salesforce" if !r.refresh => Ok(info()),
                    "salesforce" => Err(AgentError::Refused {
                        code: "connect.refresh_failed".to_owned(),
                        message: "Salesforce refused the refresh.".to_owned(),
                        reconnect: false,
                    }),
                    _ => Err(AgentError::Unavailable("unknown here".to_owned())),
                }
            },
        ));
        let path = socket_path(dir.path());
        for _ in 0..200 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the socket is the user's alone");
        let got = ask(dir.path(), &request).await.unwrap();
        assert_eq!(got.access_token.expose(), "00Dxx!secret-token");
        let refused = ask(
            dir.path(),
            &TokenRequest {
                refresh: true,
                ..request.clone()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(refused.code(), "connect.refresh_failed");
        let other = ask(
            dir.path(),
            &TokenRequest {
                integration: "github".to_owned(),
                ..request.clone()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(other, AgentError::Unavailable(_)));
        // A second app on the same directory leaves the first one's socket alone.
        let second = serve(
            dir.path().to_owned(),
            stop.clone(),
            |_r: TokenRequest| async { Err(AgentError::Unavailable("second".to_owned())) },
        );
        second.await;
        assert!(ask(dir.path(), &request).await.is_ok());
        stop.cancel();
        served.await.unwrap();
        assert!(!path.exists(), "the socket is removed when the app stops");
    }
}
