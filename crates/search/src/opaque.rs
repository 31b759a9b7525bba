//! Opaque result ids: a keyed hash (HMAC-SHA-256, a random key per engine) of the
//! integration and the provider's own id. The webview only ever sees these; opening a
//! result asks Rust, which maps the id back to the record's web link.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;

/// An id that says nothing about the record it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OpaqueId(pub String);

/// The map from opaque ids back to (integration, web link), bounded: the oldest
/// entries go first. The search engine keeps one; the menu's widgets keep their own.
pub struct OpaqueIds {
    key: [u8; 32],
    links: HashMap<OpaqueId, (String, String)>,
    order: VecDeque<OpaqueId>,
    max: usize,
}

impl OpaqueIds {
    pub fn new(max: usize) -> Self {
        let mut key = [0u8; 32];
        // The OS generator failing is not worth stopping search for: a key from the
        // process's own entropy still keeps ids unguessable across runs.
        if rand::rngs::OsRng.try_fill_bytes(&mut key).is_err() {
            let seed = format!(
                "{:?}{:?}",
                std::time::SystemTime::now(),
                std::thread::current().id()
            );
            key = sha2::Digest::finalize(<Sha256 as sha2::Digest>::new_with_prefix(seed)).into();
        }
        Self {
            key,
            links: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// The id of `native_id` in `integration`, remembering where it opens.
    pub fn id(&mut self, integration: &str, native_id: &str, url: &str) -> OpaqueId {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return OpaqueId(String::new());
        };
        mac.update(integration.as_bytes());
        mac.update(&[0]);
        mac.update(native_id.as_bytes());
        let id = OpaqueId(URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16]));
        if self
            .links
            .insert(id.clone(), (integration.to_owned(), url.to_owned()))
            .is_none()
        {
            self.order.push_back(id.clone());
            while self.order.len() > self.max {
                if let Some(old) = self.order.pop_front() {
                    self.links.remove(&old);
                }
            }
        }
        id
    }

    /// Where `id` opens, while it is remembered.
    pub fn resolve(&self, id: &OpaqueId) -> Option<(String, String)> {
        self.links.get(id).cloned()
    }

    /// Forgets every id (lock, quit).
    pub fn clear(&mut self) {
        self.links.clear();
        self.order.clear();
    }

    /// Forgets the ids of one integration (revoke).
    pub fn forget(&mut self, integration: &str) {
        self.links.retain(|_, (i, _)| i != integration);
        let links = &self.links;
        self.order.retain(|id| links.contains_key(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_engine_hide_the_native_id_and_are_bounded() {
        let mut ids = OpaqueIds::new(2);
        let a = ids.id("salesforce", "001ACME", "https://acme.my.salesforce.com/x");
        assert_eq!(
            a,
            ids.id("salesforce", "001ACME", "https://acme.my.salesforce.com/x")
        );
        assert!(!a.0.contains("001ACME") && a.0.len() == 22, "{a:?}");
        assert_ne!(a, ids.id("github", "001ACME", "https://github.com/x"));
        assert_ne!(
            a,
            OpaqueIds::new(2).id("salesforce", "001ACME", "u"),
            "per engine"
        );
        assert!(ids.resolve(&a).is_some());
        ids.id("slack", "1", "https://acme.slack.com/1");
        assert!(
            ids.resolve(&a).is_none(),
            "the oldest is forgotten past the bound"
        );
        ids.forget("slack");
        assert_eq!(ids.links.len(), 1);
        ids.clear();
        assert!(ids.links.is_empty());
    }
}
