//! The user's query: free text plus `in:integration` filters (`in:salesforce acme`).

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The words to search for, trimmed, inner whitespace collapsed.
    pub text: String,
    /// `in:` filters (integration ids or names, lower case); empty: every integration.
    pub only: Vec<String>,
}

impl Query {
    /// Splits `in:x` words out of `input`. Words are separated by whitespace; `in:` with
    /// nothing after it is ignored.
    pub fn parse(input: &str) -> Self {
        let mut text = Vec::new();
        let mut only = Vec::new();
        for word in input.split_whitespace() {
            match word
                .strip_prefix("in:")
                .or_else(|| word.strip_prefix("IN:"))
            {
                Some(name) if !name.is_empty() => only.push(name.to_lowercase()),
                Some(_) => {}
                None => text.push(word),
            }
        }
        Self {
            text: text.join(" "),
            only,
        }
    }

    /// Whether the integration (`id`, shown as `name`) is searched: no filter, or a filter
    /// naming its id, its name, or the start of either (`in:sales`).
    pub fn includes(&self, id: &str, name: &str) -> bool {
        let name = name.to_lowercase();
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|f| id.starts_with(f.as_str()) || name.starts_with(f.as_str()))
    }

    /// The cache key's text: case and spacing do not make another query.
    pub fn normalized(&self) -> String {
        self.text.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_filters_are_split_from_the_text() {
        let q = Query::parse("  in:salesforce   Acme   corp in:GitHub in: ");
        assert_eq!(q.text, "Acme corp");
        assert_eq!(q.only, ["salesforce", "github"]);
        assert!(q.includes("salesforce", "Salesforce"));
        assert!(q.includes("github", "GitHub"));
        assert!(!q.includes("slack", "Slack"));
        assert!(Query::parse("in:sales x").includes("salesforce", "Salesforce"));
        assert!(Query::parse("acme").includes("slack", "Slack"));
        assert_eq!(Query::parse("ACME  Corp").normalized(), "acme corp");
    }
}
