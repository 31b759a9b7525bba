//! Every HTTP route, in one table (one file per API area under `table/`). The router
//! and the OpenAPI document are both built from this table, so they cannot drift
//! apart (a test also checks over HTTP that every documented operation is served,
//! and `tests/openapi.rs` that no route is added outside the table).

pub mod admin;
pub mod admin_accounts;
pub mod client;
pub mod connection_values;
pub mod feed;
pub mod ops;
pub mod org_oauth;
pub mod org_proxy;
pub mod proxy;
pub mod records;
pub mod revocation_orders;
pub mod scim;
pub mod sso;
pub mod updates;

use crate::error::ApiError;
pub use crate::openapi::Body;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Device,
    Admin,
}

/// The documentation half of a route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The request body (a protocol type, whose schema is generated).
    pub body: Body,
    /// The success response's body.
    pub reply: Body,
    /// Success status.
    pub ok: u16,
}

macro_rules! route {
    ($method:ident, $path:literal, $op:literal, $access:ident, $ok:literal, $body:expr, $reply:expr, $summary:literal, $handler:expr) => {
        (
            RouteDoc {
                method: stringify!($method),
                path: $path,
                operation_id: $op,
                access: Access::$access,
                summary: $summary,
                body: $body,
                reply: $reply,
                ok: $ok,
            },
            route!(@router $method, $handler),
        )
    };
    (@router GET, $h:expr) => { axum::routing::get($h) };
    (@router PUT, $h:expr) => { axum::routing::put($h) };
    (@router POST, $h:expr) => { axum::routing::post($h) };
    (@router DELETE, $h:expr) => { axum::routing::delete($h) };
    (@router PATCH, $h:expr) => { axum::routing::patch($h) };
}

mod table;

/// The route table: one list per API area (`table/`), in one place for the router
/// and the OpenAPI document.
pub fn table() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    let mut all = table::public::routes();
    all.extend(table::device::routes());
    all.extend(table::admin::routes());
    all
}

/// The documentation half of the table.
pub fn docs() -> Vec<RouteDoc> {
    table().into_iter().map(|(doc, _)| doc).collect()
}

/// The application router with its middleware.
pub fn router(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for (doc, method_router) in table() {
        // Release artifacts are far larger than any other body: their upload alone gets
        // its own limit (this layer sits inside the global one, so it wins).
        let method_router = if doc.operation_id == admin::releases::UPLOAD_OPERATION {
            method_router.layer(DefaultBodyLimit::max(
                state.config.updates.max_artifact_bytes,
            ))
        } else {
            method_router
        };
        router = router.route(doc.path, method_router);
    }
    let router = scim::routes(router);
    crate::console::routes(router)
        .fallback(|| async {
            ApiError::not_found(
                "no_such_route",
                "There is no such endpoint. See /v1/openapi.json.",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint does not support this method. See /v1/openapi.json.",
            )
        })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Metrics, one access-log line per request (route template only: paths and
/// bodies may hold ids and secrets), and `Cache-Control: no-store`.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let mut response = next.run(req).await;
    state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.observe(&method, &route, status, seconds);
    tracing::info!(method = %method, route = %route, status, ms = seconds * 1000.0, "request");
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response.into_response()
}
