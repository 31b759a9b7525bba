//! The browser half of an OAuth authorization-code flow the server runs itself, shared by
//! the console's company sign-in (`routes::sso`) and the authorization of org connections
//! (`routes::org_oauth`): random state and PKCE values, the flow in progress sealed with
//! the server key into a short-lived HttpOnly SameSite=Lax cookie (bound to the browser
//! that started it, no table), one use per state, the RFC 9207 `iss` check, and the plain
//! pages and redirects a person in the browser sees.

use crate::crypto::{self, ServerKey};
use crate::state::{Shared, now_millis};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// 256 random bits, base64url.
pub fn random_text() -> Result<String, crypto::CryptoError> {
    let mut raw = [0u8; 32];
    crypto::random_bytes(&mut raw)?;
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Seals a flow in progress for its cookie; `context` keeps one kind of flow from being
/// replayed as another.
pub fn seal_pending<T: Serialize>(key: &ServerKey, context: &str, value: &T) -> Option<String> {
    let json = serde_json::to_vec(value).ok()?;
    let sealed = key.seal(context, &json).ok()?;
    Some(URL_SAFE_NO_PAD.encode(sealed))
}

/// `None` for anything this server did not seal under `context` (or sealed under an older key).
pub fn open_pending<T: DeserializeOwned>(
    key: &ServerKey,
    context: &str,
    cookie: &str,
) -> Option<T> {
    let sealed = URL_SAFE_NO_PAD.decode(cookie).ok()?;
    let json = key.open(context, &sealed).ok()?;
    serde_json::from_str(json.expose()).ok()
}

/// The `Set-Cookie` value holding a sealed flow (`Path=/v1/`, HttpOnly, SameSite=Lax:
/// it must come back on the provider's top-level redirect), or clearing it (`None`).
pub fn pending_cookie(state: &Shared, name: &str, sealed: Option<&str>) -> Option<HeaderValue> {
    let (value, age) = match sealed {
        Some(v) => (v, PENDING_TTL_MS / 1000),
        None => ("", 0),
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/v1/; HttpOnly; SameSite=Lax; Max-Age={age}{}",
        secure(state)
    ))
    .ok()
}

/// How long a flow may take between its start and the callback.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// The states already accepted (SHA-256 of each, with when it stops mattering): each
/// callback is accepted once; the provider's one-use codes back this up across replicas.
#[derive(Default)]
pub struct UsedStates(std::sync::Mutex<HashMap<Vec<u8>, i64>>);

impl UsedStates {
    /// Accepts `state` once; `false` if it was accepted before.
    pub fn use_state(&self, state: &str, expires_at: i64) -> bool {
        let now = now_millis();
        let mut used = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        used.retain(|_, until| *until > now);
        used.insert(crypto::token_hash(state), expires_at).is_none()
    }
}

/// Why an authorization response's issuer was refused (RFC 9207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssProblem {
    /// Another issuer than the one the flow was started with (mix-up attack).
    Wrong,
    /// None, from a provider that says it always sends one.
    Missing,
}

/// The RFC 9207 check: a provider that names itself must do so correctly, and one that
/// says it always does (`sends_iss`) must not leave it out.
pub fn check_iss(
    received: Option<&str>,
    expected: &str,
    sends_iss: bool,
) -> Result<(), IssProblem> {
    match received {
        Some(iss) if iss != expected => Err(IssProblem::Wrong),
        None if sends_iss => Err(IssProblem::Missing),
        _ => Ok(()),
    }
}

pub fn secure(state: &Shared) -> &'static str {
    if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

/// A plain page for the person in the browser: what happened, what to do, and the code.
pub fn page(status: StatusCode, code: &str, title: &str, message: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p id=\"message\">{m}</p><p><small>Code: <code id=\"code\">{c}</code></small></p>\
         <p><a href=\"/console/\">Back to the Latchkey console</a></p></body></html>",
        t = esc(title),
        m = esc(message),
        c = esc(code)
    );
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A 302 to `location`, setting `cookies`.
pub fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    response
}

/// Printable, short, no markup: for the provider's own words on a page.
pub fn plain_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iss_check_refuses_another_issuer_and_a_missing_one_when_promised() {
        let me = "https://login.example";
        assert_eq!(check_iss(Some(me), me, true), Ok(()));
        assert_eq!(check_iss(None, me, false), Ok(()));
        assert_eq!(
            check_iss(Some("https://evil.example"), me, false),
            Err(IssProblem::Wrong)
        );
        assert_eq!(check_iss(None, me, true), Err(IssProblem::Missing));
    }

    #[test]
    fn a_state_is_accepted_once() {
        let used = UsedStates::default();
        let until = now_millis() + 60_000;
        assert!(used.use_state("s1", until));
        assert!(!used.use_state("s1", until));
        assert!(used.use_state("s2", until));
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
