//! One search result, as an adapter reads it and as a UI shows it.

use crate::opaque::OpaqueId;

/// A result as the provider described it. `native_id` and `url` stay in Rust: a UI gets
/// a [`ResultView`] with an opaque id instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The provider's own id of the record (never shown to a webview).
    pub native_id: String,
    /// What the user reads first (a record's name, a file name, a message's text).
    pub title: String,
    /// A second line: the record type and its context (channel, repository, path).
    pub subtitle: Option<String>,
    /// What it is (`Account`, `file`, `pull request`, `message`).
    pub kind: String,
    /// Where it opens in the browser (checked against the catalog's web hosts).
    pub url: String,
    /// When it last changed, in seconds since the epoch, when the provider says.
    pub updated_at: Option<i64>,
}

impl Hit {
    /// Bytes this hit holds, for the cache's budget.
    pub fn size(&self) -> usize {
        self.native_id.len()
            + self.title.len()
            + self.subtitle.as_ref().map_or(0, String::len)
            + self.kind.len()
            + self.url.len()
            + 64
    }
}

/// A result ready to show: ranked, with an opaque id. The `url` is for the command line;
/// the menu drops it before anything reaches its webview and opens results by id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultView {
    pub id: OpaqueId,
    pub integration: String,
    pub integration_name: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub kind: String,
    pub updated_at: Option<i64>,
    /// Higher first: exact and prefix title matches, then recency.
    pub score: f64,
    #[serde(skip)]
    pub url: String,
}
