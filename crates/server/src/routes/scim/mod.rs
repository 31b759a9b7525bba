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

mod auth;
mod discovery;
pub mod error;
pub mod filter;
mod groups;
mod list;
pub mod patch;
mod resource;
pub mod schema;
mod users;

use auth::*;
use discovery::*;
use groups::*;
use list::*;
use resource::*;
use users::*;

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

#[cfg(test)]
mod tests;
