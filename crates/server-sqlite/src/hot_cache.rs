//! Lookups made on every device request — the device (with its user) behind a
//! token hash, and an integration's configuration — kept in memory.
//!
//! Sound because one server process owns a SQLite database (several replicas
//! need PostgreSQL, which has no such cache): every write that could change an
//! entry runs in this process and calls [`HotCache::invalidate_devices`] or
//! [`HotCache::invalidate_integrations`] after its transaction commits.
//!
//! A reader that loaded a row just before such a commit must not put the old
//! row back afterwards, or a revoked device would keep working. So each map has
//! a generation: a reader notes it before querying and stores its result only
//! if no invalidation happened meanwhile.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use latchkey_server_database::{Device, Integration, User};

/// Entries kept before a map is simply emptied (more devices than this is a
/// deployment for PostgreSQL anyway).
const MAX_ENTRIES: usize = 50_000;

struct Generational<K, V> {
    generation: u64,
    entries: HashMap<K, V>,
}

impl<K, V> Default for Generational<K, V> {
    fn default() -> Self {
        Self {
            generation: 0,
            entries: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Generational<K, V> {
    fn store(&mut self, seen: u64, key: K, value: V) {
        if self.generation != seen {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(key, value);
    }

    fn invalidate(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}

type DeviceKey = Vec<u8>;
type IntegrationKey = (String, String);

/// See the module documentation.
#[derive(Default)]
pub(crate) struct HotCache {
    devices: Mutex<Generational<DeviceKey, Option<(Device, User)>>>,
    integrations: Mutex<Generational<IntegrationKey, Option<Integration>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps hold copies of committed rows; a panic elsewhere cannot leave
    // them inconsistent with the database, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HotCache {
    /// The cached lookup, or the generation to pass to [`HotCache::store_device`].
    pub(crate) fn device(&self, token_hash: &[u8]) -> Result<Option<(Device, User)>, u64> {
        let map = lock(&self.devices);
        map.entries.get(token_hash).cloned().ok_or(map.generation)
    }

    pub(crate) fn store_device(&self, seen: u64, token_hash: &[u8], found: Option<(Device, User)>) {
        lock(&self.devices).store(seen, token_hash.to_vec(), found);
    }

    /// After a last-seen update: patched in place, since it changes nothing a
    /// request is allowed to do (an old value only costs one more conditional
    /// update), and a whole invalidation per device per minute would empty the
    /// cache constantly.
    pub(crate) fn touched_device(&self, device_id: &str, now: i64) {
        let mut map = lock(&self.devices);
        for (device, _) in map.entries.values_mut().flatten() {
            if device.id == device_id {
                device.last_seen_at = Some(now);
            }
        }
    }

    /// After any committed change to devices or users.
    pub(crate) fn invalidate_devices(&self) {
        lock(&self.devices).invalidate();
    }

    pub(crate) fn integration(&self, org_id: &str, id: &str) -> Result<Option<Integration>, u64> {
        let map = lock(&self.integrations);
        map.entries
            .get(&(org_id.to_owned(), id.to_owned()))
            .cloned()
            .ok_or(map.generation)
    }

    pub(crate) fn store_integration(
        &self,
        seen: u64,
        org_id: &str,
        id: &str,
        found: Option<Integration>,
    ) {
        lock(&self.integrations).store(seen, (org_id.to_owned(), id.to_owned()), found);
    }

    /// After any committed change to integrations.
    pub(crate) fn invalidate_integrations(&self) {
        lock(&self.integrations).invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = HotCache::default();
        let Err(seen) = cache.integration("org", "salesforce") else {
            panic!("an empty cache has nothing")
        };
        // A write commits and invalidates while the read was in flight...
        cache.invalidate_integrations();
        // ...so the (possibly old) row the read found is dropped.
        cache.store_integration(seen, "org", "salesforce", None);
        assert!(cache.integration("org", "salesforce").is_err());
        // A read after the invalidation is kept.
        let Err(seen) = cache.integration("org", "salesforce") else {
            panic!("an empty cache has nothing")
        };
        cache.store_integration(seen, "org", "salesforce", None);
        assert!(matches!(cache.integration("org", "salesforce"), Ok(None)));
    }

    #[test]
    fn unknown_tokens_are_cached_as_absent_and_cleared_by_invalidation() {
        let cache = HotCache::default();
        let Err(seen) = cache.device(b"hash") else {
            panic!("an empty cache has nothing")
        };
        cache.store_device(seen, b"hash", None);
        assert!(matches!(cache.device(b"hash"), Ok(None)));
        cache.invalidate_devices();
        assert!(cache.device(b"hash").is_err());
    }
}
