//! Who a vault belongs to: a user of one Latchkey server.

use sha2::{Digest, Sha256};

use crate::VaultError;

/// A user identity: the server's origin plus the user id it assigned.
///
/// Two servers can both have a user "42"; the origin keeps their vaults apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    server_origin: String,
    user_id: String,
}

impl UserIdentity {
    /// Validates and builds an identity. The origin is `scheme://host[:port]`
    /// with no path; the user id is 1-128 visible ASCII characters.
    pub fn new(server_origin: &str, user_id: &str) -> Result<Self, VaultError> {
        let origin_ok = (server_origin.starts_with("https://")
            || server_origin.starts_with("http://"))
            && server_origin.len() <= 255
            && server_origin
                .split_once("://")
                .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains('/'))
            && server_origin.bytes().all(|b| b.is_ascii_graphic());
        if !origin_ok {
            return Err(VaultError::InvalidName {
                what: "server origin",
                value: server_origin.chars().take(80).collect(),
                rule: "expected scheme://host[:port] with no path",
            });
        }
        if user_id.is_empty()
            || user_id.len() > 128
            || !user_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(VaultError::InvalidName {
                what: "user id",
                value: user_id.chars().take(80).collect(),
                rule: "expected 1-128 visible ASCII characters",
            });
        }
        Ok(Self {
            server_origin: server_origin.to_ascii_lowercase(),
            user_id: user_id.to_owned(),
        })
    }

    /// The server origin, lowercased.
    pub fn server_origin(&self) -> &str {
        &self.server_origin
    }

    /// The user id the server assigned.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// A label for messages: `42 at https://latchkey.acme.com`.
    pub fn label(&self) -> String {
        format!("{} at {}", self.user_id, self.server_origin)
    }

    /// The keychain account under which this user's salt is stored (public
    /// so support tools and tests can name it; it holds no secret).
    pub fn keychain_account(&self) -> String {
        format!("vault-salt/v1/{}/{}", self.server_origin, self.user_id)
    }

    /// Length-prefixed encoding, unambiguous for any pair of strings.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        crate::envelope::put_str(out, &self.server_origin);
        crate::envelope::put_str(out, &self.user_id);
    }

    /// A directory name for this user's local files: a hash, so no user input
    /// becomes a path component.
    pub(crate) fn dir_name(&self) -> String {
        let mut encoded = Vec::new();
        self.encode_into(&mut encoded);
        let digest = Sha256::digest(&encoded);
        hex::encode(&digest[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_origins_and_rejects_paths_and_junk() {
        assert!(UserIdentity::new("https://latchkey.acme.com", "u1").is_ok());
        assert!(UserIdentity::new("http://127.0.0.1:8700", "u1").is_ok());
        for bad in [
            "latchkey.acme.com",
            "https://",
            "https://a/b",
            "ftp://a",
            "https://a b",
        ] {
            let err = UserIdentity::new(bad, "u1").unwrap_err();
            assert_eq!(err.code(), "vault.invalid_name", "{bad}");
        }
        assert!(UserIdentity::new("https://a", "").is_err());
        assert!(UserIdentity::new("https://a", "has space").is_err());
        assert!(UserIdentity::new("https://a", &"x".repeat(129)).is_err());
    }

    #[test]
    fn different_identities_have_different_dirs_and_accounts() {
        let a = UserIdentity::new("https://a.example", "1").unwrap();
        let b = UserIdentity::new("https://b.example", "1").unwrap();
        assert_ne!(a.dir_name(), b.dir_name());
        assert_ne!(a.keychain_account(), b.keychain_account());
        assert_eq!(a.dir_name().len(), 32);
    }
}
