//! A small in-memory token-bucket limiter for auth endpoints, keyed by client
//! IP and by the credential being tried (email, code). In-memory means per
//! replica: N replicas allow N times the rate, which still bounds guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `key`; `Err(seconds to wait)` when the bucket is empty.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Bound memory under a flood of distinct keys: drop full (idle) buckets.
            let cap = self.per_minute;
            let rate = cap / 60.0;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.per_minute, now));
        let rate = self.per_minute / 60.0;
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_per_key() {
        let limiter = RateLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.check("ip:1").is_ok());
        }
        let wait = limiter.check("ip:1").unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check("ip:2").is_ok(), "keys are independent");
    }
}
