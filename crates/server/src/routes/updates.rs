//! The device side of signed app updates: Tauri's updater asks
//! `GET /v1/updates/{target}/{arch}/{current_version}` (its dynamic-server contract) and
//! downloads the artifact the answer names. Both need the device token; the updater sends
//! the same headers on the download as on the check.

use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::{AppState, now_millis};
use crate::updates;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::device::UpdateManifest;
use latchkey_server_database::{AppReport, Release};

/// The newest release for this device's platform and channel when it is newer than
/// `current_version` (200 with Tauri's manifest), else 204. Every call records what the
/// app reported, for the console.
pub async fn check(
    State(state): State<AppState>,
    auth: DeviceAuth,
    Path((target, arch, current_version)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let target = updates::target(&target).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::UPDATE_BAD_TARGET,
            format!(
                "The update target must be one of {}: put Tauri's {{{{target}}}} in the updater endpoint.",
                updates::TARGETS.join(", ")
            ),
        )
    })?;
    let arch = updates::arch(&arch).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::UPDATE_BAD_ARCH,
            format!(
                "The update arch must be one of {}: put Tauri's {{{{arch}}}} in the updater endpoint.",
                updates::ARCHES.join(", ")
            ),
        )
    })?;
    let current = updates::version(&current_version).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::UPDATE_BAD_VERSION,
            "The current version is not semver (such as 1.2.3): put Tauri's {{current_version}} in the updater endpoint.",
        )
    })?;
    let report = AppReport {
        version: current.to_string(),
        target: target.to_owned(),
        arch: arch.to_owned(),
        seen_at: now_millis(),
    };
    // What the app reports is for the console: a failed write must not stop an update.
    if let Err(e) = state.db.record_device_app(&auth.device.id, &report).await {
        tracing::warn!(error = %e, "could not record the device's app version");
    }
    let offered = state
        .db
        .offered_releases(&state.org.id, target, arch, &auth.device.update_channel)
        .await?;
    let Some(release) = newest_above(offered, &current) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(Json(UpdateManifest {
        pub_date: pub_date(release.created_at),
        url: artifact_url(&state, &release.id),
        version: release.version,
        notes: release.notes,
        signature: release.signature,
    })
    .into_response())
}

/// The highest-semver release above `current`.
fn newest_above(offered: Vec<Release>, current: &semver::Version) -> Option<Release> {
    offered
        .into_iter()
        .filter_map(|r| semver::Version::parse(&r.version).ok().map(|v| (v, r)))
        .filter(|(v, _)| v > current)
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, r)| r)
}

/// Where devices download a release: on this server's public origin (the one enrollment
/// links carry), so it works behind the same proxy.
pub fn artifact_url(state: &AppState, release_id: &str) -> String {
    format!("{}/v1/updates/artifacts/{release_id}", state.origin)
}

/// RFC 3339 in whole seconds, as the updater parses `pub_date`.
fn pub_date(created_at_millis: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(created_at_millis.div_euclid(1000))
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The artifact's bytes, for a live (not withdrawn) release.
pub async fn artifact(
    State(state): State<AppState>,
    _auth: DeviceAuth,
    Path(release_id): Path<String>,
) -> ApiResult<Response> {
    let bytes = state
        .db
        .release_artifact(&state.org.id, &release_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::UPDATE_NO_SUCH_ARTIFACT,
                "There is no such release, or it was withdrawn. Check for updates again to get the current one.",
            )
        })?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str) -> Release {
        Release {
            id: version.into(),
            org_id: "o".into(),
            version: version.into(),
            target: "linux".into(),
            arch: "x86_64".into(),
            channel: "stable".into(),
            notes: String::new(),
            signature: String::new(),
            size: 0,
            sha256: String::new(),
            created_at: 0,
            withdrawn_at: None,
        }
    }

    #[test]
    fn the_highest_semver_above_the_current_version_wins() {
        let current = semver::Version::parse("0.9.0").unwrap();
        let offered = ["0.10.0", "0.9.1", "0.2.0", "0.10.0-beta.1"]
            .map(release)
            .to_vec();
        assert_eq!(newest_above(offered, &current).unwrap().version, "0.10.0");
        let none = newest_above(vec![release("0.9.0"), release("0.1.0")], &current);
        assert!(none.is_none(), "the same version is not an update");
    }

    #[test]
    fn pub_date_is_rfc3339_in_whole_seconds() {
        assert_eq!(
            pub_date(1_796_040_000_123).as_deref(),
            Some("2026-11-30T12:00:00Z")
        );
    }
}
