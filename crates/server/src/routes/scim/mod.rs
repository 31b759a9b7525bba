//! SCIM 2.0 provisioning (RFC 7643/7644) under `/scim/v2`: the identity provider
//! creates, updates, deactivates and deletes users and groups with a SCIM token
//! an admin issued in the console ([`crate::routes::admin::scim_tokens`]).
//!
//! Deprovisioning is the leaver flow: `active: false` does what the console's
//! "remove user" does (every device gets a revocation order for every connection,
//! records go, devices are revoked) but keeps the row, so the IdP can still read the
//! user back with `active: false`; DELETE is "remove user" itself. See docs/scim.md.
//!
//! These routes describe themselves through SCIM discovery (`/Schemas`,
//! `/ResourceTypes`, `/ServiceProviderConfig`), not the OpenAPI document.

pub mod error;
pub mod filter;
pub mod patch;
pub mod schema;

use crate::auth::{bearer, failed};
use crate::crypto::{TokenKind, new_id, token_hash, token_matches};
use crate::routes::admin::users::remove_user_as;
use crate::state::{Actor, AppState, Shared, now_millis};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use error::{SCIM_JSON, ScimError, ScimResult, ScimType};
use latchkey_server_database::{
    DbError, ExcludedUser, LostAccess, PROVISIONED_BY_SCIM, ScimGroup, User,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The SCIM routes, added beside the route table.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    fn only(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
        m.fallback(|| async {
            ScimError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "This SCIM endpoint does not support this method.",
            )
        })
    }
    router
        .route(
            "/scim/v2/ServiceProviderConfig",
            only(get(service_provider_config)),
        )
        .route("/scim/v2/ResourceTypes", only(get(resource_types)))
        .route("/scim/v2/ResourceTypes/{id}", only(get(resource_type)))
        .route("/scim/v2/Schemas", only(get(schemas)))
        .route("/scim/v2/Schemas/{id}", only(get(schema_by_id)))
        .route("/scim/v2/Users", only(get(list_users).post(create_user)))
        .route(
            "/scim/v2/Users/.search",
            only(axum::routing::post(search_users)),
        )
        .route(
            "/scim/v2/Users/{id}",
            only(
                get(get_user)
                    .put(replace_user)
                    .patch(patch_user)
                    .delete(delete_user),
            ),
        )
        .route("/scim/v2/Groups", only(get(list_groups).post(create_group)))
        .route(
            "/scim/v2/Groups/.search",
            only(axum::routing::post(search_groups)),
        )
        .route(
            "/scim/v2/Groups/{id}",
            only(
                get(get_group)
                    .put(replace_group)
                    .patch(patch_group)
                    .delete(delete_group),
            ),
        )
        .route("/scim/v2/.search", any(root_search))
        .route("/scim/v2", any(unknown))
        .route("/scim/v2/{*rest}", any(unknown))
}

async fn unknown(_auth: ScimAuth) -> ScimError {
    ScimError::not_found(
        "There is no such SCIM endpoint. The base URL ends in /scim/v2; see /scim/v2/ResourceTypes.",
    )
}

async fn root_search(_auth: ScimAuth) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "Searching several resource types at once is not supported; POST /scim/v2/Users/.search or /scim/v2/Groups/.search.",
    )
}

// ---- authentication ----

/// A caller holding a live SCIM token. Admin and device tokens are refused here, as
/// SCIM tokens are on the admin API: each credential opens one door.
pub struct ScimAuth {
    pub token_id: String,
}

impl ScimAuth {
    fn actor(&self) -> Actor {
        Actor::Scim(self.token_id.clone())
    }
}

impl FromRequestParts<AppState> for ScimAuth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(failed(
                state,
                parts,
                crate::error::ApiError::unauthorized(
                    "missing_token",
                    "Send the SCIM token as 'Authorization: Bearer <token>'. Issue one in the console under Provisioning (SCIM).",
                ),
            )
            .into());
        };
        let refuse = |detail: &str| -> ScimError {
            failed(
                state,
                parts,
                crate::error::ApiError::unauthorized("invalid_scim_token", detail.to_owned()),
            )
            .into()
        };
        if !TokenKind::Scim.matches(token) {
            return Err(refuse(
                "This is not a SCIM token (admin and device tokens cannot call /scim/v2). Issue a SCIM token in the console under Provisioning (SCIM).",
            ));
        }
        let now = now_millis();
        let found = state
            .db
            .scim_token_by_hash(&token_hash(token))
            .await?
            .filter(|t| t.org_id == state.org.id && token_matches(token, &t.token_hash));
        let problem = match &found {
            None => Some("unknown"),
            Some(t) if t.revoked_at.is_some() => Some("revoked"),
            Some(t) if t.expires_at <= now => Some("expired"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let journal = state.journal(
                &Actor::System,
                "scim.token.refused",
                found.as_ref().map(|t| t.id.as_str()),
                json!({ "reason": problem }),
                vec![],
            );
            if let Err(e) = state.db.append_audit(&journal.audit).await {
                tracing::warn!(error = %e, "could not audit a refused SCIM token");
            }
            return Err(refuse(match problem {
                "revoked" => {
                    "This SCIM token was revoked. Issue a new one in the console and update your identity provider."
                }
                "expired" => {
                    "This SCIM token has expired. Issue a new one in the console and update your identity provider."
                }
                _ => {
                    "This SCIM token is not valid. Issue a new one in the console under Provisioning (SCIM)."
                }
            }));
        }
        let Some(token) = found else {
            return Err(refuse("This SCIM token is not valid."));
        };
        if token.last_used_at.is_none_or(|used| now - used > 60_000)
            && let Err(e) = state.db.touch_scim_token(&token.id, now).await
        {
            tracing::warn!(error = %e, "could not record a SCIM token's last use");
        }
        Ok(Self { token_id: token.id })
    }
}

// ---- representation ----

fn base(state: &Shared) -> String {
    format!("{}/scim/v2", state.origin.trim_end_matches('/'))
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-29T10:00:00.000Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A weak ETag over the representation: it changes exactly when what GET returns does.
fn etag(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// Adds `meta` (with its version) to a resource.
fn with_meta(
    mut resource: Value,
    kind: &str,
    location: String,
    created: i64,
    modified: i64,
) -> Value {
    let version = etag(&resource);
    resource["meta"] = json!({
        "resourceType": kind,
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": location,
        "version": version,
    });
    resource
}

fn respond(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(meta) = body.get("meta") {
        if let Some(v) = meta
            .get("version")
            .and_then(Value::as_str)
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::ETAG, v);
        }
        if status == StatusCode::CREATED
            && let Some(v) = meta
                .get("location")
                .and_then(Value::as_str)
                .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::LOCATION, v);
        }
    }
    response
}

/// A user's editable attributes (what PUT replaces and PATCH edits). `active` is shown
/// when the identity provider set it, when the user is inactive, and for users an admin
/// made; after a PATCH removed it (unassigned) the user is active and it is not shown.
fn editable_user(u: &User) -> Map<String, Value> {
    let mut m = u
        .scim_profile
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_else(|| {
            // Created by an admin: the email is the name.
            let mut m = Map::new();
            m.insert("userName".into(), json!(u.email));
            m.insert("displayName".into(), json!(u.display_name));
            m.insert(
                "emails".into(),
                json!([{ "value": u.email, "type": "work", "primary": true }]),
            );
            m
        });
    let asserted = m.remove("active").is_some() || u.scim_profile.is_none();
    m.remove("externalId");
    if let Some(ext) = &u.external_id {
        m.insert("externalId".into(), json!(ext));
    }
    if asserted || !u.active {
        m.insert("active".into(), json!(u.active));
    }
    m
}

/// What a missing `active` means when building a user.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// PATCH removed it: unassigned, and only `active: false` deactivates.
    Active,
    /// POST or PUT left it out: new users are active, existing ones keep their state.
    Keep,
}

fn user_resource(state: &Shared, u: &User) -> Value {
    let mut v = Map::new();
    v.insert("schemas".into(), json!([schema::USER_SCHEMA]));
    v.insert("id".into(), json!(u.id));
    v.extend(editable_user(u));
    let location = format!("{}/Users/{}", base(state), u.id);
    with_meta(
        Value::Object(v),
        "User",
        location,
        u.created_at,
        u.updated_at,
    )
}

fn str_at<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The stored user for edited attributes: `existing` for an update, `None` to create.
fn user_from(
    state: &Shared,
    existing: Option<&User>,
    mut m: Map<String, Value>,
    absent: Absent,
    now: i64,
) -> ScimResult<User> {
    let user_name = str_at(&m, "userName")
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "userName is required: the identity provider's name for this person, usually their email."))?
        .to_owned();
    if user_name.len() > 254 || user_name.chars().any(char::is_control) {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            "userName must be at most 254 characters, without control characters.",
        ));
    }
    m.insert("userName".into(), json!(user_name));
    let emails = m
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pick = |f: &dyn Fn(&Value) -> bool| {
        emails
            .iter()
            .find(|e| f(e))
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let email = pick(&|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| pick(&|e| e.get("type").and_then(Value::as_str) == Some("work")))
        .or_else(|| pick(&|_| true))
        .unwrap_or_else(|| user_name.clone());
    let email = match crate::validate::normalize_email(&email) {
        Ok(e) => e,
        // A userName that is not an address names the user as it is.
        Err(_) => email.trim().to_lowercase(),
    };
    let name = m.get("name").cloned().unwrap_or(Value::Null);
    let joined = [name.get("givenName"), name.get("familyName")]
        .iter()
        .filter_map(|v| v.and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let display_name = str_at(&m, "displayName")
        .map(str::to_owned)
        .or_else(|| {
            name.get("formatted")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| (!joined.trim().is_empty()).then(|| joined.trim().to_owned()))
        .unwrap_or_else(|| user_name.clone());
    let display_name: String = display_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    // The profile keeps `active` only when the identity provider set it.
    let active = match m.get("active") {
        Some(Value::Bool(b)) => *b,
        _ => {
            m.remove("active");
            absent == Absent::Active || existing.is_none_or(|u| u.active)
        }
    };
    let external_id = m
        .remove("externalId")
        .and_then(|v| v.as_str().map(str::to_owned));
    let profile = Value::Object(m).to_string();
    Ok(match existing {
        Some(u) => User {
            email,
            display_name,
            external_id,
            active,
            scim_profile: Some(profile),
            updated_at: now.max(u.updated_at + 1),
            ..u.clone()
        },
        None => User {
            id: new_id()?,
            org_id: state.org.id.clone(),
            email,
            display_name,
            created_at: now,
            external_id,
            active,
            provisioned_by: Some(PROVISIONED_BY_SCIM.to_owned()),
            scim_profile: Some(profile),
            updated_at: now,
        },
    })
}

/// 409 `uniqueness` when another user already has this userName (case-insensitive).
async fn check_user_name(state: &Shared, user: &User) -> ScimResult<()> {
    let name = editable_user(user)
        .get("userName")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let taken = state
        .db
        .list_users(&state.org.id)
        .await?
        .iter()
        .any(|other| {
            other.id != user.id
                && editable_user(other)
                    .get("userName")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    == name
        });
    if taken {
        return Err(ScimError::conflict(
            "Another user already has this userName. Look it up with filter=userName eq \"…\" and update that user instead.",
        ));
    }
    Ok(())
}

fn conflict_on_email(e: DbError) -> ScimError {
    match e {
        DbError::AlreadyExists(_) => ScimError::conflict(
            "Another user already has this email. Look it up with filter=emails.value eq \"…\" and update that user instead.",
        ),
        other => other.into(),
    }
}

fn parse_body(body: &Bytes) -> ScimResult<Value> {
    serde_json::from_slice(body).map_err(|_| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            "The body is not valid JSON. Send a SCIM resource as application/scim+json.",
        )
    })
}

fn user_not_found() -> ScimError {
    ScimError::not_found("No such user. List users with GET /scim/v2/Users.")
}

fn group_not_found() -> ScimError {
    ScimError::not_found("No such group. List groups with GET /scim/v2/Groups.")
}

async fn find_user(state: &Shared, id: &str) -> ScimResult<User> {
    state
        .db
        .user_by_id(&state.org.id, id)
        .await?
        .ok_or_else(user_not_found)
}

/// Stores an edited user with its audit event; `active: false` runs the leaver flow.
async fn save_user(
    state: &Shared,
    auth: &ScimAuth,
    old: &User,
    new: User,
    action: &str,
) -> ScimResult<Response> {
    check_user_name(state, &new).await?;
    let leaving = old.active && !new.active;
    let journal = state.journal(
        &auth.actor(),
        if leaving { "user.deactivate" } else { action },
        Some(&new.id),
        json!({ "email": new.email, "active": new.active }),
        if leaving {
            vec![(Some(new.id.clone()), "user.deactivated", None)]
        } else {
            vec![]
        },
    );
    let saved = state
        .db
        .update_user(&new, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => user_not_found(),
            other => conflict_on_email(other),
        })?;
    Ok(respond(StatusCode::OK, &user_resource(state, &saved)))
}

// ---- list parameters ----

struct ListParams {
    filter: Option<filter::Filter>,
    start_index: usize,
    count: usize,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn split_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(|a| filter::strip_urn(a.trim()).to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|a| filter::strip_urn(a.trim()).to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

fn number(v: Option<&Value>, name: &str) -> ScimResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be a whole number."),
            )
        }),
        _ => Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must be a whole number."),
        )),
    }
}

impl ListParams {
    fn from_map(m: &Map<String, Value>) -> ScimResult<Self> {
        let get = |k: &str| {
            m.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        let filter = match get("filter").and_then(Value::as_str) {
            Some(f) if !f.trim().is_empty() => Some(filter::parse(f)?),
            _ => None,
        };
        let start_index = number(get("startIndex"), "startIndex")?.unwrap_or(1).max(1);
        let count = number(get("count"), "count")?
            .unwrap_or(100)
            .clamp(0, schema::MAX_RESULTS as i64);
        Ok(Self {
            filter,
            start_index: usize::try_from(start_index).unwrap_or(1),
            count: usize::try_from(count).unwrap_or(0),
            attributes: split_list(get("attributes")),
            excluded: split_list(get("excludedAttributes")),
        })
    }

    /// A `POST …/.search` body (RFC 7644 §3.4.3): the same parameters as a query.
    fn from_search(body: &Bytes) -> ScimResult<Self> {
        let body = parse_body(body)?;
        Self::from_map(body.as_object().ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                "A search body must be a SearchRequest object.",
            )
        })?)
    }

    fn from_query(q: HashMap<String, String>) -> ScimResult<Self> {
        Self::from_map(&q.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    }

    /// Filters, pages and projects already-rendered resources.
    fn list(&self, resources: Vec<Value>) -> Value {
        let matching: Vec<Value> = resources
            .into_iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .map(|r| project(r, &self.attributes, &self.excluded))
            .collect();
        schema::list_response(total, self.start_index, page)
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); `id` and `schemas` always stay.
fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(obj) = resource else {
        return resource;
    };
    let always = |k: &str| k == "id" || k == "schemas";
    let mut out = Map::new();
    for (k, v) in obj {
        if always(&k) {
            out.insert(k, v);
            continue;
        }
        if !attributes.is_empty() {
            let wanted: Vec<&str> = attributes
                .iter()
                .filter_map(|a| {
                    let (top, sub) = a
                        .split_once('.')
                        .map_or((a.as_str(), None), |(t, s)| (t, Some(s)));
                    top.eq_ignore_ascii_case(&k).then_some(sub.unwrap_or(""))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            if wanted.contains(&"") {
                out.insert(k, v);
            } else if let Value::Object(inner) = v {
                let kept: Map<String, Value> = inner
                    .into_iter()
                    .filter(|(ik, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(ik)))
                    .collect();
                out.insert(k, Value::Object(kept));
            }
            continue;
        }
        if excluded.iter().any(|e| e.eq_ignore_ascii_case(&k)) {
            continue;
        }
        out.insert(k, v);
    }
    Value::Object(out)
}

fn projection(q: &HashMap<String, String>) -> (Vec<String>, Vec<String>) {
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| Value::String(v.clone()))
    };
    (
        split_list(get("attributes").as_ref()),
        split_list(get("excludedAttributes").as_ref()),
    )
}

// ---- discovery ----

async fn service_provider_config(State(state): State<AppState>, _auth: ScimAuth) -> Response {
    respond(
        StatusCode::OK,
        &schema::service_provider_config(&base(&state)),
    )
}

async fn resource_types(State(state): State<AppState>, _auth: ScimAuth) -> Response {
    let all = schema::resource_types(&base(&state));
    respond(StatusCode::OK, &schema::list_response(all.len(), 1, all))
}

async fn resource_type(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    schema::resource_types(&base(&state))
        .into_iter()
        .find(|r| r["id"] == json!(id))
        .map(|r| respond(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found("No such resource type: there are User and Group."))
}

async fn schemas(State(state): State<AppState>, _auth: ScimAuth) -> Response {
    let all = schema::schemas(&base(&state));
    respond(StatusCode::OK, &schema::list_response(all.len(), 1, all))
}

async fn schema_by_id(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    schema::schemas(&base(&state))
        .into_iter()
        .find(|s| s["id"] == json!(id))
        .map(|s| respond(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found("No such schema; see /scim/v2/Schemas."))
}

// ---- users ----

async fn create_user(
    State(state): State<AppState>,
    auth: ScimAuth,
    body: Bytes,
) -> ScimResult<Response> {
    let attrs = patch::sanitize("User", &parse_body(&body)?)?;
    let user = user_from(&state, None, attrs, Absent::Keep, now_millis())?;
    check_user_name(&state, &user).await?;
    let journal = state.journal(
        &auth.actor(),
        "user.provision",
        Some(&user.id),
        json!({ "email": user.email }),
        vec![],
    );
    state
        .db
        .create_user(&user, &journal)
        .await
        .map_err(conflict_on_email)?;
    Ok(respond(StatusCode::CREATED, &user_resource(&state, &user)))
}

async fn get_user(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let user = find_user(&state, &id).await?;
    let (attributes, excluded) = projection(&q);
    Ok(respond(
        StatusCode::OK,
        &project(user_resource(&state, &user), &attributes, &excluded),
    ))
}

async fn all_users(state: &Shared) -> ScimResult<Vec<Value>> {
    Ok(state
        .db
        .list_users(&state.org.id)
        .await?
        .iter()
        .map(|u| user_resource(state, u))
        .collect())
}

async fn list_users(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let params = ListParams::from_query(q)?;
    Ok(respond(
        StatusCode::OK,
        &params.list(all_users(&state).await?),
    ))
}

async fn search_users(
    State(state): State<AppState>,
    _auth: ScimAuth,
    body: Bytes,
) -> ScimResult<Response> {
    let params = ListParams::from_search(&body)?;
    Ok(respond(
        StatusCode::OK,
        &params.list(all_users(&state).await?),
    ))
}

async fn replace_user(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let old = find_user(&state, &id).await?;
    let attrs = patch::sanitize("User", &parse_body(&body)?)?;
    let new = user_from(&state, Some(&old), attrs, Absent::Keep, now_millis())?;
    save_user(&state, &auth, &old, new, "user.replace").await
}

async fn patch_user(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let old = find_user(&state, &id).await?;
    let mut attrs = editable_user(&old);
    patch::apply("User", &mut attrs, &parse_body(&body)?)?;
    let new = user_from(&state, Some(&old), attrs, Absent::Active, now_millis())?;
    save_user(&state, &auth, &old, new, "user.patch").await
}

/// DELETE is the console's "remove user", run as the identity provider.
async fn delete_user(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    remove_user_as(&state, &auth.actor(), &id)
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                user_not_found()
            } else {
                e.into()
            }
        })?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- groups ----

fn group_resource(state: &Shared, g: &ScimGroup) -> Value {
    let mut m: Map<String, Value> = serde_json::from_str::<Value>(&g.scim_profile)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    m.insert("displayName".into(), json!(g.display_name));
    m.remove("externalId");
    if let Some(ext) = &g.external_id {
        m.insert("externalId".into(), json!(ext));
    }
    // The membership table decides who is in; the profile keeps how the IdP wrote them.
    let written: Vec<Value> = m
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut members: Vec<Value> = written
        .into_iter()
        .filter(|w| {
            w.get("value")
                .and_then(Value::as_str)
                .is_some_and(|id| g.members.iter().any(|m| m == id))
        })
        .collect();
    for id in &g.members {
        if !members
            .iter()
            .any(|w| w.get("value").and_then(Value::as_str) == Some(id))
        {
            members.push(json!({ "value": id, "$ref": format!("{}/Users/{id}", base(state)), "type": "User" }));
        }
    }
    if members.is_empty() {
        m.remove("members");
    } else {
        m.insert("members".into(), Value::Array(members));
    }
    let mut v = Map::new();
    v.insert("schemas".into(), json!([schema::GROUP_SCHEMA]));
    v.insert("id".into(), json!(g.id));
    v.extend(m);
    let location = format!("{}/Groups/{}", base(state), g.id);
    with_meta(
        Value::Object(v),
        "Group",
        location,
        g.created_at,
        g.updated_at,
    )
}

fn editable_group(state: &Shared, g: &ScimGroup) -> Map<String, Value> {
    let mut m = group_resource(state, g)
        .as_object()
        .cloned()
        .unwrap_or_default();
    for k in ["schemas", "id", "meta"] {
        m.remove(k);
    }
    m
}

fn group_from(
    state: &Shared,
    existing: Option<&ScimGroup>,
    m: Map<String, Value>,
    now: i64,
) -> ScimResult<ScimGroup> {
    let display_name = str_at(&m, "displayName")
        .ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidValue,
                "displayName is required for a group.",
            )
        })?
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    let mut members = Vec::new();
    for item in m
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if item
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
        {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "Groups inside groups are not supported; list the users instead.",
            ));
        }
        let Some(id) = item.get("value").and_then(Value::as_str) else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "Each member needs a \"value\": the id of a user.",
            ));
        };
        if !members.iter().any(|m| m == id) {
            members.push(id.to_owned());
        }
    }
    let external_id = m
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut profile = m;
    profile.remove("externalId");
    let profile = Value::Object(profile).to_string();
    Ok(match existing {
        Some(g) => ScimGroup {
            display_name,
            external_id,
            scim_profile: profile,
            members,
            updated_at: now.max(g.updated_at + 1),
            ..g.clone()
        },
        None => ScimGroup {
            id: new_id()?,
            org_id: state.org.id.clone(),
            display_name,
            external_id,
            scim_profile: profile,
            members,
            created_at: now,
            updated_at: now,
        },
    })
}

fn unknown_member(e: DbError) -> ScimError {
    match e {
        DbError::NotFound => ScimError::bad(
            ScimType::InvalidValue,
            "A member's value is not the id of a user of this organisation. Provision the user first.",
        ),
        other => other.into(),
    }
}

async fn find_group(state: &Shared, id: &str) -> ScimResult<ScimGroup> {
    state
        .db
        .scim_group_by_id(&state.org.id, id)
        .await?
        .ok_or_else(group_not_found)
}

async fn create_group(
    State(state): State<AppState>,
    auth: ScimAuth,
    body: Bytes,
) -> ScimResult<Response> {
    let attrs = patch::sanitize("Group", &parse_body(&body)?)?;
    let group = group_from(&state, None, attrs, now_millis())?;
    let journal = state.journal(
        &auth.actor(),
        "group.provision",
        Some(&group.id),
        json!({ "display_name": group.display_name, "members": group.members.len() }),
        vec![],
    );
    state
        .db
        .create_scim_group(&group, &journal)
        .await
        .map_err(unknown_member)?;
    Ok(respond(
        StatusCode::CREATED,
        &group_resource(&state, &group),
    ))
}

async fn get_group(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let group = find_group(&state, &id).await?;
    let (attributes, excluded) = projection(&q);
    Ok(respond(
        StatusCode::OK,
        &project(group_resource(&state, &group), &attributes, &excluded),
    ))
}

async fn all_groups(state: &Shared) -> ScimResult<Vec<Value>> {
    Ok(state
        .db
        .list_scim_groups(&state.org.id)
        .await?
        .iter()
        .map(|g| group_resource(state, g))
        .collect())
}

async fn list_groups(
    State(state): State<AppState>,
    _auth: ScimAuth,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let params = ListParams::from_query(q)?;
    Ok(respond(
        StatusCode::OK,
        &params.list(all_groups(&state).await?),
    ))
}

async fn search_groups(
    State(state): State<AppState>,
    _auth: ScimAuth,
    body: Bytes,
) -> ScimResult<Response> {
    let params = ListParams::from_search(&body)?;
    Ok(respond(
        StatusCode::OK,
        &params.list(all_groups(&state).await?),
    ))
}

/// What taking `removed` (user ids) out of group `group_id` takes away: each enabled
/// integration whose `allowed_groups` names the group and that a removed user may no
/// longer use with the groups they keep. Storage revokes their records of it (orders to
/// their devices) in the transaction of the membership change.
async fn lost_access(
    state: &Shared,
    auth: &ScimAuth,
    group_id: &str,
    removed: &[&String],
) -> ScimResult<Vec<LostAccess>> {
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let restricted: Vec<_> = state
        .db
        .list_integrations(&state.org.id)
        .await?
        .into_iter()
        .filter(|i| {
            i.enabled
                && i.allowed_groups
                    .as_ref()
                    .is_some_and(|g| g.iter().any(|g| g == group_id))
        })
        .collect();
    let mut lost = Vec::new();
    if restricted.is_empty() {
        return Ok(lost);
    }
    for &user_id in removed {
        let kept: Vec<String> = state
            .db
            .groups_of_user(&state.org.id, user_id)
            .await?
            .into_iter()
            .filter(|g| g != group_id)
            .collect();
        for i in restricted.iter().filter(|i| !i.allows(user_id, &kept)) {
            lost.push(LostAccess {
                integration_id: i.id.clone(),
                user: ExcludedUser {
                    user_id: user_id.clone(),
                    journal: state.journal(
                        &auth.actor(),
                        "connection.disconnect",
                        Some(user_id),
                        json!({
                            "integration_id": i.id,
                            "group_id": group_id,
                            "reason": "removed from a group in allowed_groups",
                        }),
                        vec![(
                            Some(user_id.clone()),
                            "connection.disconnected",
                            Some(i.id.clone()),
                        )],
                    ),
                },
            });
        }
    }
    Ok(lost)
}

async fn save_group(
    state: &Shared,
    auth: &ScimAuth,
    old: &ScimGroup,
    group: ScimGroup,
    action: &str,
) -> ScimResult<Response> {
    let removed: Vec<&String> = old
        .members
        .iter()
        .filter(|m| !group.members.contains(m))
        .collect();
    let lost = lost_access(state, auth, &group.id, &removed).await?;
    let journal = state.journal(
        &auth.actor(),
        action,
        Some(&group.id),
        json!({ "display_name": group.display_name, "members": group.members.len() }),
        vec![],
    );
    state
        .db
        .update_scim_group(&group, &journal, &lost)
        .await
        .map_err(unknown_member)?;
    let saved = find_group(state, &group.id).await?;
    Ok(respond(StatusCode::OK, &group_resource(state, &saved)))
}

async fn replace_group(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let old = find_group(&state, &id).await?;
    let attrs = patch::sanitize("Group", &parse_body(&body)?)?;
    let new = group_from(&state, Some(&old), attrs, now_millis())?;
    save_group(&state, &auth, &old, new, "group.replace").await
}

async fn patch_group(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let old = find_group(&state, &id).await?;
    let mut attrs = editable_group(&state, &old);
    patch::apply("Group", &mut attrs, &parse_body(&body)?)?;
    let new = group_from(&state, Some(&old), attrs, now_millis())?;
    save_group(&state, &auth, &old, new, "group.patch").await
}

async fn delete_group(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    let old = find_group(&state, &id).await?;
    let removed: Vec<&String> = old.members.iter().collect();
    let lost = lost_access(&state, &auth, &id, &removed).await?;
    let journal = state.journal(&auth.actor(), "group.remove", Some(&id), json!({}), vec![]);
    state
        .db
        .delete_scim_group(&state.org.id, &id, &journal, &lost)
        .await
        .map_err(|e| match e {
            DbError::NotFound => group_not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_796_036_645_007), "2026-11-30T11:04:05.007Z");
    }

    #[test]
    fn projection_keeps_id_and_what_was_asked() {
        let r = json!({ "schemas": [], "id": "1", "userName": "a", "name": { "givenName": "A", "familyName": "B" }, "emails": [] });
        let p = project(r.clone(), &["name.givenName".into()], &[]);
        assert_eq!(
            p,
            json!({ "schemas": [], "id": "1", "name": { "givenName": "A" } })
        );
        let p = project(r, &[], &["emails".into(), "USERNAME".into()]);
        assert!(
            p.get("emails").is_none() && p.get("userName").is_none() && p.get("name").is_some()
        );
    }
}
