//! `/Users`: create, read, list, search, replace, patch and delete (the leaver flow).

use super::*;

pub(super) async fn create_user(
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

pub(super) async fn get_user(
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

pub(super) async fn all_users(state: &Shared) -> ScimResult<Vec<Value>> {
    Ok(state
        .db
        .list_users(&state.org.id)
        .await?
        .iter()
        .map(|u| user_resource(state, u))
        .collect())
}

pub(super) async fn list_users(
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

pub(super) async fn search_users(
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

pub(super) async fn replace_user(
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

pub(super) async fn patch_user(
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
pub(super) async fn delete_user(
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
