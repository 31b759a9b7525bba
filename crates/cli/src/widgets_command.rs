//! `latchkey widgets [--refresh] [--json]`: the home screen's widgets from the command
//! line. Without `--refresh` it shows what the sealed snapshots on this computer hold
//! (instant, offline); with it, each widget is refreshed first (incrementally where its
//! API allows), and a widget that fails keeps its last snapshot and is named on stderr.

use std::sync::Arc;

use latchkey_device::{Session, SessionError};

pub async fn run(session: Session, refresh: bool, json: bool) -> Result<(), SessionError> {
    let session = Arc::new(session);
    let mut failed = 0;
    if refresh {
        for w in session.widgets() {
            if let Err(e) = session.refresh_widget(&w.integration, w.kind).await {
                failed += 1;
                eprintln!("{} · {}: {e}", w.name, w.title);
            }
        }
    }
    let widgets = session.widgets();
    if json {
        let out: Vec<serde_json::Value> = widgets
            .iter()
            .map(|w| {
                serde_json::json!({
                    "widget": w.kind.id(),
                    "integration": w.integration,
                    "title": w.title,
                    "items": w.snapshot.as_ref().map(|s| &s.items),
                    "refreshed_at": w.snapshot.as_ref().map(|s| s.refreshed_at),
                    "fetched": w.snapshot.as_ref().map(|s| s.fetched),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "widgets": out }));
    } else if widgets.is_empty() {
        eprintln!(
            "None of your connected apps has a widget yet (Salesforce, GitHub and Google Drive do)."
        );
    } else {
        for w in &widgets {
            println!("{} · {}", w.name, w.title);
            match &w.snapshot {
                None => println!("  (not fetched yet: latchkey widgets --refresh)"),
                Some(s) if s.items.is_empty() => println!("  (nothing)"),
                Some(s) => {
                    for item in &s.items {
                        println!(
                            "  {}{}",
                            item.title,
                            item.subtitle
                                .as_ref()
                                .map(|t| format!("  ({t})"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
    }
    if failed > 0 && failed == widgets.len() {
        return Err(SessionError::Widget(
            "No widget could be refreshed; see the messages above.".to_owned(),
        ));
    }
    Ok(())
}
