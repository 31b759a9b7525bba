//! SCIM resources as JSON: users, `meta` with ETags, and reading a user from a body.

use super::*;

pub(super) fn base(state: &Shared) -> String {
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
pub(super) fn etag(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// Adds `meta` (with its version) to a resource.
pub(super) fn with_meta(
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

pub(super) fn respond(status: StatusCode, body: &Value) -> Response {
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
pub(super) fn editable_user(u: &User) -> Map<String, Value> {
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
pub(super) enum Absent {
    /// PATCH removed it: unassigned, and only `active: false` deactivates.
    Active,
    /// POST or PUT left it out: new users are active, existing ones keep their state.
    Keep,
}

pub(super) fn user_resource(state: &Shared, u: &User) -> Value {
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

pub(super) fn str_at<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The stored user for edited attributes: `existing` for an update, `None` to create.
pub(super) fn user_from(
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
pub(super) async fn check_user_name(state: &Shared, user: &User) -> ScimResult<()> {
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

pub(super) fn conflict_on_email(e: DbError) -> ScimError {
    match e {
        DbError::AlreadyExists(_) => ScimError::conflict(
            "Another user already has this email. Look it up with filter=emails.value eq \"…\" and update that user instead.",
        ),
        other => other.into(),
    }
}

pub(super) fn parse_body(body: &Bytes) -> ScimResult<Value> {
    serde_json::from_slice(body).map_err(|_| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            "The body is not valid JSON. Send a SCIM resource as application/scim+json.",
        )
    })
}

pub(super) fn user_not_found() -> ScimError {
    ScimError::not_found("No such user. List users with GET /scim/v2/Users.")
}

pub(super) fn group_not_found() -> ScimError {
    ScimError::not_found("No such group. List groups with GET /scim/v2/Groups.")
}

pub(super) async fn find_user(state: &Shared, id: &str) -> ScimResult<User> {
    state
        .db
        .user_by_id(&state.org.id, id)
        .await?
        .ok_or_else(user_not_found)
}

/// Stores an edited user with its audit event; `active: false` runs the leaver flow.
pub(super) async fn save_user(
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
