//! Feeds arbitrary request heads to the loopback listener's request parser and
//! judge (`loopback::fuzz_callback`). It must never panic, and it must only
//! accept a `GET /callback/fuzz` whose query carries exactly one `state`
//! equal to the expected one, an `iss` (when present, or when required) equal
//! to the expected issuer, no `error`, and a non-empty `code`.
//!
//! Input: bit 0 of byte 0 is `require_iss`; the rest is the request head.
#![no_main]

use latchkey_connect::loopback::fuzz_callback;
use libfuzzer_sys::fuzz_target;

/// 43 characters, like a base64url-encoded 256-bit state.
const STATE: &str = "sssssssssssssssssssssssssssssssssssssssssss";
const ISSUER: &str = "http://127.0.0.1:3000";

fuzz_target!(|data: &[u8]| {
    let [flags, head @ ..] = data else {
        return;
    };
    let require_iss = flags & 1 == 1;
    let verdict = fuzz_callback(head, STATE, Some(ISSUER), require_iss);
    let known = matches!(
        verdict.as_str(),
        "unparsable" | "not_ours" | "stale" | "accepted"
    ) || verdict.starts_with("failed:");
    assert!(known, "unknown verdict {verdict:?}");
    if verdict == "accepted" {
        check_accepted(head, require_iss);
    }
});

/// Re-derives, independently and naively, why the request was accepted.
fn check_accepted(head: &[u8], require_iss: bool) {
    let text = std::str::from_utf8(head).expect("accepted a non-UTF-8 head");
    let line = text.lines().next().expect("accepted an empty head");
    let mut parts = line.split(' ');
    assert_eq!(parts.next(), Some("GET"), "accepted another method: {line:?}");
    let target = parts.next().expect("no target");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    assert_eq!(path, "/callback/fuzz", "accepted another path: {line:?}");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let values = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("state"), [STATE], "accepted with a wrong state: {line:?}");
    assert!(values("error").is_empty(), "accepted an error response: {line:?}");
    let code = values("code");
    assert!(code.len() == 1 && !code[0].is_empty(), "accepted without one code: {line:?}");
    match values("iss").as_slice() {
        [] => assert!(!require_iss, "accepted without the required iss: {line:?}"),
        [iss] => assert_eq!(*iss, ISSUER, "accepted a wrong iss: {line:?}"),
        _ => panic!("accepted a repeated iss: {line:?}"),
    }
}
