//! `latchkey-server rotate-key`: re-seals every integration's client secret and API key
//! under a new server key, in one transaction (all or none), so the old key can be
//! destroyed. Run it with the servers stopped; then start them with the new key
//! (`--server-key-file` / `LATCHKEY_SERVER_KEY_FILE`). See docs/server.md.

use crate::crypto::{ServerKey, secret_context};
use crate::error::{ApiError, ApiResult};
use crate::state::{Actor, Shared};
use latchkey_server_database::ResealedSecrets;
use serde_json::json;

/// The sealed fields of an integration, by their context name.
const FIELDS: [&str; 2] = ["client_secret", "api_key"];

/// Re-seals every secret sealed with `state.key` under `new_key`; returns how many
/// secrets were re-sealed. Nothing changes when one cannot be opened.
pub async fn rotate(state: &Shared, new_key: &ServerKey) -> ApiResult<usize> {
    let mut resealed = Vec::new();
    let mut count = 0;
    for i in state.db.list_integrations(&state.org.id).await? {
        let mut fields = [i.client_secret_sealed.clone(), i.api_key_sealed.clone()];
        for (field, sealed) in FIELDS.iter().zip(fields.iter_mut()) {
            let Some(old) = sealed.as_ref() else {
                continue;
            };
            let context = secret_context(&i.org_id, &i.id, field);
            let plain = state.key.open(&context, old).map_err(|_| {
                ApiError::conflict(
                    "server_key_mismatch",
                    format!(
                        "The {field} of {} cannot be opened with the current server key, so nothing was changed. Run rotate-key with the key the server runs with now.",
                        i.id
                    ),
                )
            })?;
            *sealed = Some(new_key.seal(&context, plain.expose().as_bytes())?);
            count += 1;
        }
        let [client_secret_sealed, api_key_sealed] = fields;
        resealed.push(ResealedSecrets {
            integration_id: i.id.clone(),
            client_secret_sealed,
            api_key_sealed,
        });
    }
    let journal = state.journal(
        &Actor::System,
        "server_key.rotate",
        None,
        json!({ "secrets": count, "integrations": resealed.len() }),
        vec![],
    );
    state
        .db
        .reseal_secrets(&state.org.id, &resealed, &journal)
        .await?;
    Ok(count)
}
