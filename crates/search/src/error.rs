//! Why one provider gave no results, in words a user can act on, with a stable code.

/// One provider's search failed; the others stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("{provider}: reconnect to search (the provider refused the sign-in)")]
    Reconnect { provider: String },
    #[error("{provider} didn't answer in time")]
    TimedOut { provider: String },
    #[error("{provider} is rate limiting searches{}", .retry_after.map(|s| format!("; try again in {s} s")).unwrap_or_default())]
    RateLimited {
        provider: String,
        retry_after: Option<u64>,
    },
    #[error(
        "{provider}: searching needs the {scopes} permission; ask your admin to add it and reconnect"
    )]
    MissingScope { provider: String, scopes: String },
    #[error("{provider} answered with an error (HTTP {status}): {message}")]
    Provider {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("{provider} sent an answer Latchkey cannot read: {reason}")]
    Unreadable { provider: String, reason: String },
    #[error("{provider} could not be reached: {reason}")]
    Unreachable { provider: String, reason: String },
    #[error("{provider}: {reason}")]
    Query { provider: String, reason: String },
}

impl SearchError {
    /// A stable code the UI and the CLI branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Reconnect { .. } => "search.reconnect",
            Self::TimedOut { .. } => "search.timed_out",
            Self::RateLimited { .. } => "search.rate_limited",
            Self::MissingScope { .. } => "search.missing_scope",
            Self::Provider { .. } => "search.provider_error",
            Self::Unreadable { .. } => "search.unreadable",
            Self::Unreachable { .. } => "search.unreachable",
            Self::Query { .. } => "search.bad_query",
        }
    }
}
