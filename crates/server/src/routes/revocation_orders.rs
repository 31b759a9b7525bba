//! Revocation orders (`/v1/revocation-orders`): what an admin's disconnect asks of
//! a device (revoke at the provider, then wipe), and the receipt it answers with.

use super::client::{is_api_key, public_view};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::state::{Actor, AppState, now_millis};
use axum::Json;
use axum::extract::{Path, State};
use latchkey_protocol::device::{
    ProviderOutcome, ReceiptRecorded, RevocationOrder, RevocationOrderList, RevocationReceipt,
};
use latchkey_protocol::ids::RevocationOrderId;
use serde_json::{Value, json};

/// The orders this device has not answered: revoke a connection at the provider and
/// wipe it (an admin disconnected it, disabled the integration or took the user off its
/// allow-list). Each carries the integration's public configuration when the server
/// still has it, so the device can reach the provider even for a disabled integration.
pub async fn revocation_orders(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
) -> ApiResult<Json<RevocationOrderList>> {
    let orders = state.db.pending_revocation_orders(&auth.device_id).await?;
    let mut out = Vec::new();
    for o in &orders {
        let integration = state
            .db
            .get_integration(&state.org.id, &o.integration_id)
            .await?;
        let config = match &integration {
            Some(i) if !is_api_key(i) => {
                // The values the user gave (a login host) say where to revoke.
                let given = if i.asked_at_connect.is_empty() {
                    Vec::new()
                } else {
                    state
                        .db
                        .connection_values(&state.org.id, &o.user_id)
                        .await?
                };
                let mine = given.iter().find(|v| v.integration_id == i.id);
                Some(public_view(&state, i, mine)?)
            }
            _ => None,
        };
        out.push(RevocationOrder {
            id: o.id.clone().into(),
            integration_id: o.integration_id.clone().into(),
            environment: o.environment.clone().into(),
            reason: o.reason.clone().into(),
            ordered_at: o.created_at,
            integration: config,
        });
    }
    Ok(Json(RevocationOrderList { orders: out }))
}

/// Reads a receipt. A body that is right but for an outcome this server does not know
/// is `invalid_receipt` (the device may be newer); any other wrong shape is
/// `invalid_body`, as every body's is.
fn receipt_body(raw: Value) -> ApiResult<RevocationReceipt> {
    serde_json::from_value::<RevocationReceipt>(raw.clone()).map_err(|e| {
        let mut known = raw;
        let only_the_outcome = match known.get_mut("provider") {
            Some(provider @ Value::String(_)) => {
                *provider = json!(ProviderOutcome::Revoked);
                serde_json::from_value::<RevocationReceipt>(known).is_ok()
            }
            _ => false,
        };
        if only_the_outcome {
            ApiError::unprocessable(
                ErrorCode::INVALID_RECEIPT,
                "provider is one of revoked, not_supported, queued, failed, no_copy, kept.",
            )
        } else {
            ApiError::unprocessable(
                ErrorCode::INVALID_BODY,
                format!("The request body does not have the expected fields: {e}"),
            )
        }
    })
}

/// The device's receipt for one order. Answered once; the audit log keeps it.
pub async fn revocation_receipt(
    State(state): State<AppState>,
    auth: crate::auth::RevocationAuth,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<Value>,
) -> ApiResult<Json<ReceiptRecorded>> {
    let input = receipt_body(raw)?;
    let id = RevocationOrderId::parse(&id).map_err(|e| ApiError::not_found(e.code, e.message))?;
    let detail: String = input
        .detail
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    let receipt = latchkey_server_database::RevocationReceipt {
        at: now_millis(),
        provider_outcome: input.provider.as_str().to_owned(),
        provider_detail: detail.clone(),
        local_wiped: input.local_wiped,
    };
    let journal = state.journal(
        &Actor::Device(auth.device_id.clone()),
        "revocation.receipt",
        Some(&auth.user_id),
        json!({ "order_id": id, "provider": input.provider, "detail": detail, "local_wiped": input.local_wiped }),
        vec![],
    );
    let recorded = state
        .db
        .record_revocation_receipt(&auth.device_id, id.as_str(), &receipt, &journal)
        .await?;
    if !recorded {
        return Err(ApiError::not_found(
            ErrorCode::ORDER_NOT_FOUND,
            "No such pending revocation order for this device (it may have been answered already).",
        ));
    }
    Ok(Json(ReceiptRecorded { recorded: true }))
}
