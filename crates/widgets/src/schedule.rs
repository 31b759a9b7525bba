//! When a widget refreshes next: every `interval`, spread by ±20% jitter so many
//! devices (and many widgets) do not hit a provider at the same moment, and after
//! failures an exponential backoff (doubling, at most an hour), or the provider's own
//! `Retry-After` when it gave one.

use std::time::Duration;

use rand::TryRngCore;

use crate::WidgetError;

/// The wait before the next refresh, given the last outcome and how many refreshes in a
/// row failed (0 after a success). `jitter` in [-1, 1] picks where in the ±20% band.
pub fn next_refresh(
    interval: Duration,
    failures: u32,
    last_error: Option<&WidgetError>,
    jitter: f64,
) -> Duration {
    if let Some(WidgetError::RateLimited {
        retry_after: Some(secs),
        ..
    }) = last_error
    {
        return Duration::from_secs((*secs).clamp(1, 3600));
    }
    let base = if failures == 0 {
        interval
    } else {
        let factor = 2u32.saturating_pow(failures.min(12));
        (Duration::from_secs(30) * factor).min(Duration::from_secs(3600))
    };
    base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0))
}

/// A random jitter for [`next_refresh`].
pub fn random_jitter() -> f64 {
    // No randomness is only a missed spread, never a reason to fail.
    let n = rand::rngs::OsRng.try_next_u32().unwrap_or(u32::MAX / 2);
    f64::from(n) / f64::from(u32::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_with_jitter_backoff_and_retry_after() {
        let five = Duration::from_secs(300);
        assert_eq!(next_refresh(five, 0, None, 0.0), five);
        assert_eq!(next_refresh(five, 0, None, 1.0), Duration::from_secs(360));
        assert_eq!(next_refresh(five, 0, None, -1.0), Duration::from_secs(240));
        let err = WidgetError::Unreachable {
            provider: "x".into(),
            reason: "down".into(),
        };
        assert_eq!(
            next_refresh(five, 1, Some(&err), 0.0),
            Duration::from_secs(60)
        );
        assert_eq!(
            next_refresh(five, 3, Some(&err), 0.0),
            Duration::from_secs(240)
        );
        assert_eq!(
            next_refresh(five, 30, Some(&err), 0.0),
            Duration::from_secs(3600),
            "capped"
        );
        let limited = WidgetError::RateLimited {
            provider: "x".into(),
            retry_after: Some(90),
        };
        assert_eq!(
            next_refresh(five, 2, Some(&limited), 1.0),
            Duration::from_secs(90),
            "the provider's word"
        );
        let j = random_jitter();
        assert!((-1.0..=1.0).contains(&j));
    }
}
