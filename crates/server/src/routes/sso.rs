//! Company sign-in routes: the console's "Sign in with …" and device enrollment through
//! the browser (`latchkey enroll --sso`), both OpenID Connect authorization-code flows
//! with PKCE, `state` and `nonce`, ending at one callback.
//!
//! Browser-facing steps answer with a redirect or a plain HTML page (a person is
//! looking at it); the device's redeem step answers JSON like `POST /v1/enroll`.
//! Nothing secret goes into a URL except the device's one-time code, and only into
//! its own loopback redirect.

use crate::auth::cookie;
use crate::crypto::TokenKind;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::extract::ClientIp;
use crate::oauth_flow::{IssProblem, check_iss, page, plain_text, redirect, secure};
use crate::routes::admin::enrollment;
use crate::routes::admin_accounts::start_session;
use crate::sso::{
    DEVICE_CODE_TTL_MS, DeviceCode, DeviceReturn, PasswordSignIn, Pending, SsoService,
    loopback_redirect, verifier_matches,
};
use crate::state::{Actor, AppState, Shared, now_millis};
use crate::validate;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use latchkey_protocol::device::{EnrollResponse, SsoInfo, SsoRedeemRequest, SsoStartQuery};
use latchkey_secret::{SecretString, constant_time_eq};
use latchkey_server_database::{Admin, AdminRole, DbError, User};
use serde::Deserialize;
use serde_json::json;

/// The cookie holding the sealed sign-in in progress.
const PENDING_COOKIE: &str = "latchkey_sso";
/// The short-lived cookie handing the console its CSRF token after a company sign-in
/// (read once by the console's script, then deleted): never in a URL.
pub const HANDOVER_COOKIE: &str = "latchkey_sso_handover";
/// Where the provider sends the browser back, for both flows.
const CALLBACK_PATH: &str = "/v1/console/sso/callback";

fn callback_uri(state: &Shared) -> String {
    format!("{}{CALLBACK_PATH}", state.origin)
}

fn refused(code: &str, message: &str) -> Response {
    page(StatusCode::FORBIDDEN, code, "Sign-in refused", message)
}

fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "sso.not_configured",
        "Company sign-in is off",
        "This Latchkey server has no company sign-in configured. Sign in with your password, or ask your admin to set up SSO (docs/sso.md).",
    )
}

fn clear_pending(state: &Shared) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{PENDING_COOKIE}=; Path=/v1/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(state)
    ))
    .unwrap_or(HeaderValue::from_static(
        "latchkey_sso=; Path=/v1/; Max-Age=0",
    ))
}

/// Whether company sign-in is on, and the button's words (public: the sign-in page asks).
pub async fn info(State(state): State<AppState>) -> Json<SsoInfo> {
    use latchkey_protocol::device::PasswordSignIn as Wire;
    Json(match &state.sso {
        Some(sso) => SsoInfo {
            enabled: true,
            label: Some(sso.config.label.clone()),
            password_sign_in: match sso.config.password_sign_in {
                PasswordSignIn::All => Wire::All,
                PasswordSignIn::OwnerOnly => Wire::OwnerOnly,
            },
        },
        None => SsoInfo {
            enabled: false,
            label: None,
            password_sign_in: Wire::All,
        },
    })
}

/// Sends the browser to the provider with a fresh sealed sign-in in its cookie.
async fn start(state: &Shared, sso: &SsoService, device: Option<DeviceReturn>) -> Response {
    let pending = match Pending::new(device) {
        Ok(p) => p,
        Err(_) => return internal(),
    };
    let url = match sso.authorization_url(&pending, &callback_uri(state)).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "company sign-in could not start");
            return page(
                StatusCode::BAD_GATEWAY,
                e.code(),
                "The identity provider cannot be reached",
                &e.to_string(),
            );
        }
    };
    let Ok(sealed) = pending.seal(&state.key) else {
        return internal();
    };
    let Ok(cookie) = HeaderValue::from_str(&format!(
        "{PENDING_COOKIE}={sealed}; Path=/v1/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        crate::sso::PENDING_TTL_MS / 1000,
        secure(state)
    )) else {
        return internal();
    };
    redirect(url.as_str(), &[cookie])
}

fn internal() -> Response {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong",
        "The server hit an internal error. Try again; if it persists, check the server logs.",
    )
}

/// `GET /v1/console/sso/start`: an admin's company sign-in.
pub async fn console_start(State(state): State<AppState>) -> Response {
    let Some(sso) = state.sso.clone() else {
        return not_configured();
    };
    start(&state, &sso, None).await
}

/// `GET /v1/enroll/sso/start`: a device's company sign-in, back to its loopback listener.
pub async fn enroll_start(
    State(state): State<AppState>,
    Query(q): Query<SsoStartQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return not_configured();
    };
    let bad =
        |code: &str, message: &str| page(StatusCode::BAD_REQUEST, code, "Cannot start", message);
    let Some(redirect_uri) = loopback_redirect(&q.redirect_uri) else {
        return bad(
            "sso.bad_redirect_uri",
            "The device's redirect_uri must be http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH (its loopback listener). Start again from `latchkey enroll --sso`.",
        );
    };
    let plain = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    };
    if !plain(&q.state, 256) {
        return bad(
            "sso.bad_state",
            "The device's state must be 1 to 256 unreserved characters. Start again from `latchkey enroll --sso`.",
        );
    }
    if q.code_challenge_method != "S256"
        || q.code_challenge.len() != 43
        || !plain(&q.code_challenge, 43)
    {
        return bad(
            "sso.bad_challenge",
            "The device must send a PKCE code_challenge with code_challenge_method=S256. Update Latchkey and start again.",
        );
    }
    start(
        &state,
        &sso,
        Some(DeviceReturn {
            redirect_uri,
            state: q.state,
            code_challenge: q.code_challenge,
        }),
    )
    .await
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<SecretString>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /v1/console/sso/callback`: the provider's answer, for both flows.
pub async fn callback(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return not_configured();
    };
    let clear = clear_pending(&state);
    let with_clear = |mut r: Response| {
        r.headers_mut().append(header::SET_COOKIE, clear.clone());
        r
    };
    let Some(pending) = cookie(&headers, PENDING_COOKIE).and_then(|c| Pending::open(&state.key, c))
    else {
        return with_clear(page(
            StatusCode::BAD_REQUEST,
            "sso.no_pending_sign_in",
            "Sign-in not recognised",
            "This browser has no company sign-in in progress (it was started in another browser, finished already, or is older than 10 minutes). Start the sign-in again.",
        ));
    };
    if pending.expires_at <= now_millis() {
        return with_clear(page(
            StatusCode::BAD_REQUEST,
            "sso.sign_in_expired",
            "Sign-in took too long",
            "This sign-in was started more than 10 minutes ago. Start it again.",
        ));
    }
    let state_ok = q
        .state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
    if !state_ok {
        return with_clear(page(
            StatusCode::BAD_REQUEST,
            "sso.state_mismatch",
            "Sign-in not recognised",
            "This answer from the identity provider does not belong to the sign-in this browser started, so it was refused. Start the sign-in again.",
        ));
    }
    if !sso.use_state(&pending.state, pending.expires_at) {
        return with_clear(page(
            StatusCode::BAD_REQUEST,
            "sso.state_used",
            "Sign-in already used",
            "This sign-in was already completed; an answer can be used only once. Start the sign-in again.",
        ));
    }
    // RFC 9207: a provider that says it names itself must do so, and correctly.
    let sends_iss = sso.sends_iss().await.unwrap_or(true);
    match check_iss(q.iss.as_deref(), &sso.config.issuer, sends_iss) {
        Err(IssProblem::Wrong) => {
            return with_clear(refused(
                "sso.wrong_issuer",
                "This answer came from another identity provider than the configured one, so it was refused. Start the sign-in again from Latchkey.",
            ));
        }
        Err(IssProblem::Missing) => {
            return with_clear(refused(
                "sso.issuer_missing",
                "The identity provider's answer does not name the provider (iss), which it says it always does, so it was refused. Start the sign-in again.",
            ));
        }
        Ok(()) => {}
    }
    if let Some(error) = q.error.as_deref() {
        let error = plain_text(error, 64);
        let description = q
            .error_description
            .as_deref()
            .map(|d| format!(": {}", plain_text(d, 200)))
            .unwrap_or_default();
        return with_clear(fail(
            &pending,
            "sso.provider_refused",
            &format!(
                "The identity provider did not sign you in ({error}{description}). Start again, or ask your IT team if you should have access."
            ),
        ));
    }
    let Some(code) = q.code.as_ref().filter(|c| !c.expose().is_empty()) else {
        return with_clear(page(
            StatusCode::BAD_REQUEST,
            "sso.no_code",
            "Sign-in not recognised",
            "The identity provider's answer has neither a code nor an error. Start the sign-in again.",
        ));
    };
    let signed_in = match sso.finish(code, &pending, &callback_uri(&state)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "company sign-in failed");
            return with_clear(fail(&pending, e.code(), &e.to_string()));
        }
    };
    let claims = signed_in.claims;
    let Some(email) = claims
        .email
        .as_deref()
        .and_then(|e| validate::normalize_email(e).ok())
    else {
        return with_clear(fail(
            &pending,
            "sso.no_email",
            "The identity provider did not say who you are by email. Ask your IT team to release the email claim to Latchkey.",
        ));
    };
    if !claims.email_verified {
        return with_clear(fail(
            &pending,
            "sso.email_unverified",
            "The identity provider does not vouch for your email address (email_verified). Verify it there, then sign in again.",
        ));
    }
    if !sso.config.domain_allowed(&email) {
        return with_clear(fail(
            &pending,
            "sso.domain_not_allowed",
            "Your email domain is not allowed to sign in to this Latchkey. Sign in with your company account, or ask your admin.",
        ));
    }
    let outcome = match &pending.device {
        None => console_sign_in(&state, &sso, &email, &claims.groups, &claims.subject).await,
        Some(device) => device_sign_in(&state, &sso, &email, claims.name.as_deref(), device).await,
    };
    with_clear(match outcome {
        Ok(response) => response,
        Err(e) => fail(&pending, &e.code, &e.message),
    })
}

/// A refusal after the state was checked: a console sign-in sees a page; a device's
/// listener gets the error (it shows it in the terminal) with its own state.
fn fail(pending: &Pending, code: &str, message: &str) -> Response {
    match &pending.device {
        None => refused(code, message),
        Some(device) => match url::Url::parse(&device.redirect_uri) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .append_pair("error", code)
                    .append_pair("error_description", message)
                    .append_pair("state", &device.state);
                redirect(url.as_str(), &[])
            }
            Err(_) => refused(code, message),
        },
    }
}

/// Maps a signed-in person to an admin (existing by email, or new through the admin
/// group) and starts their console session.
async fn console_sign_in(
    state: &Shared,
    sso: &SsoService,
    email: &str,
    groups: &[String],
    subject: &str,
) -> ApiResult<Response> {
    let in_group = sso
        .config
        .admin_group
        .as_ref()
        .is_some_and(|g| groups.iter().any(|x| x == g));
    let admin = match state.db.admin_by_email(&state.org.id, email).await? {
        Some(admin) => admin,
        None if in_group => create_sso_admin(state, email).await?,
        None => {
            let journal = state.journal(
                &Actor::System,
                "admin.login_failed",
                None,
                json!({ "email": email, "method": "sso", "reason": "not_an_admin" }),
                vec![],
            );
            state.db.append_audit(&journal.audit).await?;
            return Err(ApiError::forbidden(
                "sso.not_an_admin",
                "You signed in, but you are not a Latchkey admin. Ask an admin to add you, or to put you in the admin group.",
            ));
        }
    };
    let started = start_session(
        state,
        &admin,
        json!({ "method": "sso", "subject": subject }),
    )
    .await?;
    let handover = format!(
        "{HANDOVER_COOKIE}={}|{}|{}; Path=/console; Max-Age=60; SameSite=Strict{}",
        started.csrf.expose(),
        started.expires_at,
        url::form_urlencoded::byte_serialize(admin.email.as_bytes()).collect::<String>(),
        secure(state)
    );
    let handover = HeaderValue::from_str(&handover).map_err(|_| ApiError::internal())?;
    Ok(redirect("/console/", &[started.cookie, handover]))
}

/// A console admin created on first company sign-in through the admin group. Its
/// password is random and never shown: it signs in with the company account only.
async fn create_sso_admin(state: &Shared, email: &str) -> ApiResult<Admin> {
    let password = SecretString::new(crate::sso::random_text()?);
    match crate::routes::admin_accounts::create_admin_with_role(
        state,
        &Actor::System,
        email,
        password,
        AdminRole::Admin,
    )
    .await
    {
        Ok(admin) => Ok(admin),
        // Created by a parallel sign-in a moment ago.
        Err(e) if e.code == ErrorCode::ADMIN_EXISTS => state
            .db
            .admin_by_email(&state.org.id, email)
            .await?
            .ok_or_else(ApiError::internal),
        Err(e) => Err(e),
    }
}

/// Finds (or, when allowed, creates) the user and sends the browser back to the
/// device's listener with a one-time code.
async fn device_sign_in(
    state: &Shared,
    sso: &SsoService,
    email: &str,
    name: Option<&str>,
    device: &DeviceReturn,
) -> ApiResult<Response> {
    let existing = state
        .db
        .list_users(&state.org.id)
        .await?
        .into_iter()
        .find(|u| u.email == email);
    let user = match existing {
        Some(user) => user,
        None if sso.config.jit_users && sso.config.domain_listed(email) => {
            create_sso_user(state, email, name).await?
        }
        None => {
            return Err(ApiError::forbidden(
                "sso.unknown_user",
                "You signed in, but your admin has not added you to Latchkey yet. Ask them to invite you, then run the enrollment again.",
            ));
        }
    };
    if !user.active {
        return Err(ApiError::forbidden(
            "sso.user_inactive",
            "You signed in, but your company has deactivated your Latchkey account, so this computer cannot be enrolled. Ask your admin.",
        ));
    }
    let (enrollment_code, _) = enrollment::issue_code(state, &user, DEVICE_CODE_TTL_MS).await?;
    let code = DeviceCode {
        enrollment_code: enrollment_code.expose().to_owned(),
        code_challenge: device.code_challenge.clone(),
        expires_at: now_millis().saturating_add(DEVICE_CODE_TTL_MS),
    }
    .seal(&state.key)
    .map_err(|_| ApiError::internal())?;
    let mut url = url::Url::parse(&device.redirect_uri).map_err(|_| ApiError::internal())?;
    url.query_pairs_mut()
        .append_pair("code", code.expose())
        .append_pair("state", &device.state);
    Ok(redirect(url.as_str(), &[]))
}

async fn create_sso_user(state: &Shared, email: &str, name: Option<&str>) -> ApiResult<User> {
    let display_name = name
        .map(|n| plain_text(n.trim(), 100))
        .filter(|n| validate::name("display_name", n).is_ok())
        .unwrap_or_else(|| email.to_owned());
    let user = User::new(
        crate::crypto::new_id()?,
        state.org.id.clone(),
        email.to_owned(),
        display_name,
        now_millis(),
    );
    let journal = state.journal(
        &Actor::System,
        "user.create",
        Some(&user.id),
        json!({ "email": user.email, "method": "sso_jit" }),
        vec![],
    );
    match state.db.create_user(&user, &journal).await {
        Ok(()) => Ok(user),
        Err(DbError::AlreadyExists(_)) => state
            .db
            .list_users(&state.org.id)
            .await?
            .into_iter()
            .find(|u| u.email == email)
            .ok_or_else(ApiError::internal),
        Err(e) => Err(e.into()),
    }
}

fn code_invalid() -> ApiError {
    ApiError::unauthorized(
        ErrorCode::SSO_CODE_INVALID,
        "This sign-in code is not valid (it was not made by this server, or the device's proof does not match). Run `latchkey enroll --sso` again.",
    )
}

/// `POST /v1/enroll/sso/redeem`: the device trades its one-time code (with the PKCE
/// verifier only it knows) for a device token, exactly as code enrollment does.
pub async fn redeem(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<SsoRedeemRequest>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    state
        .auth_limiter
        .check(&format!("enroll-ip:{peer}"))
        .map_err(ApiError::too_many)?;
    if state.sso.is_none() {
        return Err(ApiError::not_found(
            ErrorCode::SSO_NOT_CONFIGURED,
            "This Latchkey server has no company sign-in configured. Enroll with the link from your admin.",
        ));
    }
    validate::name("device_name", &body.device_name)?;
    let code = DeviceCode::open(&state.key, body.code.expose()).ok_or_else(code_invalid)?;
    if !verifier_matches(body.code_verifier.expose(), &code.code_challenge) {
        return Err(code_invalid());
    }
    if code.expires_at <= now_millis() {
        return Err(ApiError::unauthorized(
            ErrorCode::SSO_CODE_EXPIRED,
            "This sign-in code has expired (they last 2 minutes). Run `latchkey enroll --sso` again.",
        ));
    }
    let enrollment_code = SecretString::new(code.enrollment_code);
    if !TokenKind::Enrollment.matches(enrollment_code.expose()) {
        return Err(code_invalid());
    }
    let enrolled = enrollment::redeem(
        &state,
        &enrollment_code,
        &body.device_name,
        json!({ "method": "sso" }),
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::ENROLLMENT_CODE_USED {
            ApiError::unauthorized(
                ErrorCode::SSO_CODE_USED,
                "This sign-in code was already used; each works once. Run `latchkey enroll --sso` again.",
            )
        } else if e.code == ErrorCode::ENROLLMENT_CODE_EXPIRED {
            ApiError::unauthorized(
                ErrorCode::SSO_CODE_EXPIRED,
                "This sign-in code has expired (they last 2 minutes). Run `latchkey enroll --sso` again.",
            )
        } else if e.code == ErrorCode::ENROLLMENT_CODE_INVALID {
            code_invalid()
        } else {
            e
        }
    })?;
    Ok((StatusCode::CREATED, Json(enrolled)))
}
