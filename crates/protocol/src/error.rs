//! The error body every failure carries: a stable code to branch on and a
//! message saying what happened and what to do next.
//!
//! Codes are an open set on purpose: a device must still read an error from a
//! newer server, so [`ErrorCode`] is a string newtype, and every code the server
//! sends today is a named constant here. The server builds its errors from these
//! constants and the client compares against them, so a renamed code is renamed
//! on both sides or does not compile.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A stable error code such as `revoked_by_admin`: snake case, some with an area
/// prefix (`sso.`, `update.`, `release.`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "version_mismatch")]
pub struct ErrorCode(Cow<'static, str>);

impl ErrorCode {
    /// A code known when compiling (the constants below are made with this).
    pub const fn from_static(code: &'static str) -> Self {
        Self(Cow::Borrowed(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ErrorCode {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for ErrorCode {
    fn from(code: &'static str) -> Self {
        Self::from_static(code)
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        Self(Cow::Owned(code))
    }
}

impl From<ErrorCode> for String {
    fn from(code: ErrorCode) -> String {
        code.0.into_owned()
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ErrorCode {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_str()
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal;)*) => {
        impl ErrorCode {
            $($(#[$doc])* pub const $name: ErrorCode = ErrorCode::from_static($code);)*

            /// Every code the server sends, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];
        }
    };
}

codes! {
    /// `admin_exists`
    ADMIN_EXISTS = "admin_exists";
    /// `admin_not_found`
    ADMIN_NOT_FOUND = "admin_not_found";
    /// `already_exists`: 409: it already exists.
    ALREADY_EXISTS = "already_exists";
    /// `already_set_up`
    ALREADY_SET_UP = "already_set_up";
    /// `bad_body`
    BAD_BODY = "bad_body";
    /// `body_too_large`
    BODY_TOO_LARGE = "body_too_large";
    /// `conflicting_preconditions`
    CONFLICTING_PRECONDITIONS = "conflicting_preconditions";
    /// `connection_exists`: 409: another connection of the org already reaches this provider's system in this environment.
    CONNECTION_EXISTS = "connection_exists";
    /// `connection_in_use`: 409: the user holds records made with the values they gave before; revoke first.
    CONNECTION_IN_USE = "connection_in_use";
    /// `connection_name_taken`: 409: another connection of the org has this name; give this one its own.
    CONNECTION_NAME_TAKEN = "connection_name_taken";
    /// `connection_provider_fixed`: 409: a connection's provider never changes; create another connection.
    CONNECTION_PROVIDER_FIXED = "connection_provider_fixed";
    /// `csrf_failed`
    CSRF_FAILED = "csrf_failed";
    /// `database_unavailable`
    DATABASE_UNAVAILABLE = "database_unavailable";
    /// `development_provider`
    DEVELOPMENT_PROVIDER = "development_provider";
    /// `device_not_found`
    DEVICE_NOT_FOUND = "device_not_found";
    /// `device_revoked`: 401: an admin revoked this device. Carry out the last revocation orders, wipe, forget the token.
    DEVICE_REVOKED = "device_revoked";
    /// `enrollment_code_expired`: 401: the enrollment code expired.
    ENROLLMENT_CODE_EXPIRED = "enrollment_code_expired";
    /// `enrollment_code_invalid`: 401: the enrollment code is not one this server issued.
    ENROLLMENT_CODE_INVALID = "enrollment_code_invalid";
    /// `enrollment_code_used`: 401: the enrollment code was already redeemed.
    ENROLLMENT_CODE_USED = "enrollment_code_used";
    /// `envelope_too_large`
    ENVELOPE_TOO_LARGE = "envelope_too_large";
    /// `environment_not_enabled`: 403: the integration is enabled for another environment only.
    ENVIRONMENT_NOT_ENABLED = "environment_not_enabled";
    /// `integration_not_enabled`: 403: the admin has not enabled this integration for this user.
    INTEGRATION_NOT_ENABLED = "integration_not_enabled";
    /// `integration_not_found`
    INTEGRATION_NOT_FOUND = "integration_not_found";
    /// `internal`: 500: the server failed; its log says why.
    INTERNAL = "internal";
    /// `invalid_api_base_url`
    INVALID_API_BASE_URL = "invalid_api_base_url";
    /// `invalid_api_key_header`
    INVALID_API_KEY_HEADER = "invalid_api_key_header";
    /// `invalid_api_paths`
    INVALID_API_PATHS = "invalid_api_paths";
    /// `invalid_body`: 422: the JSON body does not have the expected fields (unknown fields included).
    INVALID_BODY = "invalid_body";
    /// `invalid_asked_at_connect`: 422: asked_at_connect names a value the provider does not have, twice, or one also in params.
    INVALID_ASKED_AT_CONNECT = "invalid_asked_at_connect";
    /// `invalid_client_id`
    INVALID_CLIENT_ID = "invalid_client_id";
    /// `invalid_credentials`
    INVALID_CREDENTIALS = "invalid_credentials";
    /// `invalid_connection_value`: 422: a value given at connect breaks the catalog's rules (a host outside the provider's domains, credentials in a host).
    INVALID_CONNECTION_VALUE = "invalid_connection_value";
    /// `invalid_display_name`: 422: a connection's name is 1-80 characters without control characters.
    INVALID_DISPLAY_NAME = "invalid_display_name";
    /// `invalid_email`
    INVALID_EMAIL = "invalid_email";
    /// `invalid_envelope`
    INVALID_ENVELOPE = "invalid_envelope";
    /// `invalid_environment`
    INVALID_ENVIRONMENT = "invalid_environment";
    /// `invalid_integration_id`
    INVALID_INTEGRATION_ID = "invalid_integration_id";
    /// `invalid_login`
    INVALID_LOGIN = "invalid_login";
    /// `invalid_name`
    INVALID_NAME = "invalid_name";
    /// `invalid_params`
    INVALID_PARAMS = "invalid_params";
    /// `invalid_path`
    INVALID_PATH = "invalid_path";
    /// `invalid_precondition`
    INVALID_PRECONDITION = "invalid_precondition";
    /// `invalid_query`
    INVALID_QUERY = "invalid_query";
    /// `invalid_receipt`
    INVALID_RECEIPT = "invalid_receipt";
    /// `invalid_redirect_host`
    INVALID_REDIRECT_HOST = "invalid_redirect_host";
    /// `invalid_scopes`
    INVALID_SCOPES = "invalid_scopes";
    /// `invalid_secret`
    INVALID_SECRET = "invalid_secret";
    /// `invalid_token`: 401: the device token is unknown (its user was removed, or it was never valid).
    INVALID_TOKEN = "invalid_token";
    /// `invalid_ttl`
    INVALID_TTL = "invalid_ttl";
    /// `invalid_vault_key_id`
    INVALID_VAULT_KEY_ID = "invalid_vault_key_id";
    /// `last_owner`
    LAST_OWNER = "last_owner";
    /// `malformed_json`: 400: the body is not JSON.
    MALFORMED_JSON = "malformed_json";
    /// `method_not_allowed`: 405: the endpoint does not take this method.
    METHOD_NOT_ALLOWED = "method_not_allowed";
    /// `missing_credentials`
    MISSING_CREDENTIALS = "missing_credentials";
    /// `missing_token`: 401: no `Authorization: Bearer` token was sent.
    MISSING_TOKEN = "missing_token";
    /// `no_such_route`: 404: no such endpoint.
    NO_SUCH_ROUTE = "no_such_route";
    /// `not_an_admin`
    NOT_AN_ADMIN = "not_an_admin";
    /// `not_found`: 404: no such resource.
    NOT_FOUND = "not_found";
    /// `order_not_found`: 404: no such pending revocation order for this device.
    ORDER_NOT_FOUND = "order_not_found";
    /// `owner_only`
    OWNER_ONLY = "owner_only";
    /// `password_sign_in_disabled`
    PASSWORD_SIGN_IN_DISABLED = "password_sign_in_disabled";
    /// `org.authorize_needs_session`: 403: Authorize runs in a signed-in console session (a browser), not with an API token.
    ORG_AUTHORIZE_NEEDS_SESSION = "org.authorize_needs_session";
    /// `org.not_org_wide`: 409: the integration is not an org connection.
    ORG_NOT_ORG_WIDE = "org.not_org_wide";
    /// `org.not_authorized`: 409: no admin has authorized this org connection yet.
    ORG_NOT_AUTHORIZED = "org.not_authorized";
    /// `org.needs_reauthorization`: 409: the provider refused the server's refresh token; an admin must press Authorize again.
    ORG_NEEDS_REAUTHORIZATION = "org.needs_reauthorization";
    /// `org.unsupported_provider`: 422: the catalog has no OAuth endpoints or API for this provider here.
    ORG_UNSUPPORTED_PROVIDER = "org.unsupported_provider";
    /// `org.not_enabled`: 409: enable the integration before authorizing it.
    ORG_NOT_ENABLED = "org.not_enabled";
    /// `path_not_allowed`
    PATH_NOT_ALLOWED = "path_not_allowed";
    /// `precondition_required`: 428: a record write sent neither `If-Match` nor `If-None-Match`.
    PRECONDITION_REQUIRED = "precondition_required";
    /// `proxy_not_configured`
    PROXY_NOT_CONFIGURED = "proxy_not_configured";
    /// `rate_limited`: 429: too many attempts; `Retry-After` says how long to wait.
    RATE_LIMITED = "rate_limited";
    /// `record_not_found`: 404: no record in this slot.
    RECORD_NOT_FOUND = "record_not_found";
    /// `release.bad_arch`
    RELEASE_BAD_ARCH = "release.bad_arch";
    /// `release.bad_query`
    RELEASE_BAD_QUERY = "release.bad_query";
    /// `release.bad_signature`
    RELEASE_BAD_SIGNATURE = "release.bad_signature";
    /// `release.bad_target`
    RELEASE_BAD_TARGET = "release.bad_target";
    /// `release.bad_version`
    RELEASE_BAD_VERSION = "release.bad_version";
    /// `release.empty_artifact`
    RELEASE_EMPTY_ARTIFACT = "release.empty_artifact";
    /// `release.exists`
    RELEASE_EXISTS = "release.exists";
    /// `release.no_update_key`
    RELEASE_NO_UPDATE_KEY = "release.no_update_key";
    /// `release.notes_too_long`
    RELEASE_NOTES_TOO_LONG = "release.notes_too_long";
    /// `release.too_large`
    RELEASE_TOO_LARGE = "release.too_large";
    /// `release.unsigned_version`
    RELEASE_UNSIGNED_VERSION = "release.unsigned_version";
    /// `release.version_mismatch`
    RELEASE_VERSION_MISMATCH = "release.version_mismatch";
    /// `release_not_found`
    RELEASE_NOT_FOUND = "release_not_found";
    /// `revoked_by_admin`: 410: an admin emptied this slot and the write was an old copy. Wipe it; only a new sign-in (`new_grant`) may fill the slot again.
    REVOKED_BY_ADMIN = "revoked_by_admin";
    /// `scim_token_not_found`
    SCIM_TOKEN_NOT_FOUND = "scim_token_not_found";
    /// `server_key_mismatch`
    SERVER_KEY_MISMATCH = "server_key_mismatch";
    /// `server_key_rotation_raced`: 409: an org connection's tokens changed while `rotate-key` ran (a server still running); nothing changed.
    SERVER_KEY_ROTATION_RACED = "server_key_rotation_raced";
    /// `setup_code_invalid`
    SETUP_CODE_INVALID = "setup_code_invalid";
    /// `shutting_down`
    SHUTTING_DOWN = "shutting_down";
    /// `sso.code_expired`: 401: the company sign-in code expired.
    SSO_CODE_EXPIRED = "sso.code_expired";
    /// `sso.code_invalid`: 401: the company sign-in code is not valid or the PKCE verifier does not match.
    SSO_CODE_INVALID = "sso.code_invalid";
    /// `sso.code_used`: 401: the company sign-in code was already used.
    SSO_CODE_USED = "sso.code_used";
    /// `sso.not_an_admin`
    SSO_NOT_AN_ADMIN = "sso.not_an_admin";
    /// `sso.not_configured`: 404: the server has no company sign-in.
    SSO_NOT_CONFIGURED = "sso.not_configured";
    /// `sso.unknown_user`
    SSO_UNKNOWN_USER = "sso.unknown_user";
    /// `sso.user_inactive`
    SSO_USER_INACTIVE = "sso.user_inactive";
    /// `token_not_found`
    TOKEN_NOT_FOUND = "token_not_found";
    /// `too_many_records`: 409: the user already keeps the most records (one per vault key) for this slot.
    TOO_MANY_RECORDS = "too_many_records";
    /// `unknown_group`
    UNKNOWN_GROUP = "unknown_group";
    /// `unknown_integration`
    UNKNOWN_INTEGRATION = "unknown_integration";
    /// `unknown_user`
    UNKNOWN_USER = "unknown_user";
    /// `unknown_widget`
    UNKNOWN_WIDGET = "unknown_widget";
    /// `unsupported_media_type`
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type";
    /// `update.bad_arch`
    UPDATE_BAD_ARCH = "update.bad_arch";
    /// `update.bad_channel`
    UPDATE_BAD_CHANNEL = "update.bad_channel";
    /// `update.bad_target`
    UPDATE_BAD_TARGET = "update.bad_target";
    /// `update.bad_version`
    UPDATE_BAD_VERSION = "update.bad_version";
    /// `update.no_such_artifact`
    UPDATE_NO_SUCH_ARTIFACT = "update.no_such_artifact";
    /// `upstream_timeout`
    UPSTREAM_TIMEOUT = "upstream_timeout";
    /// `upstream_too_large`
    UPSTREAM_TOO_LARGE = "upstream_too_large";
    /// `upstream_unreachable`
    UPSTREAM_UNREACHABLE = "upstream_unreachable";
    /// `user_exists`
    USER_EXISTS = "user_exists";
    /// `user_inactive`: 403 on enrollment (409 when an admin issues a code): the identity provider deactivated the user.
    USER_INACTIVE = "user_inactive";
    /// `user_not_found`
    USER_NOT_FOUND = "user_not_found";
    /// `value_not_asked`: 422: the connection does not ask the user for this value.
    VALUE_NOT_ASKED = "value_not_asked";
    /// `version_mismatch`: 412: the record changed since it was read; the body's `current_version` says to what (`null`: it is gone).
    VERSION_MISMATCH = "version_mismatch";
    /// `weak_password`
    WEAK_PASSWORD = "weak_password";
    /// `wrong_password`
    WRONG_PASSWORD = "wrong_password";
}

/// The body of every error answer (4xx and 5xx).
///
/// `current_version` is only in a 412 `version_mismatch`: the record's live
/// version, or `null` when there is no live record. Other errors leave it out.
/// Messages never hold secret material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, to branch on.
    pub code: ErrorCode,
    /// What happened and what to do next, for a person.
    pub message: String,
    /// 412 only: the record's live version (`null`: no live record).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schema(value_type = Option<i64>, required = false)]
    pub current_version: Option<Option<i64>>,
}

impl ErrorBody {
    /// An error body without a version.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            current_version: None,
        }
    }
}

/// A field that is present is `Some`, even when it is `null`; absent is `None`
/// (with `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_body_is_code_and_message_and_a_version_only_on_412() {
        let plain = ErrorBody::new(ErrorCode::RECORD_NOT_FOUND, "No record.");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({ "code": "record_not_found", "message": "No record." })
        );
        let gone = ErrorBody {
            current_version: Some(None),
            ..ErrorBody::new(ErrorCode::VERSION_MISMATCH, "Gone.")
        };
        assert_eq!(
            serde_json::to_value(&gone).unwrap(),
            json!({ "code": "version_mismatch", "message": "Gone.", "current_version": null })
        );
        let back: ErrorBody = serde_json::from_value(json!({
            "code": "version_mismatch", "message": "Gone.", "current_version": null
        }))
        .unwrap();
        assert_eq!(back, gone);
        let at_three: ErrorBody = serde_json::from_value(json!({
            "code": "version_mismatch", "message": "Changed.", "current_version": 3
        }))
        .unwrap();
        assert_eq!(at_three.current_version, Some(Some(3)));
        let without: ErrorBody =
            serde_json::from_value(json!({ "code": "x", "message": "y" })).unwrap();
        assert_eq!(without.current_version, None);
    }

    #[test]
    fn a_code_from_a_newer_server_still_reads_and_compares() {
        let body: ErrorBody =
            serde_json::from_value(json!({ "code": "something_new", "message": "m" })).unwrap();
        assert_eq!(body.code, "something_new");
        assert_ne!(body.code, ErrorCode::INTERNAL);
        let known: ErrorBody =
            serde_json::from_value(json!({ "code": "revoked_by_admin", "message": "m" })).unwrap();
        assert_eq!(known.code, ErrorCode::REVOKED_BY_ADMIN);
    }

    #[test]
    fn every_code_is_named_once_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} is listed twice");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'_'
                    || b == b'.'),
                "{code} is not snake case"
            );
        }
        assert!(seen.contains("device_revoked"));
    }
}
