//! `/Groups`: membership, and the access members lose when a group changes.

use super::*;

pub(super) fn group_resource(state: &Shared, g: &ScimGroup) -> Value {
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

pub(super) fn editable_group(state: &Shared, g: &ScimGroup) -> Map<String, Value> {
    let mut m = group_resource(state, g)
        .as_object()
        .cloned()
        .unwrap_or_default();
    for k in ["schemas", "id", "meta"] {
        m.remove(k);
    }
    m
}

pub(super) fn group_from(
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

pub(super) fn unknown_member(e: DbError) -> ScimError {
    match e {
        DbError::NotFound => ScimError::bad(
            ScimType::InvalidValue,
            "A member's value is not the id of a user of this organisation. Provision the user first.",
        ),
        other => other.into(),
    }
}

pub(super) async fn find_group(state: &Shared, id: &str) -> ScimResult<ScimGroup> {
    state
        .db
        .scim_group_by_id(&state.org.id, id)
        .await?
        .ok_or_else(group_not_found)
}

pub(super) async fn create_group(
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

pub(super) async fn get_group(
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

pub(super) async fn all_groups(state: &Shared) -> ScimResult<Vec<Value>> {
    Ok(state
        .db
        .list_scim_groups(&state.org.id)
        .await?
        .iter()
        .map(|g| group_resource(state, g))
        .collect())
}

pub(super) async fn list_groups(
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

pub(super) async fn search_groups(
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
pub(super) async fn lost_access(
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

pub(super) async fn save_group(
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

pub(super) async fn replace_group(
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

pub(super) async fn patch_group(
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

pub(super) async fn delete_group(
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
