//! The admins themselves: creating them (first with the one-time setup code), signing
//! in and out, their API tokens (named, expiring, listed with their last use, revocable)
//! and passwords, and the owner's power to remove an admin, whose sessions and tokens
//! end at once with them.
//!
//! Sign-in is slowed per source address (a token bucket) and per account (a backoff
//! that doubles up to a minute and skips addresses the admin signed in from before), so
//! guessing is slow and no one can lock an admin out. Every sign-in, failed sign-in and
//! sign-out is in the audit log.

use crate::auth::{AdminAuth, SESSION_COOKIE};
use crate::crypto::{self, TokenKind, new_id, new_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::ClientIp;
use crate::extract::{ApiJson, OptionalJson};
use crate::state::{Actor, AppState, Shared, now_millis};
use crate::validate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::admin::{
    self as wire, AdminCreated, AdminList, CreateToken, CreatedToken, Login, NewAdmin,
    PasswordChange, Setup, ShownOnce, SignedIn, TokenList,
};
use latchkey_secret::SecretString;
use latchkey_server_database::{
    Admin, AdminCredential, AdminRole, CredentialKind, DbError, Journal,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;

// ---- operations shared by the HTTP API and the command line ----

/// Creates an admin with an Argon2id password hash: the org's first admin is its
/// owner, later ones are admins.
pub async fn create_admin(state: &Shared, email: &str, password: SecretString) -> ApiResult<Admin> {
    let role = if state.db.count_admins(&state.org.id).await? == 0 {
        AdminRole::Owner
    } else {
        AdminRole::Admin
    };
    create_admin_with_role(state, &Actor::System, email, password, role).await
}

/// Creates an admin with `role`, audited as done by `actor`.
pub async fn create_admin_with_role(
    state: &Shared,
    actor: &Actor,
    email: &str,
    password: SecretString,
    role: AdminRole,
) -> ApiResult<Admin> {
    let (admin, journal) = new_admin(state, actor, email, password, role).await?;
    state
        .db
        .create_admin(&admin, &journal)
        .await
        .map_err(|e| match e {
            DbError::AlreadyExists(_) => {
                ApiError::conflict("admin_exists", "An admin with this email already exists.")
            }
            other => other.into(),
        })?;
    Ok(admin)
}

/// Checks a new password's length and hashes it (Argon2id, off the async threads).
async fn hash_new_password(password: SecretString) -> ApiResult<String> {
    if password.len() < 12 {
        return Err(ApiError::unprocessable(
            "weak_password",
            "Admin passwords need at least 12 characters.",
        ));
    }
    Ok(
        tokio::task::spawn_blocking(move || crypto::hash_password(&password))
            .await
            .map_err(|_| ApiError::internal())??,
    )
}

/// Validates and hashes a new admin (not yet stored) and its audit event.
async fn new_admin(
    state: &Shared,
    actor: &Actor,
    email: &str,
    password: SecretString,
    role: AdminRole,
) -> ApiResult<(Admin, Journal)> {
    let email = validate::normalize_email(email)?;
    let hash = hash_new_password(password).await?;
    let admin = Admin {
        id: new_id()?,
        org_id: state.org.id.clone(),
        email,
        password_hash: hash,
        role,
        created_at: now_millis(),
    };
    let journal = state.journal(
        actor,
        "admin.create",
        Some(&admin.id),
        json!({ "email": admin.email, "role": role.as_str() }),
        vec![],
    );
    Ok((admin, journal))
}

/// How long the setup code printed at start stays valid.
pub const SETUP_CODE_TTL_MS: i64 = 60 * 60 * 1000;

/// While the org has no admin: issues (replacing any previous) a one-time setup
/// code for creating the first admin over HTTP. `None` once an admin exists.
pub async fn issue_setup_code(state: &Shared) -> ApiResult<Option<SecretString>> {
    if state.db.count_admins(&state.org.id).await? > 0 {
        return Ok(None);
    }
    let code = new_token(TokenKind::Setup)?;
    state
        .db
        .put_setup_code(
            &state.org.id,
            &token_hash(code.expose()),
            now_millis().saturating_add(SETUP_CODE_TTL_MS),
        )
        .await?;
    Ok(Some(code))
}

/// Creates the first admin (the owner) with the one-time setup code printed at start.
pub async fn setup(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<Setup>,
) -> ApiResult<(StatusCode, Json<AdminCreated>)> {
    state
        .auth_limiter
        .check(&format!("setup-ip:{}", peer))
        .map_err(ApiError::too_many)?;
    if !TokenKind::Setup.matches(body.code.expose()) {
        return Err(setup_code_invalid());
    }
    let (admin, journal) = new_admin(
        &state,
        &Actor::System,
        &body.email,
        body.password,
        AdminRole::Owner,
    )
    .await?;
    state
        .db
        .create_first_admin(&token_hash(body.code.expose()), now_millis(), &admin, &journal)
        .await
        .map_err(|e| match e {
            DbError::Code(_) => setup_code_invalid(),
            DbError::AlreadyExists(_) => ApiError::conflict(
                "already_set_up",
                "This server already has an admin. Sign in, or ask an admin to create your account.",
            ),
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(AdminCreated {
            admin: admin_view(&admin),
        }),
    ))
}

fn setup_code_invalid() -> ApiError {
    ApiError::unauthorized(
        "setup_code_invalid",
        "This setup code is not valid or has expired. Restart the server to print a new one, or use 'latchkey-server admin create'.",
    )
}

/// Issues a new admin API token for `admin` (command line); only its hash is stored.
pub async fn issue_admin_token(state: &Shared, admin: &Admin) -> ApiResult<SecretString> {
    Ok(issue_expiring_admin_token(state, admin, "command line")
        .await?
        .0)
}

/// Issues a named admin API token that expires after `admin_token_ttl_days` (90 by
/// default); returns it with its expiry (ms since the epoch) and its id.
pub async fn issue_expiring_admin_token(
    state: &Shared,
    admin: &Admin,
    name: &str,
) -> ApiResult<(SecretString, i64, String)> {
    let token = new_token(TokenKind::AdminApi)?;
    let now = now_millis();
    let days = i64::try_from(state.config.admin_token_ttl_days.min(3650)).unwrap_or(90);
    let expires_at = now.saturating_add(days * 24 * 3600 * 1000);
    let id = new_id()?;
    state
        .db
        .insert_admin_credential(&AdminCredential {
            id: id.clone(),
            admin_id: admin.id.clone(),
            org_id: admin.org_id.clone(),
            kind: CredentialKind::ApiToken,
            token_hash: token_hash(token.expose()),
            csrf_hash: None,
            name: Some(name.to_owned()),
            created_at: now,
            expires_at: Some(expires_at),
            last_used_at: None,
        })
        .await?;
    let journal = state.journal(
        &Actor::Admin(admin.id.clone()),
        "admin.token.create",
        Some(&admin.id),
        json!({ "token_id": id, "name": name, "expires_at": expires_at }),
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    Ok((token, expires_at, id))
}

/// Issues an admin API token for the admin with this email (command line).
pub async fn admin_token_for_email(state: &Shared, email: &str) -> ApiResult<SecretString> {
    let admin = state
        .db
        .admin_by_email(
            &state.org.id,
            &validate::normalize_email(email).unwrap_or_else(|_| email.to_owned()),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "admin_not_found",
                "No admin has this email. Create one with 'latchkey-server admin create'.",
            )
        })?;
    issue_admin_token(state, &admin).await
}

pub(crate) fn admin_view(a: &Admin) -> wire::Admin {
    wire::Admin {
        id: a.id.clone(),
        email: a.email.clone(),
        role: match a.role {
            AdminRole::Owner => wire::AdminRole::Owner,
            AdminRole::Admin => wire::AdminRole::Admin,
        },
        created_at: a.created_at,
    }
}

// ---- sign-in ----

pub async fn login(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Response> {
    let email =
        validate::normalize_email(&body.email).unwrap_or_else(|_| body.email.trim().to_lowercase());
    let source = peer.to_string();
    state
        .auth_limiter
        .check(&format!("login-ip:{source}"))
        .map_err(ApiError::too_many)?;
    state
        .login_backoff
        .check(&email, &source, Instant::now())
        .map_err(|wait| {
            ApiError::too_many(wait).with_message(format!(
                "Too many failed sign-ins for this account. Wait {wait} seconds and try again; the wait never grows beyond a minute."
            ))
        })?;
    let admin = state.db.admin_by_email(&state.org.id, &email).await?;
    let phc = admin
        .as_ref()
        .map_or(crypto::DUMMY_PASSWORD_HASH.to_owned(), |a| {
            a.password_hash.clone()
        });
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || crypto::verify_password(&password, &phc))
        .await
        .map_err(|_| ApiError::internal())?;
    let Some(admin) = admin.filter(|_| ok) else {
        state.login_backoff.failed(&email, Instant::now());
        // The attempted email is what an admin reading the log needs; never the password.
        let journal = state.journal(
            &Actor::System,
            "admin.login_failed",
            None,
            json!({ "email": truncated(&email, 254), "source": source }),
            vec![],
        );
        state.db.append_audit(&journal.audit).await?;
        return Err(ApiError::unauthorized(
            "invalid_login",
            "Wrong email or password.",
        ));
    };
    state
        .login_backoff
        .succeeded(&email, &source, Instant::now());
    if let Some(sso) = &state.sso
        && sso.config.password_sign_in == crate::sso::PasswordSignIn::OwnerOnly
        && admin.role != AdminRole::Owner
    {
        let journal = state.journal(
            &Actor::Admin(admin.id.clone()),
            "admin.login_failed",
            Some(&admin.id),
            json!({ "email": truncated(&email, 254), "source": source, "reason": "password_sign_in_owner_only" }),
            vec![],
        );
        state.db.append_audit(&journal.audit).await?;
        return Err(ApiError::forbidden(
            "password_sign_in_disabled",
            format!(
                "Password sign-in is kept for the organisation's owner (the break-glass account). Sign in with {} instead.",
                sso.config.label
            ),
        ));
    }
    let started = start_session(
        &state,
        &admin,
        json!({ "source": source, "method": "password" }),
    )
    .await?;
    let mut response = Json(SignedIn {
        admin: admin_view(&admin),
        csrf_token: ShownOnce::new(started.csrf.expose()),
        expires_at: started.expires_at,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, started.cookie);
    Ok(response)
}

/// A new console session: its cookie (ready to send), the CSRF token paired with it,
/// and when it ends.
pub(crate) struct StartedSession {
    pub cookie: HeaderValue,
    pub csrf: SecretString,
    pub expires_at: i64,
}

/// Starts a console session for `admin` (password or company sign-in) and audits
/// `admin.login` with `detail` (how and from where; never a secret).
pub(crate) async fn start_session(
    state: &Shared,
    admin: &Admin,
    detail: Value,
) -> ApiResult<StartedSession> {
    let session = new_token(TokenKind::Session)?;
    let csrf = new_token(TokenKind::Csrf)?;
    let now = now_millis();
    let ttl_ms =
        i64::try_from(state.config.session_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl_ms);
    state
        .db
        .insert_admin_credential(&AdminCredential {
            id: new_id()?,
            admin_id: admin.id.clone(),
            org_id: admin.org_id.clone(),
            kind: CredentialKind::Session,
            token_hash: token_hash(session.expose()),
            csrf_hash: Some(token_hash(csrf.expose())),
            name: None,
            created_at: now,
            expires_at: Some(expires_at),
            last_used_at: Some(now),
        })
        .await?;
    let journal = state.journal(
        &Actor::Admin(admin.id.clone()),
        "admin.login",
        Some(&admin.id),
        detail,
        vec![],
    );
    state.db.append_audit(&journal.audit).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.expose(),
        state.config.session_ttl_secs,
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?;
    Ok(StartedSession {
        cookie,
        csrf,
        expires_at,
    })
}

fn truncated(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

pub async fn logout(State(state): State<AppState>, auth: AdminAuth) -> ApiResult<Response> {
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "admin.logout",
        Some(&auth.admin.id),
        json!({ "credential": auth.credential.kind.as_str() }),
        vec![],
    );
    state
        .db
        .revoke_admin_credential(&auth.credential.id, &journal)
        .await
        .or_else(|e| match e {
            DbError::NotFound => Ok(()),
            other => Err(other),
        })?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("latchkey_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

// ---- API tokens ----

pub async fn create_token(
    State(state): State<AppState>,
    auth: AdminAuth,
    OptionalJson(body): OptionalJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = body
        .and_then(|b| b.name)
        .unwrap_or_else(|| "API token".to_owned());
    validate::name("name", &name)?;
    let (token, expires_at, id) =
        issue_expiring_admin_token(&state, &auth.admin, name.trim()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            name: name.trim().to_owned(),
            token: ShownOnce::new(token.expose()),
            expires_at,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    /// The owner only: every admin's tokens, not just one's own.
    #[serde(default)]
    all: bool,
}

fn token_view(c: &AdminCredential, email: Option<&str>, now: i64) -> wire::AdminToken {
    wire::AdminToken {
        id: c.id.clone(),
        name: c.name.clone(),
        admin_id: c.admin_id.clone(),
        admin_email: email.map(str::to_owned),
        created_at: c.created_at,
        expires_at: c.expires_at,
        expired: c.expires_at.is_some_and(|e| e <= now),
        last_used_at: c.last_used_at,
    }
}

/// Lists API tokens (never the tokens themselves): one's own, or with `?all=true` (the
/// owner) everyone's.
pub async fn list_tokens(
    State(state): State<AppState>,
    auth: AdminAuth,
    Query(q): Query<TokensQuery>,
) -> ApiResult<Json<TokenList>> {
    if q.all {
        owner_only(&auth)?;
    }
    let admins = state.db.list_admins(&state.org.id).await?;
    let email = |id: &str| admins.iter().find(|a| a.id == id).map(|a| a.email.as_str());
    let scope = (!q.all).then_some(auth.admin.id.as_str());
    let now = now_millis();
    let tokens = state
        .db
        .list_admin_tokens(&state.org.id, scope)
        .await?
        .iter()
        .map(|c| token_view(c, email(&c.admin_id), now))
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Revokes an API token: one's own, or (the owner) anyone's.
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let not_found = || {
        ApiError::not_found(
            "token_not_found",
            "No such API token. List tokens with GET /v1/admin/tokens.",
        )
    };
    let credential = state
        .db
        .admin_credential_by_id(&state.org.id, &id)
        .await?
        .filter(|c| c.kind == CredentialKind::ApiToken)
        .ok_or_else(not_found)?;
    if credential.admin_id != auth.admin.id && auth.admin.role != AdminRole::Owner {
        // Another admin's token is none of this admin's business: not found, not forbidden.
        return Err(not_found());
    }
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "admin.token.revoke",
        Some(&credential.admin_id),
        json!({ "token_id": credential.id, "name": credential.name }),
        vec![],
    );
    state
        .db
        .revoke_admin_credential(&credential.id, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- admins ----

fn owner_only(auth: &AdminAuth) -> ApiResult<()> {
    if auth.admin.role == AdminRole::Owner {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "owner_only",
            "Only the organisation's owner can do this. Ask them.",
        ))
    }
}

pub async fn list_admins(
    State(state): State<AppState>,
    auth: AdminAuth,
) -> ApiResult<Json<AdminList>> {
    let admins = state
        .db
        .list_admins(&state.org.id)
        .await?
        .iter()
        .map(admin_view)
        .collect();
    Ok(Json(AdminList {
        admins,
        me: admin_view(&auth.admin),
    }))
}

/// The owner adds an admin (or another owner).
pub async fn add_admin(
    State(state): State<AppState>,
    auth: AdminAuth,
    ApiJson(body): ApiJson<NewAdmin>,
) -> ApiResult<(StatusCode, Json<AdminCreated>)> {
    owner_only(&auth)?;
    let role = if body.owner {
        AdminRole::Owner
    } else {
        AdminRole::Admin
    };
    let admin = create_admin_with_role(
        &state,
        &Actor::Admin(auth.admin.id.clone()),
        &body.email,
        body.password,
        role,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AdminCreated {
            admin: admin_view(&admin),
        }),
    ))
}

/// The owner removes an admin: their sessions and API tokens end in the same
/// transaction. The last owner cannot be removed.
pub async fn remove_admin(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    owner_only(&auth)?;
    let admins = state.db.list_admins(&state.org.id).await?;
    let Some(target) = admins.iter().find(|a| a.id == id) else {
        return Err(ApiError::not_found(
            "admin_not_found",
            "No such admin. List admins with GET /v1/admin/admins.",
        ));
    };
    let owners = admins.iter().filter(|a| a.role == AdminRole::Owner).count();
    if target.role == AdminRole::Owner && owners <= 1 {
        return Err(ApiError::conflict(
            "last_owner",
            "This is the organisation's only owner. Add another owner first.",
        ));
    }
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "admin.remove",
        Some(&target.id),
        json!({ "email": target.email }),
        vec![],
    );
    state
        .db
        .delete_admin(&state.org.id, &target.id, &journal)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the signed-in admin's password; their other console sessions end (the one
/// making the change stays signed in). API tokens stay: they are listed and revoked on
/// their own.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    auth: AdminAuth,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .auth_limiter
        .check(&format!("password-ip:{peer}"))
        .map_err(ApiError::too_many)?;
    let phc = auth.admin.password_hash.clone();
    let current = body.current_password;
    let ok = tokio::task::spawn_blocking(move || crypto::verify_password(&current, &phc))
        .await
        .map_err(|_| ApiError::internal())?;
    if !ok {
        return Err(ApiError::forbidden(
            "wrong_password",
            "The current password is not right. Nothing was changed.",
        ));
    }
    let hash = hash_new_password(body.new_password).await?;
    let keep =
        (auth.credential.kind == CredentialKind::Session).then_some(auth.credential.id.as_str());
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "admin.password_change",
        Some(&auth.admin.id),
        json!({}),
        vec![],
    );
    state
        .db
        .set_admin_password(&state.org.id, &auth.admin.id, &hash, keep, &journal)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
