//! Admin routes for signed app updates: uploading a release (checked against the update
//! key before it is stored), listing, moving a release to another channel (promoting a
//! beta to stable), withdrawing, and putting a device on a channel.

use crate::auth::AdminAuth;
use crate::crypto::new_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, now_millis};
use crate::updates;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_protocol::admin::{self as wire, ChannelChange, ReleaseList};
use latchkey_server_database::{DEFAULT_UPDATE_CHANNEL, DbError, Release};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The upload's operation id: the router gives this route alone a body limit of
/// `updates.max_artifact_bytes` instead of `max_body_bytes`.
pub const UPLOAD_OPERATION: &str = "uploadRelease";

/// Longest release notes accepted (they travel in the query string and in every manifest).
const MAX_NOTES: usize = 4000;

pub fn release_view(r: &Release) -> wire::Release {
    wire::Release {
        id: r.id.clone(),
        version: r.version.clone(),
        target: r.target.clone(),
        arch: r.arch.clone(),
        channel: r.channel.clone(),
        notes: r.notes.clone(),
        signature: r.signature.clone(),
        size: r.size,
        sha256: r.sha256.clone(),
        created_at: r.created_at,
        withdrawn_at: r.withdrawn_at,
    }
}

fn release_not_found() -> ApiError {
    ApiError::not_found(
        "release_not_found",
        "No such release, or it was withdrawn. List releases with GET /v1/admin/releases.",
    )
}

fn already_exists(version: &str, target: &str, arch: &str, channel: &str) -> ApiError {
    ApiError::conflict(
        "release.exists",
        format!(
            "Release {version} for {target}/{arch} is already on channel {channel}. Withdraw that one first (DELETE /v1/admin/releases/{{id}}), or use a higher version."
        ),
    )
}

/// The upload's metadata; the artifact is the request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    version: String,
    target: String,
    arch: String,
    /// Base64 of the `.sig` file `tauri signer sign` wrote next to the artifact.
    signature: String,
    channel: Option<String>,
    notes: Option<String>,
}

/// `POST /v1/admin/releases?version=&target=&arch=&signature=[&channel=][&notes=]` with
/// the artifact as the body (`application/octet-stream`).
pub async fn upload(
    State(state): State<AppState>,
    auth: AdminAuth,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<wire::Release>)> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "release.bad_query",
            format!(
                "Give the release as query parameters version, target, arch and signature (channel and notes are optional): {}",
                e.body_text()
            ),
        )
    })?;
    let artifact = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "release.too_large",
                format!(
                    "The artifact is larger than updates.max_artifact_bytes ({} bytes). Raise that setting on the server, or upload a smaller artifact.",
                    state.config.updates.max_artifact_bytes
                ),
            )
        } else {
            ApiError::bad_request(
                "bad_body",
                "The artifact could not be read. Upload it again.",
            )
        }
    })?;
    let Some(key) = &state.config.updates.public_key else {
        return Err(ApiError::conflict(
            "release.no_update_key",
            "No update key is configured, so no signature can be checked. Set updates.public_key (LATCHKEY_UPDATES_PUBLIC_KEY) to the app's plugins.updater.pubkey, restart the server, and upload again.",
        ));
    };
    let version = updates::version(&q.version).ok_or_else(|| {
        ApiError::bad_request(
            "release.bad_version",
            "The version is not semver (such as 1.2.3, with no leading v): give the app's version from tauri.conf.json.",
        )
    })?;
    let target = updates::target(&q.target).ok_or_else(|| {
        ApiError::bad_request(
            "release.bad_target",
            format!(
                "The target must be one of {}: the platform the artifact was built for, as Tauri names it.",
                updates::TARGETS.join(", ")
            ),
        )
    })?;
    let arch = updates::arch(&q.arch).ok_or_else(|| {
        ApiError::bad_request(
            "release.bad_arch",
            format!(
                "The arch must be one of {}: the CPU the artifact was built for, as Tauri names it.",
                updates::ARCHES.join(", ")
            ),
        )
    })?;
    let channel = updates::channel(q.channel.as_deref().unwrap_or(DEFAULT_UPDATE_CHANNEL))?;
    let notes = q.notes.unwrap_or_default();
    if notes.chars().count() > MAX_NOTES {
        return Err(ApiError::bad_request(
            "release.notes_too_long",
            format!("Release notes are at most {MAX_NOTES} characters: shorten them."),
        ));
    }
    if artifact.is_empty() {
        return Err(ApiError::bad_request(
            "release.empty_artifact",
            "The request body is empty: send the artifact's bytes (the file tauri build wrote) as the body.",
        ));
    }
    let signature = q.signature.trim().to_owned();
    if !key.verifies(&artifact, &signature) {
        return Err(ApiError::bad_request(
            "release.bad_signature",
            "This signature was not made with the key in updates.public_key: sign the artifact with the app's update key (tauri signer sign) and upload again.",
        ));
    }
    match crate::updates::signed_version(&signature)
        .map(|v| crate::updates::version(v.trim_start_matches('v')))
    {
        None => {
            return Err(ApiError::bad_request(
                "release.unsigned_version",
                "This signature does not record which version it was made for, and Latchkey refuses such updates (so an old build cannot be announced as new). Sign the artifact with a current `tauri signer sign` (or `tauri build` with TAURI_SIGNING_PRIVATE_KEY) and upload again.",
            ));
        }
        Some(signed) if signed.as_ref() != Some(&version) => {
            return Err(ApiError::bad_request(
                "release.version_mismatch",
                format!(
                    "This artifact was signed as another version than {version}. Upload it with the version it was built as, or sign the right build."
                ),
            ));
        }
        Some(_) => {}
    }
    let release = Release {
        id: new_id()?,
        org_id: state.org.id.clone(),
        version: version.to_string(),
        target: target.to_owned(),
        arch: arch.to_owned(),
        channel: channel.to_owned(),
        notes,
        signature,
        size: i64::try_from(artifact.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&artifact)),
        created_at: now_millis(),
        withdrawn_at: None,
    };
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "release.upload",
        Some(&release.id),
        json!({
            "version": release.version, "target": release.target, "arch": release.arch,
            "channel": release.channel, "size": release.size, "sha256": release.sha256,
        }),
        vec![],
    );
    state
        .db
        .create_release(&release, &artifact, &journal)
        .await
        .map_err(|e| match e {
            DbError::AlreadyExists(_) => {
                already_exists(&release.version, target, arch, &release.channel)
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(release_view(&release))))
}

pub async fn list(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<ReleaseList>> {
    let releases = state
        .db
        .list_releases(&state.org.id)
        .await?
        .iter()
        .map(release_view)
        .collect();
    Ok(Json(ReleaseList {
        releases,
        // Whether uploads can be checked at all, for the console.
        update_key: state
            .config
            .updates
            .public_key
            .as_ref()
            .map(|k| k.as_str().to_owned()),
    }))
}

/// Moves a live release to another channel (such as beta → stable).
pub async fn change(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChannelChange>,
) -> ApiResult<Json<wire::Release>> {
    let channel = updates::channel(&body.channel)?;
    let before = state
        .db
        .release_by_id(&state.org.id, &id)
        .await?
        .filter(|r| r.withdrawn_at.is_none())
        .ok_or_else(release_not_found)?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "release.channel",
        Some(&id),
        json!({ "version": before.version, "from": before.channel, "to": channel }),
        vec![],
    );
    let release = state
        .db
        .set_release_channel(&state.org.id, &id, channel, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => release_not_found(),
            DbError::AlreadyExists(_) => {
                already_exists(&before.version, &before.target, &before.arch, channel)
            }
            other => other.into(),
        })?;
    Ok(Json(release_view(&release)))
}

/// Withdraws a release: no device is offered it or can download it again.
pub async fn withdraw(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Release>> {
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "release.withdraw",
        Some(&id),
        json!({}),
        vec![],
    );
    let release = state
        .db
        .withdraw_release(&state.org.id, &id, now_millis(), &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => release_not_found(),
            other => other.into(),
        })?;
    Ok(Json(release_view(&release)))
}

/// Puts a device on an update channel; it is offered only that channel's releases.
pub async fn set_device_channel(
    State(state): State<AppState>,
    auth: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChannelChange>,
) -> ApiResult<Json<wire::Device>> {
    let channel = updates::channel(&body.channel)?;
    let journal = state.journal(
        &Actor::Admin(auth.admin.id.clone()),
        "device.update_channel",
        Some(&id),
        json!({ "channel": channel }),
        vec![],
    );
    let device = state
        .db
        .set_device_update_channel(&state.org.id, &id, channel, &journal)
        .await
        .map_err(|e| match e {
            DbError::NotFound => ApiError::not_found(
                "device_not_found",
                "No such device. List devices with GET /v1/admin/devices.",
            ),
            other => other.into(),
        })?;
    Ok(Json(crate::routes::client::device_info(&device)))
}
