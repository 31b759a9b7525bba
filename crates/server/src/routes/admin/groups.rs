//! The admin's read of the SCIM groups the identity provider pushed, for naming them in
//! an integration's `allowed_groups` (`/scim/v2/Groups` takes SCIM tokens only).

use crate::auth::AdminAuth;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// Every group, oldest first: id, display name and member count.
pub async fn list_groups(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<Value>> {
    let groups: Vec<Value> = state
        .db
        .list_scim_groups(&state.org.id)
        .await?
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "display_name": g.display_name,
                "member_count": g.members.len(),
            })
        })
        .collect();
    Ok(Json(json!({ "groups": groups })))
}
