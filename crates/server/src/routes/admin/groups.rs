//! The admin's read of the SCIM groups the identity provider pushed, for naming them in
//! an integration's `allowed_groups` (`/scim/v2/Groups` takes SCIM tokens only).

use crate::auth::AdminAuth;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use latchkey_protocol::admin::{Group, GroupList};

/// Every group, oldest first: id, display name and member count.
pub async fn list_groups(
    State(state): State<AppState>,
    _auth: AdminAuth,
) -> ApiResult<Json<GroupList>> {
    let groups = state
        .db
        .list_scim_groups(&state.org.id)
        .await?
        .iter()
        .map(|g| Group {
            id: g.id.clone(),
            display_name: g.display_name.clone(),
            member_count: u64::try_from(g.members.len()).unwrap_or(u64::MAX),
        })
        .collect();
    Ok(Json(GroupList { groups }))
}
