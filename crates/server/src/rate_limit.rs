//! A small in-memory token-bucket limiter for auth endpoints, keyed by client
//! IP and by the credential being tried (email, code). In-memory means per
//! replica: N replicas allow N times the rate, which still bounds guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Sign-in failures per account, slowed down rather than locked: after a few free
/// failures each further one doubles the wait before the next attempt, up to a cap, so
/// guessing one password is slow from anywhere while no one can lock an admin out for
/// longer than the cap. A source (address) that signed in to the account before skips the
/// account's wait (it is still bound by its own per-address limit), so an attacker's
/// failures elsewhere never keep the admin out at their usual desk.
pub struct LoginBackoff {
    free_failures: u32,
    max_wait: Duration,
    state: Mutex<BackoffState>,
}

#[derive(Default)]
struct BackoffState {
    /// Account → (failures in a row, no attempt before).
    accounts: HashMap<String, (u32, Instant)>,
    /// (account, source) pairs that signed in, and when.
    known: HashMap<(String, String), Instant>,
}

/// How long a source stays known after a successful sign-in.
const KNOWN_SOURCE_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

impl LoginBackoff {
    pub fn new(free_failures: u32, max_wait: Duration) -> Self {
        Self {
            free_failures,
            max_wait,
            state: Mutex::new(BackoffState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BackoffState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds to wait)` while `account` is slowed down and `source` is not known to it.
    pub fn check(&self, account: &str, source: &str, now: Instant) -> Result<(), u64> {
        let state = self.lock();
        let known = state
            .known
            .get(&(account.to_owned(), source.to_owned()))
            .is_some_and(|at| now.duration_since(*at) < KNOWN_SOURCE_FOR);
        match state.accounts.get(account) {
            Some((_, until)) if !known && *until > now => {
                Err(until.duration_since(now).as_secs_f64().ceil().max(1.0) as u64)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in; returns the wait it sets (zero while failures are free).
    pub fn failed(&self, account: &str, now: Instant) -> Duration {
        let mut state = self.lock();
        if state.accounts.len() > 100_000 {
            state.accounts.retain(|_, (_, until)| *until > now);
        }
        let entry = state.accounts.entry(account.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        let over = entry.0.saturating_sub(self.free_failures);
        let wait = if over == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1u64 << over.min(20).saturating_sub(1)).min(self.max_wait)
        };
        entry.1 = now + wait;
        wait
    }

    /// A successful sign-in: the account's count starts over and the source is known.
    pub fn succeeded(&self, account: &str, source: &str, now: Instant) {
        let mut state = self.lock();
        state.accounts.remove(account);
        if state.known.len() > 100_000 {
            state
                .known
                .retain(|_, at| now.duration_since(*at) < KNOWN_SOURCE_FOR);
        }
        state
            .known
            .insert((account.to_owned(), source.to_owned()), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_an_account_down_up_to_a_cap_and_a_known_source_passes() {
        let backoff = LoginBackoff::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        backoff.succeeded("ada@acme.example", "10.0.0.1", t0);
        for _ in 0..3 {
            assert_eq!(backoff.failed("ada@acme.example", t0), Duration::ZERO);
        }
        assert!(
            backoff.check("ada@acme.example", "10.9.9.9", t0).is_ok(),
            "free failures"
        );
        assert_eq!(
            backoff.failed("ada@acme.example", t0),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff.failed("ada@acme.example", t0),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff.failed("ada@acme.example", t0),
            Duration::from_secs(4)
        );
        assert_eq!(backoff.check("ada@acme.example", "10.9.9.9", t0), Err(4));
        // Never a lock: the wait stops growing at the cap, however many failures.
        for _ in 0..50 {
            backoff.failed("ada@acme.example", t0);
        }
        assert_eq!(backoff.check("ada@acme.example", "10.9.9.9", t0), Err(60));
        let later = t0 + Duration::from_secs(61);
        assert!(backoff.check("ada@acme.example", "10.9.9.9", later).is_ok());
        // The admin's own desk is not kept out by someone else's failures.
        assert!(backoff.check("ada@acme.example", "10.0.0.1", t0).is_ok());
        // Other accounts are untouched; a success starts the count over.
        assert!(backoff.check("bob@acme.example", "10.9.9.9", t0).is_ok());
        backoff.succeeded("ada@acme.example", "10.9.9.9", later);
        assert_eq!(backoff.failed("ada@acme.example", later), Duration::ZERO);
    }

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
