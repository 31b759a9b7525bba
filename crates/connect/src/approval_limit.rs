//! The provider's approval limit (Salesforce: five approvals per user per app; the
//! sixth authorization silently revokes the oldest refresh token).
//!
//! Each of a user's devices holds its own grant and stores its own record on the
//! server, so the server's list of the user's records of one connection is the list
//! of live grants at the provider, oldest first. From it this module decides, as
//! plain functions the tests can call directly: which device a new sign-in here
//! would sign out, and whether a refresh refused with `invalid_grant` was such an
//! eviction rather than a revocation.

use latchkey_client::protocol::device::{Grant, GrantList};

/// The device a new authorization on this device would sign out, if any: with
/// `limit` live grants on other devices, the provider revokes the oldest live one.
///
/// Grants older than the newest `limit` ones were already evicted (their devices
/// have not noticed yet), so the oldest *live* grant is the `limit`-th newest.
/// This device's own record never counts: a new sign-in starts only when its own
/// grant is missing or dead.
pub fn would_sign_out(list: &GrantList, limit: u32) -> Option<&Grant> {
    let mut others: Vec<&Grant> = list.grants.iter().filter(|g| !g.this_device).collect();
    others.sort_by_key(|g| g.connected_at);
    let limit = usize::try_from(limit).ok()?;
    if limit == 0 || others.len() < limit {
        return None;
    }
    others.get(others.len() - limit).copied()
}

/// Whether this device's grant was evicted by the provider's limit: at least `limit`
/// of the user's other devices connected after it did. `false` when the server has
/// no record of this device's grant (nothing to compare with).
pub fn was_evicted(list: &GrantList, limit: u32) -> bool {
    let Some(mine) = list
        .grants
        .iter()
        .filter(|g| g.this_device)
        .map(|g| g.connected_at)
        .max()
    else {
        return false;
    };
    let newer = list
        .grants
        .iter()
        .filter(|g| !g.this_device && g.connected_at > mine)
        .count();
    limit > 0 && newer >= usize::try_from(limit).unwrap_or(usize::MAX)
}

/// A small count in words ("five"), as people write it in a sentence; digits above twelve.
pub fn in_words(n: u32) -> String {
    const WORDS: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| WORDS.get(i))
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

/// The date of `millis` since the epoch, `YYYY-MM-DD` in UTC (when a device connected).
pub fn date_of(millis: i64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted).
    let days = millis.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The device a refused connect names: its name, or its id when it has none.
pub fn device_label(grant: &Grant) -> String {
    grant
        .device_name
        .clone()
        .unwrap_or_else(|| format!("device {}", grant.device_id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn grant(id: &str, at: i64, mine: bool) -> Grant {
        Grant {
            device_id: id.to_owned().into(),
            device_name: Some(format!("{id}'s laptop")),
            connected_at: at,
            this_device: mine,
        }
    }

    fn list(grants: Vec<Grant>) -> GrantList {
        GrantList {
            integration_id: "salesforce".to_owned().into(),
            limit: Some(5),
            grants,
        }
    }

    #[test]
    fn under_the_limit_nobody_is_signed_out() {
        let l = list((1..=4).map(|n| grant(&format!("d{n}"), n, false)).collect());
        assert!(would_sign_out(&l, 5).is_none());
        assert!(would_sign_out(&list(vec![]), 5).is_none());
    }

    #[test]
    fn a_sixth_sign_in_signs_out_the_oldest_other_device() {
        // Listed out of order: the age decides, not the order.
        let mut grants: Vec<Grant> = (1..=5)
            .rev()
            .map(|n| grant(&format!("d{n}"), n * 1000, false))
            .collect();
        grants.push(grant("me", 500, true));
        let l = list(grants);
        let out = would_sign_out(&l, 5).unwrap();
        assert_eq!(
            out.device_id.as_str(),
            "d1",
            "this device's own old record never counts"
        );
        assert_eq!(device_label(out), "d1's laptop");
    }

    #[test]
    fn grants_already_evicted_are_skipped() {
        // Six others: d1 was evicted by d6 and has not noticed; d2 is the oldest live one.
        let l = list((1..=6).map(|n| grant(&format!("d{n}"), n, false)).collect());
        assert_eq!(would_sign_out(&l, 5).unwrap().device_id.as_str(), "d2");
        assert_eq!(would_sign_out(&l, 1).unwrap().device_id.as_str(), "d6");
    }

    #[test]
    fn an_eviction_needs_limit_newer_grants_than_this_devices() {
        let mut grants = vec![grant("me", 100, true)];
        grants.extend((1..=4).map(|n| grant(&format!("d{n}"), 100 + n, false)));
        grants.push(grant("old", 50, false));
        assert!(
            !was_evicted(&list(grants.clone()), 5),
            "four newer: still live"
        );
        grants.push(grant("d5", 200, false));
        assert!(was_evicted(&list(grants.clone()), 5), "five newer: evicted");
        // The same age is not newer.
        let tie = vec![grant("me", 100, true), grant("d1", 100, false)];
        assert!(!was_evicted(&list(tie), 1));
        // No record of this device on the server: cannot say.
        let others = (1..=9).map(|n| grant(&format!("d{n}"), n, false)).collect();
        assert!(!was_evicted(&list(others), 5));
    }

    #[test]
    fn counts_read_as_words_and_dates_as_days() {
        assert_eq!(in_words(5), "five");
        assert_eq!(in_words(1), "one");
        assert_eq!(in_words(12), "twelve");
        assert_eq!(in_words(50), "50");
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(951_782_400_000), "2000-02-29");
        assert_eq!(date_of(1_795_996_800_000), "2026-11-30");
        assert_eq!(date_of(-86_400_000), "1969-12-31");
    }
}
