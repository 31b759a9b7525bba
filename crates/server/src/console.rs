//! The admin console: a single-page app (Svelte, built by
//! `scripts/build-console.sh` into `console/dist/`, committed) embedded in the
//! binary and served at `/console`. Every page talks only to the admin API.
//!
//! Served with a strict Content-Security-Policy (scripts and styles from this
//! origin only, no inline code, no framing); hashed assets are cached for a
//! year, the shell is revalidated on every load. Unknown paths under
//! `/console/` get the shell, so the app's own routes survive a reload; a
//! missing file under `/console/assets/` is a plain 404.

use crate::state::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// The console's Content-Security-Policy.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Adds the console routes (outside the API route table: they are pages, not
/// API operations, and are not in the OpenAPI document).
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console", get(shell))
        .route("/console/", get(shell))
        .route("/console/{*path}", get(file))
}

fn find(path: &str) -> Option<&'static [u8]> {
    embedded::ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(
    status: StatusCode,
    ctype: &'static str,
    cache: &'static str,
    body: Vec<u8>,
) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    response
}

/// The app's HTML shell (every console route).
async fn shell() -> Response {
    match find("index.html") {
        Some(html) => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            html.to_vec(),
        ),
        None => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "no-store",
            b"This server was built without the console. Run scripts/build-console.sh and rebuild.\n"
                .to_vec(),
        ),
    }
}

async fn file(Path(path): Path<String>) -> Response {
    if let Some(bytes) = find(&path).filter(|_| path != "index.html") {
        // Vite puts a content hash in every name under assets/: cache forever.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        };
        return respond(StatusCode::OK, content_type(&path), cache, bytes.to_vec());
    }
    if path.starts_with("assets/") {
        return respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no-store",
            b"No such console file. Reload the console.\n".to_vec(),
        );
    }
    shell().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_console_has_a_shell_that_loads_only_its_own_files() {
        let html = std::str::from_utf8(find("index.html").unwrap()).unwrap();
        assert!(html.contains("/console/assets/"), "{html}");
        // No inline script or style: the CSP would block them.
        assert!(
            !html.contains("<script>") && !html.contains("<style"),
            "{html}"
        );
        for (path, _) in embedded::ASSETS {
            assert!(!path.ends_with(".map"), "no source maps in dist: {path}");
        }
    }
}
