//! Enrollment: the one-time codes an admin issues for a user (with their
//! `latchkey://` link), and the public endpoint where a device trades a code for
//! its device token. Issuing and redeeming live together so the code's format,
//! lifetime and hashing are decided in one file.

use super::users::user_not_found;
use super::validate;
use crate::auth::AdminAuth;
use crate::crypto::{TokenKind, new_id, new_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::extract::ClientIp;
use crate::routes::client::{device_info, user_info};
use crate::state::{Actor, AppState, Shared, now_millis};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latchkey_protocol::admin::{Enrollment, NewEnrollment, ShownOnce};
use latchkey_protocol::device::{EnrollRequest, EnrollResponse};
use latchkey_secret::SecretString;
use latchkey_server_database::{DbError, Device, EnrollmentCode, User};
use serde_json::{Value, json};

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Issues a one-time enrollment code for `user` and its `latchkey://` link.
pub(super) async fn issue_enrollment(state: &Shared, user: &User) -> ApiResult<Enrollment> {
    let ttl_ms = i64::try_from(state.config.enrollment_code_ttl_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX);
    let (code, expires_at) = issue_code(state, user, ttl_ms).await?;
    let link = format!(
        "latchkey://enroll?server={}&code={}",
        url_encode(&state.origin),
        url_encode(code.expose())
    );
    Ok(Enrollment {
        code: ShownOnce::new(code.expose()),
        link: ShownOnce::new(link),
        expires_at,
    })
}

/// Stores a new one-time enrollment code for `user` living `ttl_ms`; returns it and its
/// expiry. Company sign-in uses these too, so one-use is kept by the database for both,
/// and a user deactivated by the identity provider gets none either way.
pub(crate) async fn issue_code(
    state: &Shared,
    user: &User,
    ttl_ms: i64,
) -> ApiResult<(SecretString, i64)> {
    if !user.active {
        return Err(ApiError::conflict(
            "user_inactive",
            "This user was deactivated by your identity provider (SCIM), so they cannot enroll. Reactivate them in the identity provider first.",
        ));
    }
    let code = new_token(TokenKind::Enrollment)?;
    let now = now_millis();
    let expires_at = now.saturating_add(ttl_ms);
    state
        .db
        .insert_enrollment_code(&EnrollmentCode {
            id: new_id()?,
            org_id: state.org.id.clone(),
            user_id: user.id.clone(),
            code_hash: token_hash(code.expose()),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((code, expires_at))
}

pub async fn new_enrollment(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<NewEnrollment>)> {
    let user = state
        .db
        .user_by_id(&state.org.id, &id)
        .await?
        .ok_or_else(user_not_found)?;
    let enrollment = issue_enrollment(&state, &user).await?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "user.enrollment",
        Some(&user.id),
        json!({}),
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    Ok((StatusCode::CREATED, Json(NewEnrollment { enrollment })))
}

pub async fn enroll(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    state
        .auth_limiter
        .check(&format!("enroll-ip:{}", peer))
        .map_err(ApiError::too_many)?;
    validate::name("device_name", &body.device_name)?;
    if !TokenKind::Enrollment.matches(body.code.expose()) {
        return Err(DbError::Code(latchkey_server_database::CodeProblem::Unknown).into());
    }
    let enrolled = redeem(&state, &body.code, &body.device_name, json!({})).await?;
    Ok((StatusCode::CREATED, Json(enrolled)))
}

/// Trades an enrollment code for a new device and its token: the answer of
/// `POST /v1/enroll`, shared with company sign-in's redeem. `how` goes into the audit.
pub(crate) async fn redeem(
    state: &Shared,
    code: &SecretString,
    device_name: &str,
    how: Value,
) -> ApiResult<EnrollResponse> {
    let token = new_token(TokenKind::Device)?;
    let now = now_millis();
    let device = Device {
        id: new_id()?,
        org_id: state.org.id.clone(),
        user_id: String::new(),
        name: device_name.trim().to_owned(),
        token_hash: token_hash(token.expose()),
        created_at: now,
        last_seen_at: None,
        revoked_at: None,
        update_channel: latchkey_server_database::DEFAULT_UPDATE_CHANNEL.to_owned(),
        app: None,
    };
    let mut detail = json!({ "device_name": device.name });
    if let (Some(d), Value::Object(extra)) = (detail.as_object_mut(), how) {
        d.extend(extra);
    }
    let journal = state.journal(&Actor::System, "device.enroll", None, detail, vec![]);
    let (device, user) = state
        .db
        .redeem_enrollment_code(&token_hash(code.expose()), now, &device, &journal)
        .await?;
    Ok(EnrollResponse {
        device_token: token,
        device: device_info(&device),
        user: user_info(&user),
        server: state.origin.clone(),
    })
}
