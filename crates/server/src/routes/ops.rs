//! Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::admin::{Health, HealthStatus, Readiness, ReadyStatus};
use serde_json::Value;

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// Ready when the database answers and the server is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if *state.shutdown.borrow() {
        return crate::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "The server is shutting down.",
        )
        .into_response();
    }
    match state.db.ping().await {
        Ok(()) => {
            // Ready either way; what an operator should fix is said here and at start.
            let warnings = state
                .server_key_in_data_dir
                .then(|| "server_key_in_data_dir".to_owned())
                .into_iter()
                .collect();
            Json(Readiness {
                status: ReadyStatus::Ready,
                backend: state.db.backend().to_owned(),
                warnings,
            })
            .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            crate::error::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database does not answer. Check the database and the server logs.",
            )
            .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.db.backend()),
    )
        .into_response()
}

/// The document the server built at start from its route table (`crate::openapi`).
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(state.openapi.as_ref().clone())
}
