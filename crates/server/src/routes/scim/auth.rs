//! Who may call SCIM: a bearer SCIM token an admin issued in the console.

use super::*;

/// A caller holding a live SCIM token. Admin and device tokens are refused here, as
/// SCIM tokens are on the admin API: each credential opens one door.
pub struct ScimAuth {
    pub token_id: String,
}

impl ScimAuth {
    pub(super) fn actor(&self) -> Actor {
        Actor::Scim(self.token_id.clone())
    }
}

impl FromRequestParts<AppState> for ScimAuth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(failed(
                state,
                parts,
                crate::error::ApiError::unauthorized(
                    "missing_token",
                    "Send the SCIM token as 'Authorization: Bearer <token>'. Issue one in the console under Provisioning (SCIM).",
                ),
            )
            .into());
        };
        let refuse = |detail: &str| -> ScimError {
            failed(
                state,
                parts,
                crate::error::ApiError::unauthorized("invalid_scim_token", detail.to_owned()),
            )
            .into()
        };
        if !TokenKind::Scim.matches(token) {
            return Err(refuse(
                "This is not a SCIM token (admin and device tokens cannot call /scim/v2). Issue a SCIM token in the console under Provisioning (SCIM).",
            ));
        }
        let now = now_millis();
        let found = state
            .db
            .scim_token_by_hash(&token_hash(token))
            .await?
            .filter(|t| t.org_id == state.org.id && token_matches(token, &t.token_hash));
        let problem = match &found {
            None => Some("unknown"),
            Some(t) if t.revoked_at.is_some() => Some("revoked"),
            Some(t) if t.expires_at <= now => Some("expired"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let journal = state.journal(
                &Actor::System,
                "scim.token.refused",
                found.as_ref().map(|t| t.id.as_str()),
                json!({ "reason": problem }),
                vec![],
            );
            if let Err(e) = state.db.append_audit(&journal.audit).await {
                tracing::warn!(error = %e, "could not audit a refused SCIM token");
            }
            return Err(refuse(match problem {
                "revoked" => {
                    "This SCIM token was revoked. Issue a new one in the console and update your identity provider."
                }
                "expired" => {
                    "This SCIM token has expired. Issue a new one in the console and update your identity provider."
                }
                _ => {
                    "This SCIM token is not valid. Issue a new one in the console under Provisioning (SCIM)."
                }
            }));
        }
        let Some(token) = found else {
            return Err(refuse("This SCIM token is not valid."));
        };
        if token.last_used_at.is_none_or(|used| now - used > 60_000)
            && let Err(e) = state.db.touch_scim_token(&token.id, now).await
        {
            tracing::warn!(error = %e, "could not record a SCIM token's last use");
        }
        Ok(Self { token_id: token.id })
    }
}
