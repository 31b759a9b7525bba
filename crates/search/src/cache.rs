//! The five-minute cache: results of (integration, query), in memory only, bounded by
//! entries and bytes. A repeated query inside the window makes no request; "Refresh"
//! bypasses it; lock, revoke and quit drop it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hit::Hit;

/// The time the cache sees (injected in tests).
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// (integration, normalized query) → (stored at, hits, bytes).
type Entries = HashMap<(String, String), (Instant, Arc<Vec<Hit>>, usize)>;

pub(crate) struct ResultCache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    entries: Entries,
}

impl ResultCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        Self {
            ttl,
            max_entries,
            max_bytes,
            bytes: 0,
            entries: HashMap::new(),
        }
    }

    pub(crate) fn get(
        &mut self,
        integration: &str,
        query: &str,
        now: Instant,
    ) -> Option<Arc<Vec<Hit>>> {
        let key = (integration.to_owned(), query.to_owned());
        let (at, hits, size) = self.entries.get(&key)?.clone();
        if now.duration_since(at) >= self.ttl {
            self.entries.remove(&key);
            self.bytes -= size;
            return None;
        }
        Some(hits)
    }

    pub(crate) fn put(&mut self, integration: &str, query: &str, hits: Vec<Hit>, now: Instant) {
        let size = hits.iter().map(Hit::size).sum::<usize>() + query.len() + integration.len();
        if size > self.max_bytes {
            return;
        }
        let key = (integration.to_owned(), query.to_owned());
        if let Some((_, _, old)) = self.entries.remove(&key) {
            self.bytes -= old;
        }
        // Expired entries go first, then the oldest, until the new one fits.
        let ttl = self.ttl;
        let mut freed = 0;
        self.entries.retain(|_, (at, _, s)| {
            let keep = now.duration_since(*at) < ttl;
            if !keep {
                freed += *s;
            }
            keep
        });
        self.bytes -= freed;
        while self.entries.len() >= self.max_entries || self.bytes + size > self.max_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (at, _, _))| *at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, _, s)) = self.entries.remove(&oldest) {
                self.bytes -= s;
            }
        }
        self.bytes += size;
        self.entries.insert(key, (now, Arc::new(hits), size));
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn forget(&mut self, integration: &str) {
        let mut freed = 0;
        self.entries.retain(|(i, _), (_, _, s)| {
            let keep = i != integration;
            if !keep {
                freed += *s;
            }
            keep
        });
        self.bytes -= freed;
    }

    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(title: &str) -> Hit {
        Hit {
            native_id: title.to_owned(),
            title: title.to_owned(),
            subtitle: None,
            kind: "file".to_owned(),
            url: "https://x.example/".to_owned(),
            updated_at: None,
        }
    }

    #[test]
    fn entries_live_five_minutes_within_their_bounds() {
        let t0 = Instant::now();
        let mut cache = ResultCache::new(Duration::from_secs(300), 2, 10_000);
        cache.put("slack", "q3", vec![hit("a")], t0);
        assert!(
            cache
                .get("slack", "q3", t0 + Duration::from_secs(299))
                .is_some()
        );
        assert!(
            cache
                .get("slack", "q3", t0 + Duration::from_secs(300))
                .is_none()
        );
        assert_eq!(cache.usage(), (0, 0), "an expired entry is dropped");
        cache.put("slack", "a", vec![hit("a")], t0);
        cache.put("slack", "b", vec![hit("b")], t0 + Duration::from_secs(1));
        cache.put("slack", "c", vec![hit("c")], t0 + Duration::from_secs(2));
        assert_eq!(cache.usage().0, 2, "bounded by entries: the oldest went");
        assert!(
            cache
                .get("slack", "a", t0 + Duration::from_secs(3))
                .is_none()
        );
        let mut small = ResultCache::new(Duration::from_secs(300), 100, 300);
        small.put("g", "1", vec![hit("one")], t0);
        small.put("g", "2", vec![hit("two")], t0);
        small.put("g", "3", vec![hit("three")], t0);
        assert!(
            small.usage().1 <= 300,
            "bounded by bytes: {:?}",
            small.usage()
        );
        small.put(
            "g",
            "huge",
            (0..100).map(|n| hit(&n.to_string())).collect(),
            t0,
        );
        assert!(
            small.get("g", "huge", t0).is_none(),
            "too big to keep at all"
        );
        cache.forget("slack");
        assert_eq!(cache.usage(), (0, 0));
    }
}
