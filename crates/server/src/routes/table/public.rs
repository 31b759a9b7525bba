//! The public routes: operations (liveness, readiness, metrics, this document),
//! enrollment, and company sign-in for the console and devices.

use super::super::{Access, RouteDoc};
use crate::openapi::Body;
use crate::state::AppState;
use axum::routing::MethodRouter;
use latchkey_protocol::admin;

pub(in crate::routes) fn routes() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        route!(
            GET,
            "/healthz",
            "healthz",
            Public,
            200,
            Body::Empty,
            Body::json::<admin::Health>(),
            "Liveness: the process answers.",
            crate::routes::ops::healthz
        ),
        route!(
            GET,
            "/readyz",
            "readyz",
            Public,
            200,
            Body::Empty,
            Body::json::<admin::Readiness>(),
            "Readiness: the database answers.",
            crate::routes::ops::readyz
        ),
        route!(
            GET,
            "/metrics",
            "metrics",
            Public,
            200,
            Body::Empty,
            Body::Media("text/plain"),
            "Prometheus metrics (text format).",
            crate::routes::ops::metrics
        ),
        route!(
            GET,
            "/v1/openapi.json",
            "openapi",
            Public,
            200,
            Body::Empty,
            Body::Media("application/json"),
            "This OpenAPI document.",
            crate::routes::ops::openapi
        ),
        route!(
            POST,
            "/v1/enroll",
            "enroll",
            Public,
            201,
            Body::json::<latchkey_protocol::device::EnrollRequest>(),
            Body::json::<latchkey_protocol::device::EnrollResponse>(),
            "Exchange a one-time enrollment code for a device token.",
            crate::routes::admin::enrollment::enroll
        ),
        route!(
            GET,
            "/v1/console/sso",
            "consoleSso",
            Public,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::SsoInfo>(),
            "Whether company sign-in (OpenID Connect) is on, the sign-in button's label, and who may still use a password.",
            crate::routes::sso::info
        ),
        route!(
            GET,
            "/v1/console/sso/start",
            "consoleSsoStart",
            Public,
            302,
            Body::Empty,
            Body::Empty,
            "Console company sign-in: redirects to the identity provider (PKCE, state, nonce; the sign-in is kept in a sealed cookie for 10 minutes).",
            crate::routes::sso::console_start
        ),
        route!(
            GET,
            "/v1/console/sso/callback",
            "ssoCallback",
            Public,
            302,
            Body::Empty,
            Body::Empty,
            "The identity provider's answer (console and device sign-ins): to the console with a session, or to the device's loopback listener with a one-time code.",
            crate::routes::sso::callback
        ),
        route!(
            GET,
            "/v1/oauth/callback",
            "orgOAuthCallback",
            Public,
            302,
            Body::Empty,
            Body::Empty,
            "The provider's answer to an org connection's authorization: checked against the admin's session and the connection (state, PKCE, iss), the tokens kept sealed on the server, back to the console.",
            crate::routes::org_oauth::callback
        ),
        route!(
            GET,
            "/v1/enroll/sso/start",
            "enrollSsoStart",
            Public,
            302,
            Body::Empty,
            Body::Empty,
            "Device enrollment by company sign-in: ?redirect_uri=http://127.0.0.1:PORT/PATH&state=S&code_challenge=C&code_challenge_method=S256; redirects to the identity provider.",
            crate::routes::sso::enroll_start
        ),
        route!(
            POST,
            "/v1/enroll/sso/redeem",
            "enrollSsoRedeem",
            Public,
            201,
            Body::json::<latchkey_protocol::device::SsoRedeemRequest>(),
            Body::json::<latchkey_protocol::device::EnrollResponse>(),
            "Trade the one-time code from a company sign-in (with the PKCE verifier) for a device token; answers like /v1/enroll.",
            crate::routes::sso::redeem
        ),
    ]
}
