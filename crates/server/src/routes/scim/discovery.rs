//! Discovery: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`.

use super::*;

pub(super) async fn service_provider_config(
    State(state): State<AppState>,
    _auth: ScimAuth,
) -> Response {
    respond(
        StatusCode::OK,
        &schema::service_provider_config(&base(&state)),
    )
}

pub(super) async fn resource_types(State(state): State<AppState>, _auth: ScimAuth) -> Response {
    let all = schema::resource_types(&base(&state));
    respond(StatusCode::OK, &schema::list_response(all.len(), 1, all))
}

pub(super) async fn resource_type(
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

pub(super) async fn schemas(State(state): State<AppState>, _auth: ScimAuth) -> Response {
    let all = schema::schemas(&base(&state));
    respond(StatusCode::OK, &schema::list_response(all.len(), 1, all))
}

pub(super) async fn schema_by_id(
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
