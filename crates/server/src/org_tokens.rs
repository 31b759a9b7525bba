//! Org connections (server-to-server): the tokens an admin authorized once in the console,
//! kept by the server and used only by it, through the proxy, for every permitted user.
//!
//! Sealed with the server key in their own envelope (a versioned header bound into the
//! associated data with the org, connection, environment and token kind), refreshed by the
//! server alone (one refresh across callers and replicas: see
//! `Database::refresh_org_token`), and revoked at the provider (RFC 7009) when an admin
//! presses Revoke, turns the connection off, disables or deletes it. No API returns them.

use crate::crypto::{CryptoError, ServerKey, secret_context};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::{Actor, AppState, Shared, now_millis};
use latchkey_catalog::{ApiErrors, ClientAuth, ResolvedProvider, RevocationMethod};
use latchkey_protocol::admin::OrgConnectionHealth;
use latchkey_secret::SecretString;
use latchkey_server_database::{Integration, Millis, OrgToken, OrgTokenChange};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// The integration's provider, resolved for its environment and parameters.
pub fn resolve(state: &Shared, i: &Integration) -> ApiResult<ResolvedProvider> {
    state
        .catalog
        .resolve(&i.provider, &i.environment, &i.params)
        .filter(|p| p.oauth2().is_some())
        .ok_or_else(|| {
            ApiError::unprocessable(
                ErrorCode::ORG_UNSUPPORTED_PROVIDER,
                "The provider catalog has no OAuth endpoints for this integration in this environment, so the server cannot connect it for the org. Check its environment and parameters.",
            )
        })
}

// ---- the envelope ----

/// Which token a sealed value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    Access,
    Refresh,
}

impl TokenField {
    fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        }
    }
}

/// `LKO` (Latchkey org token), envelope version 1, algorithm 1 (XChaCha20-Poly1305 with
/// the server key). Frozen wire contract: it starts every sealed org token and is part of
/// its associated data; an unknown version is refused, never guessed.
const HEADER: [u8; 5] = [b'L', b'K', b'O', 1, 1];

/// The associated data of a sealed org token: the header and what the token belongs to,
/// so it cannot be moved to another org, connection, environment or field. Frozen.
fn org_token_aad(
    org_id: &str,
    connection_id: &str,
    environment: &str,
    field: TokenField,
) -> Vec<u8> {
    let mut aad = HEADER.to_vec();
    aad.extend_from_slice(
        format!(
            "latchkey-server/org-token/{}",
            secret_context(
                org_id,
                connection_id,
                &format!("{environment}/{}", field.as_str())
            )
        )
        .as_bytes(),
    );
    aad
}

/// Seals one token: header || nonce || ciphertext+tag.
pub fn seal_token(
    key: &ServerKey,
    org_id: &str,
    connection_id: &str,
    environment: &str,
    field: TokenField,
    token: &str,
) -> Result<Vec<u8>, CryptoError> {
    let aad = org_token_aad(org_id, connection_id, environment, field);
    let body = key.seal_with_aad(&aad, token.as_bytes())?;
    let mut out = HEADER.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a token sealed by [`seal_token`] for the same org, connection, environment, field.
pub fn open_token(
    key: &ServerKey,
    org_id: &str,
    connection_id: &str,
    environment: &str,
    field: TokenField,
    sealed: &[u8],
) -> Result<SecretString, CryptoError> {
    let body = sealed.strip_prefix(&HEADER[..]).ok_or(CryptoError::Open)?;
    key.open_with_aad(
        &org_token_aad(org_id, connection_id, environment, field),
        body,
    )
}

fn open_field(
    state: &Shared,
    t: &OrgToken,
    field: TokenField,
    sealed: &[u8],
) -> Result<SecretString, CryptoError> {
    open_token(
        &state.key,
        &t.org_id,
        &t.integration_id,
        &t.environment,
        field,
        sealed,
    )
}

// ---- the token endpoint ----

/// What a token endpoint answered, secrets in their zeroizing type.
pub struct TokenAnswer {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub expires_at: Option<Millis>,
    pub instance_url: Option<String>,
}

/// Why a token request failed. Never holds a token.
#[derive(Debug)]
pub enum TokenError {
    /// The provider's OAuth error code (`invalid_grant`, …), sanitised.
    Refused(String),
    Unreachable,
    Malformed,
}

impl TokenError {
    pub fn describe(&self) -> String {
        match self {
            Self::Refused(e) => format!("the provider refused the request ({e})"),
            Self::Unreachable => "the provider could not be reached".to_owned(),
            Self::Malformed => "the provider's answer was not a token response".to_owned(),
        }
    }
}

/// POSTs `form` to the token endpoint with the client's authentication and reads the answer.
async fn token_request(
    state: &Shared,
    provider: &ResolvedProvider,
    i: &Integration,
    form: &[(&str, &str)],
) -> Result<TokenAnswer, TokenError> {
    let mut form = form.to_vec();
    let Some(oauth) = provider.oauth2() else {
        return Err(TokenError::Malformed);
    };
    let client_id = i.client_id.as_deref().unwrap_or_default();
    let secret = state.client_secret(i).map_err(|_| TokenError::Malformed)?;
    let mut request = state
        .http
        .post(oauth.token_url.clone())
        .header("Accept", "application/json");
    match (oauth.client_auth, &secret) {
        (ClientAuth::ClientSecretBasic, Some(secret)) => {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(client_id), Some(enc(secret.expose())));
        }
        (_, Some(secret)) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret.expose()));
        }
        (_, None) => form.push(("client_id", client_id)),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|_| TokenError::Unreachable)?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = body["error"]
            .as_str()
            .map(|e| {
                e.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect::<String>()
            })
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        return Err(if status.is_server_error() {
            TokenError::Unreachable
        } else {
            TokenError::Refused(error)
        });
    }
    let Some(access) = body["access_token"].as_str().filter(|t| !t.is_empty()) else {
        return Err(TokenError::Malformed);
    };
    let expires_at = body["expires_in"]
        .as_i64()
        .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .map(|secs| now_millis().saturating_add(secs.saturating_mul(1000)));
    Ok(TokenAnswer {
        access: SecretString::new(access.to_owned()),
        refresh: body["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::new(t.to_owned())),
        expires_at,
        instance_url: body["instance_url"].as_str().map(str::to_owned),
    })
}

/// Trades an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    state: &Shared,
    provider: &ResolvedProvider,
    i: &Integration,
    code: &SecretString,
    verifier: &str,
    redirect_uri: &str,
) -> Result<TokenAnswer, TokenError> {
    token_request(
        state,
        provider,
        i,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Seals a fresh authorization into the row stored for it.
pub fn sealed_row(
    state: &Shared,
    i: &Integration,
    answer: &TokenAnswer,
    authorized_by: &str,
) -> ApiResult<OrgToken> {
    let seal = |field, t: &SecretString| {
        seal_token(
            &state.key,
            &i.org_id,
            &i.id,
            &i.environment,
            field,
            t.expose(),
        )
    };
    Ok(OrgToken {
        org_id: i.org_id.clone(),
        integration_id: i.id.clone(),
        environment: i.environment.clone(),
        access_sealed: seal(TokenField::Access, &answer.access)?,
        refresh_sealed: answer
            .refresh
            .as_ref()
            .map(|r| seal(TokenField::Refresh, r))
            .transpose()?,
        instance_url: answer.instance_url.clone(),
        expires_at: answer.expires_at,
        authorized_by: authorized_by.to_owned(),
        authorized_at: now_millis(),
        last_used_at: None,
        refreshed_at: None,
        needs_reauth: None,
        version: 1,
    })
}

// ---- use ----

/// An access token ready for one call, with where calls go.
pub struct OrgAccess {
    pub token: SecretString,
    /// The API base (Salesforce: the token response's `instance_url` + the REST path).
    pub api_base: url::Url,
    pub version: i64,
    pub errors: ApiErrors,
}

/// Refresh a little before expiry: seconds, not minutes.
const EXPIRY_MARGIN_MS: i64 = 30_000;

fn not_authorized() -> ApiError {
    ApiError::conflict(
        ErrorCode::ORG_NOT_AUTHORIZED,
        "No admin has authorized this org connection yet. An admin presses Authorize on its page in the console.",
    )
}

fn needs_reauthorization() -> ApiError {
    ApiError::conflict(
        ErrorCode::ORG_NEEDS_REAUTHORIZATION,
        "The provider no longer accepts this org connection's authorization. An admin must press Authorize again in the console.",
    )
}

fn access_of(state: &Shared, provider: &ResolvedProvider, t: &OrgToken) -> ApiResult<OrgAccess> {
    if t.needs_reauth.is_some() {
        return Err(needs_reauthorization());
    }
    let Some(api) = &provider.api else {
        return Err(ApiError::unprocessable(
            ErrorCode::ORG_UNSUPPORTED_PROVIDER,
            "The provider catalog names no API for this provider, so the server has nowhere to send calls.",
        ));
    };
    let mut fields = BTreeMap::new();
    if let Some(u) = &t.instance_url {
        fields.insert(
            "instance_url".to_owned(),
            u.trim_end_matches('/').to_owned(),
        );
    }
    let api_base = api
        .base_url_for(&provider.id, &fields)
        .map_err(|e| ApiError::unprocessable(ErrorCode::ORG_UNSUPPORTED_PROVIDER, e.to_string()))?;
    let token = open_field(state, t, TokenField::Access, &t.access_sealed)
        .map_err(|_| needs_reauthorization())?;
    Ok(OrgAccess {
        token,
        api_base,
        version: t.version,
        errors: api.errors,
    })
}

/// An access token for the integration, refreshed first when it is about to expire.
pub async fn access(
    state: &AppState,
    i: &Integration,
    provider: &ResolvedProvider,
) -> ApiResult<OrgAccess> {
    let t = state
        .db
        .get_org_token(&i.org_id, &i.id)
        .await?
        .ok_or_else(not_authorized)?;
    if t.needs_reauth.is_none()
        && t.expires_at
            .is_some_and(|at| at - EXPIRY_MARGIN_MS <= now_millis())
    {
        return refresh(state, i, provider, t.version).await;
    }
    access_of(state, provider, &t)
}

/// One in-process lock per connection: concurrent callers in this process queue here
/// rather than each holding a database connection while they wait for the row lock.
fn local_lock(key: String) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(locks.entry(key).or_default())
}

/// Refreshes the tokens unless someone did since `seen_version` (then uses theirs): one
/// request to the provider however many callers and replicas saw the old token fail.
/// `invalid_grant` marks the connection "needs re-authorization", with no retry loop;
/// an unreachable provider keeps the tokens.
pub async fn refresh(
    state: &AppState,
    i: &Integration,
    provider: &ResolvedProvider,
    seen_version: i64,
) -> ApiResult<OrgAccess> {
    let lock = local_lock(format!("{}/{}", i.org_id, i.id));
    let _held = lock.lock().await;
    // Captured for the step that runs under the row lock (it must be 'static).
    let shared: AppState = Arc::clone(state);
    let integration = i.clone();
    let resolved = provider.clone();
    let outcome: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let seen_outcome = Arc::clone(&outcome);
    let refresher: latchkey_server_database::OrgRefresher = Box::new(move |current: OrgToken| {
        Box::pin(async move {
            let Some(sealed) = current.refresh_sealed.as_ref() else {
                return OrgTokenChange::NeedsReauth("no_refresh_token".to_owned());
            };
            let Ok(refresh_token) = open_field(&shared, &current, TokenField::Refresh, sealed)
            else {
                return OrgTokenChange::NeedsReauth("server_key_changed".to_owned());
            };
            let answer = token_request(
                &shared,
                &resolved,
                &integration,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                ],
            )
            .await;
            match answer {
                Ok(a) => {
                    let seal = |field, t: &SecretString| {
                        seal_token(
                            &shared.key,
                            &current.org_id,
                            &current.integration_id,
                            &current.environment,
                            field,
                            t.expose(),
                        )
                    };
                    match (
                        seal(TokenField::Access, &a.access),
                        a.refresh
                            .as_ref()
                            .map(|r| seal(TokenField::Refresh, r))
                            .transpose(),
                    ) {
                        (Ok(access_sealed), Ok(refresh_sealed)) => OrgTokenChange::Refreshed {
                            access_sealed,
                            refresh_sealed,
                            expires_at: a.expires_at,
                            instance_url: a.instance_url,
                            now: now_millis(),
                        },
                        _ => OrgTokenChange::Unchanged,
                    }
                }
                Err(TokenError::Refused(e)) if e == "invalid_grant" => {
                    OrgTokenChange::NeedsReauth(e)
                }
                Err(e) => {
                    if let Ok(mut o) = seen_outcome.lock() {
                        *o = Some(e.describe());
                    }
                    OrgTokenChange::Unchanged
                }
            }
        })
    });
    let row = state
        .db
        .refresh_org_token(&i.org_id, &i.id, seen_version, refresher)
        .await?
        .ok_or_else(not_authorized)?;
    if let Some(reason) = &row.needs_reauth {
        if row.version != seen_version {
            tracing::warn!(integration = %i.id, reason = %reason, "org connection needs re-authorization");
            let journal = state.journal(
                &Actor::System,
                "org_connection.needs_reauthorization",
                Some(&i.id),
                json!({ "reason": reason }),
                vec![],
            );
            if let Err(e) = state.db.append_audit(&journal.audit).await {
                tracing::warn!(error = %e, "could not record an org connection's lost authorization");
            }
        }
        return Err(needs_reauthorization());
    }
    let failed = outcome.lock().ok().and_then(|mut o| o.take());
    if let Some(why) = failed {
        tracing::warn!(integration = %i.id, "org connection refresh failed: {why}");
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            ErrorCode::UPSTREAM_UNREACHABLE,
            "The provider did not refresh the org connection's token; try again later.",
        ));
    }
    access_of(state, provider, &row)
}

/// Whether an API answer means the access token is no longer accepted (Salesforce: 401
/// `INVALID_SESSION_ID`; elsewhere any 401).
pub fn session_expired(status: u16, errors: ApiErrors, body: &[u8]) -> bool {
    if status != 401 {
        return false;
    }
    match errors {
        ApiErrors::Salesforce => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .is_none_or(|a| a.iter().any(|e| e["errorCode"] == "INVALID_SESSION_ID")),
        _ => true,
    }
}

/// The console's view of an org connection's authorization (never its tokens).
pub async fn health(state: &Shared, i: &Integration) -> ApiResult<Option<OrgConnectionHealth>> {
    if !i.org_wide {
        return Ok(None);
    }
    Ok(state.db.get_org_token(&i.org_id, &i.id).await?.map(|t| {
        // Tokens the server key no longer opens (a lost or replaced key) are as dead
        // as a refused refresh token: say so before a user's call finds out.
        let reason = t
            .needs_reauth
            .clone()
            .or_else(|| (!opens(state, &t)).then(|| "server_key_changed".to_owned()));
        OrgConnectionHealth {
            authorized_by: t.authorized_by,
            authorized_at: t.authorized_at,
            last_used_at: t.last_used_at,
            refreshed_at: t.refreshed_at,
            needs_reauthorization: reason.is_some(),
            reason,
        }
    }))
}

/// Whether the server key opens every token of the row.
fn opens(state: &Shared, t: &OrgToken) -> bool {
    open_field(state, t, TokenField::Access, &t.access_sealed).is_ok()
        && t.refresh_sealed
            .as_deref()
            .is_none_or(|r| open_field(state, t, TokenField::Refresh, r).is_ok())
}

// ---- revocation ----

/// Deletes the server's copy of the tokens and revokes them at the provider (RFC 7009,
/// refresh token first: that ends its access tokens too). `None` when there were none.
pub async fn revoke(
    state: &Shared,
    i: &Integration,
    actor: &Actor,
    why: &str,
) -> ApiResult<Option<(bool, String)>> {
    let journal = state.journal(
        actor,
        "org_connection.revoke",
        Some(&i.id),
        json!({ "reason": why }),
        vec![],
    );
    let Some(t) = state.db.take_org_token(&i.org_id, &i.id, &journal).await? else {
        return Ok(None);
    };
    let provider = state
        .catalog
        .resolve(&i.provider, &t.environment, &i.params);
    let revocation = provider
        .as_ref()
        .and_then(|p| p.oauth2())
        .and_then(|o| o.revocation.clone());
    let Some(revocation) = revocation else {
        return Ok(Some((
            false,
            "The server's copy is deleted. The provider has no revocation endpoint: remove Latchkey's access in the provider's settings too.".to_owned(),
        )));
    };
    let (token, hint) = match &t.refresh_sealed {
        Some(sealed) => (
            open_field(state, &t, TokenField::Refresh, sealed),
            "refresh_token",
        ),
        None => (
            open_field(state, &t, TokenField::Access, &t.access_sealed),
            "access_token",
        ),
    };
    let Ok(token) = token else {
        return Ok(Some((
            false,
            "The server's copy is deleted, but it could not be opened to revoke it (the server key changed): remove Latchkey's access at the provider.".to_owned(),
        )));
    };
    let client_id = i.client_id.as_deref().unwrap_or_default();
    let secret = state.client_secret(i)?;
    let mut request = state.http.post(revocation.url.clone());
    request = match revocation.method {
        RevocationMethod::Rfc7009Json => {
            request.json(&json!({ "token": token.expose(), "client_id": client_id }))
        }
        _ => {
            let mut form = vec![
                ("token", token.expose()),
                ("token_type_hint", hint),
                ("client_id", client_id),
            ];
            if let Some(s) = &secret {
                form.push(("client_secret", s.expose()));
            }
            request.form(&form)
        }
    };
    let outcome = match request.send().await {
        Ok(r) if r.status().is_success() => (true, "Revoked at the provider; the server's copy is deleted.".to_owned()),
        Ok(r) => (
            false,
            format!(
                "The server's copy is deleted, but the provider answered HTTP {} to the revocation: remove Latchkey's access in the provider's settings.",
                r.status().as_u16()
            ),
        ),
        Err(_) => (
            false,
            "The server's copy is deleted, but the provider could not be reached to revoke it: remove Latchkey's access in the provider's settings.".to_owned(),
        ),
    };
    let done = state.journal(
        actor,
        "org_connection.revoked_at_provider",
        Some(&i.id),
        json!({ "revoked": outcome.0 }),
        vec![],
    );
    if let Err(e) = state.db.append_audit(&done.audit).await {
        tracing::warn!(error = %e, "could not record an org connection's revocation");
    }
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests;
