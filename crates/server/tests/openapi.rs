//! The OpenAPI document stays the one contract: the server serves the document
//! generated from its route table and protocol types, `docs/openapi.json` is that
//! document as committed, and no route is added outside the table (where it would
//! be served undocumented). That every documented route is served is checked over
//! HTTP by the storage stories (`openapi_document_matches_the_routes`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_server::Config;
use latchkey_server::openapi::{REGENERATE, document, pretty};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    latchkey_server::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let config = Config::for_tests(dir.path(), Some(url)).unwrap();
    let server = latchkey_server::start(config).await.unwrap();
    let served: serde_json::Value = reqwest::get(format!("{}/v1/openapi.json", server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.shutdown().await.unwrap();
    assert!(
        served == document(),
        "the server serves another document than latchkey_server::openapi::document()"
    );
}

#[test]
fn the_committed_document_is_fresh() {
    let path = repo_root().join("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == pretty(),
        "{} is stale (the route table or the protocol types changed): run `{REGENERATE}`, \
         then scripts/gen-console-types.sh, and commit both",
        path.display()
    );
}

/// Every `.route(` call in `dir`'s Rust files, with the first string literal after it.
fn route_calls(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            route_calls(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices(".route(") {
                let rest = &text[at + ".route(".len()..];
                let literal = rest
                    .trim_start()
                    .strip_prefix('"')
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("<not a literal>");
                out.push((path.clone(), literal.to_owned()));
            }
        }
    }
}

#[test]
fn no_route_is_added_outside_the_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut calls = Vec::new();
    route_calls(&src, &mut calls);
    // The table's loop, SCIM (its schemas are RFC 7643's, served at /scim/v2) and the
    // console's static files are the only other places that add routes.
    let table = src.join("routes/mod.rs");
    let outside: Vec<_> = calls
        .iter()
        .filter(|(file, path)| {
            !(*file == table && path == "<not a literal>"
                || path == "/scim/v2"
                || path.starts_with("/scim/v2/")
                || path == "/console"
                || path.starts_with("/console/"))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "routes added outside the route table (crate::routes::table), so missing from the OpenAPI document: {outside:?}"
    );
    assert!(
        calls.iter().any(|(f, _)| *f == table),
        "the table's router loop was not found: {calls:?}"
    );
}
