//! Feeds arbitrary token-endpoint answers to the token-response normalizer and
//! validator (`ProviderClient::parse_token_response`) of four catalog entries:
//! Slack (tokens nested in `authed_user`, errors under HTTP 200), Salesforce
//! (string `issued_at` in milliseconds, `instance_url`, no `expires_in`), the
//! demo provider and GitHub (plain RFC 6749). It must never panic, and any
//! token set it accepts must be well-formed.
//!
//! Input: byte 0 picks the provider, bytes 1-2 the HTTP status (200 for most
//! values), the rest is the response body.
#![no_main]

use std::sync::OnceLock;

use latchkey_catalog::{Catalog, Environment, Params};
use latchkey_connect::http::HttpClient;
use latchkey_connect::oauth::ProviderClient;
use latchkey_secret::SecretString;
use libfuzzer_sys::fuzz_target;

const PROVIDERS: [&str; 4] = ["slack", "salesforce", "demo-oauth", "github"];

fn client(index: usize) -> &'static ProviderClient {
    static CLIENTS: [OnceLock<ProviderClient>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    CLIENTS[index].get_or_init(|| {
        let id = PROVIDERS[index];
        let params = if id == "demo-oauth" {
            Params::from([("issuer".into(), "http://127.0.0.1:3000".into())])
        } else {
            Params::new()
        };
        let resolved = Catalog::builtin()
            .unwrap()
            .resolve(id, &Environment::Production, &params)
            .unwrap();
        ProviderClient::new(
            &resolved.name,
            resolved.oauth2().unwrap(),
            "client-id",
            Some(SecretString::from("secret")),
            HttpClient::new().unwrap(),
        )
        .unwrap()
    })
}

/// 200 for three quarters of the values of the first status byte; otherwise
/// any status from 100 to 599, or one outside that range (0-255, 600-855).
fn status(b1: u8, b2: u8) -> u16 {
    match b1 {
        0x00..=0xbf => 200,
        0xfe => u16::from(b2),
        0xff => 600 + u16::from(b2),
        _ => 100 + u16::from_be_bytes([b1 - 0xc0, b2]) % 500,
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, b1, b2, body @ ..] = data else {
        return;
    };
    let status = status(*b1, *b2);
    let provider = client(usize::from(*selector) % PROVIDERS.len());
    let Ok(tokens) = provider.parse_token_response(status, body) else {
        return;
    };
    // Slack's normalizer only ever turns a 2xx into a 400, never the reverse.
    assert!((200..300).contains(&status), "accepted under HTTP {status}");
    let access = tokens.access_token.expose();
    assert!(!access.is_empty(), "empty access token accepted");
    assert!(
        !access.chars().any(char::is_whitespace),
        "access token with whitespace accepted"
    );
    assert_eq!(tokens.token_type, "Bearer");
    if let Some(refresh) = &tokens.refresh_token {
        assert!(!refresh.expose().is_empty(), "empty refresh token accepted");
    }
    if let Some(expires_at) = tokens.expires_at {
        assert!(
            expires_at >= tokens.issued_at,
            "expires_at {expires_at} before issued_at {}",
            tokens.issued_at
        );
    }
    assert!(tokens.scopes.iter().all(|s| !s.is_empty()), "empty scope kept");
    // The validator's contract: the URL parses as https (or loopback http)
    // under the catalog's rule. The stored text itself is not required to be
    // canonical: "https:host" and surrounding whitespace are kept as sent
    // (finding 1 in docs/fuzzing.md), so `starts_with("https://")` would fail.
    if let Some(text) = &tokens.instance_url {
        let url = url::Url::parse(text).expect("accepted an unparsable instance_url");
        assert!(
            latchkey_catalog::check_url_security(&url).is_ok(),
            "instance_url {text:?} is neither https nor loopback"
        );
    }
});
