//! `latchkey-server rotate-key`: re-seals every integration's client secret and API key,
//! and every org connection's tokens, under a new server key, in one transaction (all or
//! none), so the old key can be destroyed. Run it with the servers stopped; then start
//! them with the new key (`--server-key-file` / `LATCHKEY_SERVER_KEY_FILE`). See
//! docs/server.md.

use crate::crypto::{ServerKey, secret_context};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::org_tokens::{TokenField, open_token, seal_token};
use crate::state::{Actor, Shared};
use latchkey_server_database::{DbError, Integration, ResealedOrgToken, ResealedSecrets};
use serde_json::json;

/// The sealed fields of an integration, by their context name.
const FIELDS: [&str; 2] = ["client_secret", "api_key"];

fn mismatch(what: &str, integration: &str) -> ApiError {
    ApiError::conflict(
        ErrorCode::SERVER_KEY_MISMATCH,
        format!(
            "The {what} of {integration} cannot be opened with the current server key, so nothing was changed. Run rotate-key with the key the server runs with now."
        ),
    )
}

/// The org connection's tokens of `i` sealed under `new_key`, with how many there were;
/// `None` when the server holds none for it.
async fn reseal_org_token(
    state: &Shared,
    i: &Integration,
    new_key: &ServerKey,
) -> ApiResult<Option<(ResealedOrgToken, usize)>> {
    let Some(t) = state.db.get_org_token(&i.org_id, &i.id).await? else {
        return Ok(None);
    };
    let reseal = |field: TokenField, sealed: &[u8]| -> ApiResult<Vec<u8>> {
        let plain = open_token(
            &state.key,
            &t.org_id,
            &t.integration_id,
            &t.environment,
            field,
            sealed,
        )
        .map_err(|_| mismatch("org connection token", &i.id))?;
        Ok(seal_token(
            new_key,
            &t.org_id,
            &t.integration_id,
            &t.environment,
            field,
            plain.expose(),
        )?)
    };
    let access_sealed = reseal(TokenField::Access, &t.access_sealed)?;
    let refresh_sealed = t
        .refresh_sealed
        .as_deref()
        .map(|r| reseal(TokenField::Refresh, r))
        .transpose()?;
    let count = 1 + usize::from(refresh_sealed.is_some());
    Ok(Some((
        ResealedOrgToken {
            access_sealed,
            refresh_sealed,
            version: t.version,
        },
        count,
    )))
}

/// Re-seals every secret sealed with `state.key` under `new_key`; returns how many
/// secrets were re-sealed. Nothing changes when one cannot be opened, or when an org
/// connection's tokens changed while the rotation ran.
pub async fn rotate(state: &Shared, new_key: &ServerKey) -> ApiResult<usize> {
    let mut resealed = Vec::new();
    let mut count = 0;
    let mut org_tokens = 0;
    for i in state.db.list_integrations(&state.org.id).await? {
        let mut fields = [i.client_secret_sealed.clone(), i.api_key_sealed.clone()];
        for (field, sealed) in FIELDS.iter().zip(fields.iter_mut()) {
            let Some(old) = sealed.as_ref() else {
                continue;
            };
            let context = secret_context(&i.org_id, &i.id, field);
            let plain = state
                .key
                .open(&context, old)
                .map_err(|_| mismatch(field, &i.id))?;
            *sealed = Some(new_key.seal(&context, plain.expose().as_bytes())?);
            count += 1;
        }
        let org_token = match reseal_org_token(state, &i, new_key).await? {
            Some((t, n)) => {
                count += n;
                org_tokens += 1;
                Some(t)
            }
            None => None,
        };
        let [client_secret_sealed, api_key_sealed] = fields;
        resealed.push(ResealedSecrets {
            integration_id: i.id.clone(),
            client_secret_sealed,
            api_key_sealed,
            org_token,
        });
    }
    let journal = state.journal(
        &Actor::System,
        "server_key.rotate",
        None,
        json!({ "secrets": count, "integrations": resealed.len(), "org_connections": org_tokens }),
        vec![],
    );
    state
        .db
        .reseal_secrets(&state.org.id, &resealed, &journal)
        .await
        .map_err(|e| match e {
            DbError::VersionMismatch { .. } => ApiError::conflict(
                ErrorCode::SERVER_KEY_ROTATION_RACED,
                "An org connection's tokens changed while the key rotated (a server is still running), so nothing was changed. Stop every server, then run rotate-key again.",
            ),
            e => e.into(),
        })?;
    Ok(count)
}
