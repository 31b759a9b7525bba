//! `latchkey search QUERY [--in INTEGRATION]… [--json]`: the menu's federated search for
//! scripts. Each run asks the providers (the cache lives in memory only, so nothing
//! carries over between runs); results print as each provider answers, and each
//! provider that fails is named on stderr.

use std::sync::Arc;
use std::time::Duration;

use latchkey_device::{Session, SessionError, search_targets};
use latchkey_search::{Query, ResultView, SearchEngine, SearchEvent, SearchSettings, rank};

/// Runs one search; `Err` only when nothing could be searched at all.
pub async fn run(
    session: Session,
    words: &[String],
    only: &[String],
    json: bool,
    deadline_ms: u64,
) -> Result<(), SessionError> {
    let mut text = words.join(" ");
    for name in only {
        text.push_str(&format!(" in:{name}"));
    }
    let query = Query::parse(&text);
    if query.text.is_empty() {
        return Err(SessionError::Search(
            "Give words to search for: latchkey search acme".to_owned(),
        ));
    }
    let session = Arc::new(session);
    let targets: Vec<_> = search_targets(&session)
        .into_iter()
        .filter(|t| query.includes(&t.integration, &t.name))
        .collect();
    if targets.is_empty() {
        return Err(SessionError::Search(if query.only.is_empty() {
            "None of your connected apps can search yet. Connect one (latchkey list shows them), then search again.".to_owned()
        } else {
            format!(
                "No connected app that can search matches {}. `latchkey list` shows your apps.",
                query.only.join(", ")
            )
        }));
    }
    let engine = SearchEngine::new(SearchSettings {
        deadline: Duration::from_millis(deadline_ms.max(1)),
        ..SearchSettings::default()
    });
    let mut run = engine.start(&query, targets, true);
    let mut all: Vec<ResultView> = Vec::new();
    let mut failures = Vec::new();
    let mut answered = 0;
    while let Some(event) = run.next().await {
        match event {
            SearchEvent::Results { mut results, .. } => {
                answered += 1;
                rank(&mut results);
                if !json {
                    for r in &results {
                        println!("{}", line(r));
                    }
                }
                all.extend(results);
            }
            SearchEvent::Failed {
                integration, error, ..
            } => {
                eprintln!("{error}");
                failures.push(serde_json::json!({
                    "integration": integration,
                    "code": error.code(),
                    "message": error.to_string(),
                }));
            }
            SearchEvent::Done => break,
        }
    }
    if json {
        rank(&mut all);
        let results: Vec<serde_json::Value> = all
            .iter()
            .map(|r| {
                serde_json::json!({
                    "title": r.title,
                    "subtitle": r.subtitle,
                    "integration": r.integration,
                    "kind": r.kind,
                    "url": r.url,
                    "updated_at": r.updated_at,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "results": results, "failures": failures })
        );
    } else if all.is_empty() && answered > 0 {
        eprintln!("No results.");
    }
    if answered == 0 {
        return Err(SessionError::Search(
            "No app answered the search; see the messages above.".to_owned(),
        ));
    }
    Ok(())
}

/// One result for a terminal: title, where it is from, what it is, when, and its link.
fn line(r: &ResultView) -> String {
    let when = r
        .updated_at
        .map(|t| format!("  {}", date(t)))
        .unwrap_or_default();
    format!(
        "{}  [{} {}]{}\n    {}",
        r.title, r.integration_name, r.kind, when, r.url
    )
}

/// `YYYY-MM-DD` of seconds since the epoch (UTC).
fn date(secs: i64) -> String {
    latchkey_search::format_timestamp(secs)[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_746_093_600), "2025-05-01");
        assert_eq!(date(1_709_164_800), "2024-02-29");
    }
}
