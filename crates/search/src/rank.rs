//! Ranking across providers, as Spotlight or Raycast users expect: a title equal to
//! the query first, then titles starting with it, then words starting with it, then
//! the rest; within each, the most recently changed first.

use crate::hit::ResultView;

/// How well `title` answers `query` (0 to 4), plus a recency bonus below 1.
pub fn score(query: &str, title: &str, updated_at: Option<i64>, now: i64) -> f64 {
    let q = query.trim().to_lowercase();
    let t = title.trim().to_lowercase();
    let base = if q.is_empty() {
        0.0
    } else if t == q {
        4.0
    } else if t.starts_with(&q) {
        3.0
    } else if t
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| !w.is_empty() && w.starts_with(&q))
    {
        2.0
    } else if t.contains(&q) {
        1.0
    } else {
        0.0
    };
    // Newer is better: a bonus that halves every 30 days, always below one step.
    let recency = updated_at.map_or(0.0, |at| {
        let days = ((now - at).max(0) as f64) / 86_400.0;
        0.9 * 0.5f64.powf(days / 30.0)
    });
    base + recency
}

/// Sorts merged results, best first; ties keep the providers' own order.
pub fn rank(results: &mut [ResultView]) {
    results.sort_by(|a, b| b.score.total_cmp(&a.score));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_prefix_then_word_then_recency() {
        let now = 1_750_000_000;
        let exact = score("acme", "Acme", None, now);
        let prefix = score("acme", "Acme Corporation", None, now);
        let word = score("acme", "The Acme deal", None, now);
        let inside = score("acme", "Megacmeco", None, now);
        let none = score("acme", "Globex", Some(now), now);
        assert!(
            exact > prefix && prefix > word && word > none,
            "{exact} {prefix} {word} {none}"
        );
        assert!(inside < word);
        let fresh = score("acme", "Acme Corp", Some(now), now);
        let stale = score("acme", "Acme Inc", Some(now - 365 * 86_400), now);
        assert!(fresh > stale && stale > prefix - 0.01);
        assert!(fresh < exact + 0.9, "recency never beats a better match");
    }
}
