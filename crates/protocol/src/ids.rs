//! Identifier newtypes that cross the wire.
//!
//! Each is its string on the wire (`serde(transparent)`), so the JSON is what it
//! always was. The ones a caller chooses (integration, environment, vault key,
//! revocation order) have a `parse` that checks them with the server's rules and
//! the server's error code and message; `From<String>` is for values already
//! stored or issued by the server, which were checked when they were made.
//! A response is never refused for an id's shape: a device reads what its server
//! says, and the server checked it on the way in.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorCode;

/// Why a caller's identifier was refused: the server's stable code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    /// `invalid_integration_id`, `invalid_environment`, `invalid_vault_key_id` or
    /// `order_not_found`.
    pub code: ErrorCode,
    /// What to send instead.
    pub message: &'static str,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for IdError {}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, example = $example:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, example = $example)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

string_id!(
    /// A provider catalog id such as `salesforce`: `^[a-z0-9][a-z0-9-]{0,62}$`.
    IntegrationId,
    example = "salesforce"
);

string_id!(
    /// Where an integration signs in: `production`, `sandbox`, or a custom login host
    /// in lower case such as `acme.my.salesforce.com`.
    EnvironmentName,
    example = "production"
);

string_id!(
    /// The id of the device-side vault key that sealed a record: `^[A-Za-z0-9_-]{1,128}$`.
    VaultKeyId,
    example = "k1"
);

string_id!(
    /// A device, as the server numbered it at enrollment.
    DeviceId,
    example = "5f0c9a1e2b3d4c5e"
);

string_id!(
    /// A user of the organisation.
    UserId,
    example = "9a8b7c6d5e4f3a2b"
);

string_id!(
    /// The organisation a server serves.
    OrgId,
    example = "1a2b3c4d5e6f7a8b"
);

string_id!(
    /// An admin's order to one device (revoke a connection and wipe it): hex, at most
    /// 64 characters.
    RevocationOrderId,
    example = "0f1e2d3c4b5a6978"
);

string_id!(
    /// A release of the desktop app uploaded for updates.
    ReleaseId,
    example = "7a6b5c4d3e2f1a0b"
);

impl IntegrationId {
    /// Checks an id a caller sent: 1-63 characters of a-z, 0-9 and '-', not starting
    /// with '-'.
    pub fn parse(id: &str) -> Result<Self, IdError> {
        let ok = !id.is_empty()
            && id.len() <= 63
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(IdError {
                code: ErrorCode::INVALID_INTEGRATION_ID,
                message: "Integration ids are 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit.",
            })
        }
    }
}

impl EnvironmentName {
    /// The production environment, the one most integrations use.
    pub fn production() -> Self {
        Self("production".to_owned())
    }

    /// Checks an environment a caller sent: `production`, `sandbox`, or a lower-case
    /// host name with at least one dot (no port, no scheme).
    pub fn parse(env: &str) -> Result<Self, IdError> {
        if env == "production" || env == "sandbox" || is_hostname(env) {
            Ok(Self(env.to_owned()))
        } else {
            Err(IdError {
                code: ErrorCode::INVALID_ENVIRONMENT,
                message: "Environment must be 'production', 'sandbox', or a lowercase host name such as acme.my.salesforce.com.",
            })
        }
    }
}

fn is_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl VaultKeyId {
    /// Checks a vault key id a caller sent: 1-128 characters of A-Z, a-z, 0-9, '-', '_'.
    pub fn parse(id: &str) -> Result<Self, IdError> {
        if !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(id.to_owned()))
        } else {
            Err(IdError {
                code: ErrorCode::INVALID_VAULT_KEY_ID,
                message: "Vault key ids are 1-128 characters of A-Z, a-z, 0-9, '-' and '_'.",
            })
        }
    }
}

impl RevocationOrderId {
    /// Checks an order id a device sent. Order ids are hex; anything else names no
    /// order, so it is refused as one that does not exist (404 `order_not_found`).
    pub fn parse(id: &str) -> Result<Self, IdError> {
        if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(IdError {
                code: ErrorCode::ORDER_NOT_FOUND,
                message: "No such revocation order for this device.",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_ids_follow_the_servers_rule() {
        for ok in ["salesforce", "google-workspace", "x", "a1"] {
            assert!(IntegrationId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "Salesforce", "a_b", "a/b", &"a".repeat(64)] {
            let e = IntegrationId::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::INVALID_INTEGRATION_ID, "{bad}");
        }
    }

    #[test]
    fn environments_are_the_two_names_or_a_lower_case_host() {
        for ok in [
            "production",
            "sandbox",
            "acme.my.salesforce.com",
            "login.example.org",
        ] {
            assert!(EnvironmentName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "staging",
            "Acme.com",
            "a..b",
            "-a.com",
            "a.com/",
            "http://a.com",
            "a.com:443",
        ] {
            assert!(EnvironmentName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vault_key_and_order_ids() {
        assert!(VaultKeyId::parse("k1_A-b").is_ok());
        assert!(VaultKeyId::parse("").is_err());
        assert!(VaultKeyId::parse("a.b").is_err());
        assert!(VaultKeyId::parse(&"a".repeat(129)).is_err());
        assert!(RevocationOrderId::parse("0fA9").is_ok());
        let e = RevocationOrderId::parse("../x").unwrap_err();
        assert_eq!(e.code, ErrorCode::ORDER_NOT_FOUND);
        assert!(RevocationOrderId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn ids_are_their_bare_string_on_the_wire() {
        let id = IntegrationId::parse("salesforce").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"salesforce\"");
        let back: DeviceId = serde_json::from_str("\"d1\"").unwrap();
        assert_eq!(back, "d1");
        assert_eq!(back.as_str(), "d1");
    }
}
