//! Every HTTP route, in one table. The router and the OpenAPI document are both
//! built from this table, so they cannot drift apart (a test also checks over
//! HTTP that every documented operation is served).

pub mod admin;
pub mod admin_accounts;
pub mod client;
pub mod feed;
pub mod ops;
pub mod proxy;
pub mod scim;
pub mod sso;
pub mod updates;

use crate::error::ApiError;
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
    /// Request body schema name in the OpenAPI components, if any.
    pub body: Option<&'static str>,
    /// Success status.
    pub ok: u16,
}

macro_rules! route {
    ($method:ident, $path:literal, $op:literal, $access:ident, $ok:literal, $body:expr, $summary:literal, $handler:expr) => {
        (
            RouteDoc {
                method: stringify!($method),
                path: $path,
                operation_id: $op,
                access: Access::$access,
                summary: $summary,
                body: $body,
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

/// The route table.
pub fn table() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        route!(
            GET,
            "/healthz",
            "healthz",
            Public,
            200,
            None,
            "Liveness: the process answers.",
            ops::healthz
        ),
        route!(
            GET,
            "/readyz",
            "readyz",
            Public,
            200,
            None,
            "Readiness: the database answers.",
            ops::readyz
        ),
        route!(
            GET,
            "/metrics",
            "metrics",
            Public,
            200,
            None,
            "Prometheus metrics (text format).",
            ops::metrics
        ),
        route!(
            GET,
            "/v1/openapi.json",
            "openapi",
            Public,
            200,
            None,
            "This OpenAPI document.",
            ops::openapi
        ),
        route!(
            POST,
            "/v1/enroll",
            "enroll",
            Public,
            201,
            Some("Enroll"),
            "Exchange a one-time enrollment code for a device token.",
            admin::enrollment::enroll
        ),
        route!(
            GET,
            "/v1/console/sso",
            "consoleSso",
            Public,
            200,
            None,
            "Whether company sign-in (OpenID Connect) is on, the sign-in button's label, and who may still use a password.",
            sso::info
        ),
        route!(
            GET,
            "/v1/console/sso/start",
            "consoleSsoStart",
            Public,
            302,
            None,
            "Console company sign-in: redirects to the identity provider (PKCE, state, nonce; the sign-in is kept in a sealed cookie for 10 minutes).",
            sso::console_start
        ),
        route!(
            GET,
            "/v1/console/sso/callback",
            "ssoCallback",
            Public,
            302,
            None,
            "The identity provider's answer (console and device sign-ins): to the console with a session, or to the device's loopback listener with a one-time code.",
            sso::callback
        ),
        route!(
            GET,
            "/v1/enroll/sso/start",
            "enrollSsoStart",
            Public,
            302,
            None,
            "Device enrollment by company sign-in: ?redirect_uri=http://127.0.0.1:PORT/PATH&state=S&code_challenge=C&code_challenge_method=S256; redirects to the identity provider.",
            sso::enroll_start
        ),
        route!(
            POST,
            "/v1/enroll/sso/redeem",
            "enrollSsoRedeem",
            Public,
            201,
            Some("SsoRedeem"),
            "Trade the one-time code from a company sign-in (with the PKCE verifier) for a device token; answers like /v1/enroll.",
            sso::redeem
        ),
        route!(
            GET,
            "/v1/me",
            "me",
            Device,
            200,
            None,
            "Who am I: the device, its user and org.",
            client::me
        ),
        route!(
            GET,
            "/v1/integrations",
            "listMyIntegrations",
            Device,
            200,
            None,
            "Integrations enabled for me, with their public configuration.",
            client::integrations
        ),
        route!(
            GET,
            "/v1/records",
            "listMyRecords",
            Device,
            200,
            None,
            "My connection records (optionally ?integration=ID).",
            client::list_records
        ),
        route!(
            GET,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "getRecord",
            Device,
            200,
            None,
            "One connection record; ETag is its version.",
            client::get_record
        ),
        route!(
            PUT,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "putRecord",
            Device,
            200,
            Some("PutRecord"),
            "Write a record: If-None-Match: * to create (201), If-Match: <version> to update; stale → 412.",
            client::put_record
        ),
        route!(
            DELETE,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "deleteRecord",
            Device,
            200,
            None,
            "Delete a record (If-Match: <version> required).",
            client::delete_record
        ),
        route!(
            GET,
            "/v1/revocation-orders",
            "revocationOrders",
            Device,
            200,
            None,
            "The kill switch: orders this device has not answered (revoke a connection at the provider and wipe it), with the integration's public configuration.",
            client::revocation_orders
        ),
        route!(
            POST,
            "/v1/revocation-orders/{id}/receipt",
            "revocationReceipt",
            Device,
            200,
            Some("RevocationReceipt"),
            "The device's receipt for one order: what the provider said and whether the local copy was wiped.",
            client::revocation_receipt
        ),
        route!(
            GET,
            "/v1/proxy/{integration}/{*path}",
            "proxyGet",
            Device,
            200,
            None,
            "API-key proxy: GET toward the integration's base URL, key injected; allowed paths only.",
            proxy::forward
        ),
        route!(
            POST,
            "/v1/proxy/{integration}/{*path}",
            "proxyPost",
            Device,
            200,
            None,
            "API-key proxy: POST (see proxyGet).",
            proxy::forward
        ),
        route!(
            PUT,
            "/v1/proxy/{integration}/{*path}",
            "proxyPut",
            Device,
            200,
            None,
            "API-key proxy: PUT (see proxyGet).",
            proxy::forward
        ),
        route!(
            DELETE,
            "/v1/proxy/{integration}/{*path}",
            "proxyDelete",
            Device,
            200,
            None,
            "API-key proxy: DELETE (see proxyGet).",
            proxy::forward
        ),
        route!(
            GET,
            "/v1/updates/{target}/{arch}/{current_version}",
            "checkForUpdate",
            Device,
            200,
            None,
            "Tauri updater (dynamic server): the newest release for this platform on the device's channel when newer than current_version (Tauri's manifest: version, notes, pub_date, url, signature), else 204. Records the reported version for the console.",
            updates::check
        ),
        route!(
            GET,
            "/v1/updates/artifacts/{release_id}",
            "downloadUpdate",
            Device,
            200,
            None,
            "A live release's artifact (application/octet-stream), the url of the update manifest.",
            updates::artifact
        ),
        route!(
            GET,
            "/v1/events",
            "events",
            Device,
            200,
            None,
            "Change feed (server-sent events); resume with ?since=SEQ or Last-Event-ID.",
            feed::events
        ),
        route!(
            POST,
            "/v1/admin/login",
            "adminLogin",
            Public,
            200,
            Some("Login"),
            "Console sign-in: sets the session cookie, returns the CSRF token.",
            admin_accounts::login
        ),
        route!(
            POST,
            "/v1/admin/setup",
            "adminSetup",
            Public,
            201,
            Some("Setup"),
            "Create the first admin with the one-time setup code printed at start (only while there is no admin).",
            admin_accounts::setup
        ),
        route!(
            POST,
            "/v1/admin/logout",
            "adminLogout",
            Admin,
            204,
            None,
            "Sign out (ends the session, or revokes the API token used).",
            admin_accounts::logout
        ),
        route!(
            POST,
            "/v1/admin/tokens",
            "createAdminToken",
            Admin,
            201,
            Some("CreateToken"),
            "Create a named admin API token for automation (the body is optional); it expires after admin_token_ttl_days.",
            admin_accounts::create_token
        ),
        route!(
            GET,
            "/v1/admin/tokens",
            "listAdminTokens",
            Admin,
            200,
            None,
            "My API tokens with their expiry and last use (never the tokens); ?all=true (owner): everyone's.",
            admin_accounts::list_tokens
        ),
        route!(
            DELETE,
            "/v1/admin/tokens/{id}",
            "revokeAdminToken",
            Admin,
            204,
            None,
            "Revoke an API token: my own, or (owner) anyone's.",
            admin_accounts::revoke_token
        ),
        route!(
            POST,
            "/v1/admin/scim-tokens",
            "createScimToken",
            Admin,
            201,
            Some("CreateScimToken"),
            "Issue a SCIM token for the identity provider (shown once; the body is optional); it expires after ttl_days (default 365).",
            admin::scim_tokens::create
        ),
        route!(
            GET,
            "/v1/admin/scim-tokens",
            "listScimTokens",
            Admin,
            200,
            None,
            "SCIM tokens with their expiry, last use and revocation (never the tokens), and the SCIM base URL.",
            admin::scim_tokens::list
        ),
        route!(
            DELETE,
            "/v1/admin/scim-tokens/{id}",
            "revokeScimToken",
            Admin,
            204,
            None,
            "Revoke a SCIM token: the identity provider's calls with it fail at once.",
            admin::scim_tokens::revoke
        ),
        route!(
            GET,
            "/v1/admin/admins",
            "listAdmins",
            Admin,
            200,
            None,
            "The organisation's admins and their roles, and who I am.",
            admin_accounts::list_admins
        ),
        route!(
            POST,
            "/v1/admin/admins",
            "addAdmin",
            Admin,
            201,
            Some("NewAdmin"),
            "Add an admin (owner only).",
            admin_accounts::add_admin
        ),
        route!(
            DELETE,
            "/v1/admin/admins/{id}",
            "removeAdmin",
            Admin,
            204,
            None,
            "Remove an admin (owner only): their sessions and API tokens end at once.",
            admin_accounts::remove_admin
        ),
        route!(
            POST,
            "/v1/admin/password",
            "changeAdminPassword",
            Admin,
            204,
            Some("PasswordChange"),
            "Change my password (needs the current one); my other console sessions end.",
            admin_accounts::change_password
        ),
        route!(
            GET,
            "/v1/admin/integrations",
            "listIntegrations",
            Admin,
            200,
            None,
            "Configured integrations (secrets shown as set / not set).",
            admin::integrations::list_integrations
        ),
        route!(
            GET,
            "/v1/admin/catalog",
            "listCatalog",
            Admin,
            200,
            None,
            "The provider catalog: every integration that can be enabled, with its auth type, environments, default scopes, required parameters and the callback URL to register.",
            admin::integrations::catalog
        ),
        route!(
            GET,
            "/v1/admin/integrations/{id}",
            "getIntegration",
            Admin,
            200,
            None,
            "One integration's configuration.",
            admin::integrations::get_integration
        ),
        route!(
            PUT,
            "/v1/admin/integrations/{id}",
            "putIntegration",
            Admin,
            200,
            Some("IntegrationInput"),
            "Enable, configure or disable an integration; disabling deletes its records and tells the menus.",
            admin::integrations::put_integration
        ),
        route!(
            DELETE,
            "/v1/admin/integrations/{id}",
            "deleteIntegration",
            Admin,
            204,
            None,
            "Remove an integration's configuration and records.",
            admin::integrations::delete_integration
        ),
        route!(
            POST,
            "/v1/admin/integrations/{id}/test",
            "testIntegration",
            Admin,
            200,
            None,
            "Test connection: the API key against the provider, or the OAuth server's metadata (RFC 8414).",
            proxy::test_connection
        ),
        route!(
            GET,
            "/v1/admin/users",
            "listUsers",
            Admin,
            200,
            None,
            "Users of the org.",
            admin::users::list_users
        ),
        route!(
            GET,
            "/v1/admin/groups",
            "listGroups",
            Admin,
            200,
            None,
            "SCIM groups of the org (id, display_name, member_count), to name in an integration's allowed_groups.",
            admin::groups::list_groups
        ),
        route!(
            POST,
            "/v1/admin/users",
            "inviteUser",
            Admin,
            201,
            Some("InviteUser"),
            "Invite a user: returns a one-time enrollment code and link.",
            admin::users::invite_user
        ),
        route!(
            GET,
            "/v1/admin/users/{id}",
            "getUser",
            Admin,
            200,
            None,
            "One user.",
            admin::users::get_user
        ),
        route!(
            DELETE,
            "/v1/admin/users/{id}",
            "removeUser",
            Admin,
            204,
            None,
            "Remove a user with their devices and records.",
            admin::users::remove_user
        ),
        route!(
            POST,
            "/v1/admin/users/{id}/enrollment",
            "newEnrollment",
            Admin,
            201,
            None,
            "Issue a new enrollment code for a user.",
            admin::enrollment::new_enrollment
        ),
        route!(
            GET,
            "/v1/admin/users/{id}/connections",
            "userConnections",
            Admin,
            200,
            None,
            "A user's connection status (never token material).",
            admin::users::user_connections
        ),
        route!(
            DELETE,
            "/v1/admin/users/{id}/connections/{integration}",
            "disconnectUser",
            Admin,
            200,
            None,
            "Disconnect a user from an integration.",
            admin::users::disconnect
        ),
        route!(
            GET,
            "/v1/admin/devices",
            "listDevices",
            Admin,
            200,
            None,
            "Devices (optionally ?user_id=ID).",
            admin::users::list_devices
        ),
        route!(
            POST,
            "/v1/admin/devices/{id}/revoke",
            "revokeDevice",
            Admin,
            200,
            None,
            "Revoke a device: its token stops working at once.",
            admin::users::revoke_device
        ),
        route!(
            PUT,
            "/v1/admin/devices/{id}/update-channel",
            "setDeviceUpdateChannel",
            Admin,
            200,
            Some("ChannelChange"),
            "Put a device on an update channel: it is offered only that channel's releases.",
            admin::releases::set_device_channel
        ),
        route!(
            POST,
            "/v1/admin/releases",
            "uploadRelease",
            Admin,
            201,
            Some("ReleaseArtifact"),
            "Upload a signed release: the artifact as the body, metadata as query parameters; the signature must verify with updates.public_key.",
            admin::releases::upload
        ),
        route!(
            GET,
            "/v1/admin/releases",
            "listReleases",
            Admin,
            200,
            None,
            "Releases, newest first (size and sha256, never the bytes), withdrawn ones too; and the configured update key.",
            admin::releases::list
        ),
        route!(
            PATCH,
            "/v1/admin/releases/{id}",
            "changeRelease",
            Admin,
            200,
            Some("ChannelChange"),
            "Move a release to another channel (promote beta to stable).",
            admin::releases::change
        ),
        route!(
            DELETE,
            "/v1/admin/releases/{id}",
            "withdrawRelease",
            Admin,
            200,
            None,
            "Withdraw a release: it is never offered or served again.",
            admin::releases::withdraw
        ),
        route!(
            GET,
            "/v1/admin/audit",
            "audit",
            Admin,
            200,
            None,
            "Audit events, newest first: ?limit=N (at most 1000), before=ID (cursor: the previous page's next_before), action=, user=ID (actor, target or subject), integration=ID, since=/until= (ms since the epoch).",
            admin::audit::audit
        ),
    ]
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
