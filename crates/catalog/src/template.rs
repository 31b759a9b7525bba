//! URL templates: strings with `{name}` placeholders, checked for syntax when a data file is
//! loaded and filled in by [`crate::resolve`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

/// A string with `{name}` placeholders (`name` is `a-z`, `0-9`, `_`, starting with a letter).
/// A literal brace is not allowed anywhere, so a leftover brace after filling in always
/// means a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

impl Template {
    /// Parses a template; the error says which brace is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = raw;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
                Some(i) => {
                    if rest[i..].starts_with('}') {
                        return Err(format!("unmatched }} in {raw:?}"));
                    }
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_owned()));
                    }
                    let after = &rest[i + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("unclosed {{ in {raw:?}"))?;
                    let name = &after[..end];
                    if !is_placeholder_name(name) {
                        return Err(format!(
                            "{{{name}}} in {raw:?} is not a placeholder name (a-z, 0-9, _)"
                        ));
                    }
                    parts.push(Part::Placeholder(name.to_owned()));
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(Self {
            raw: raw.to_owned(),
            parts,
        })
    }

    /// The template as written in the data file.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The placeholder names used, in order of appearance (may repeat).
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template starts with a placeholder (then the scheme comes from the value).
    pub(crate) fn starts_with_placeholder(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Placeholder(_)))
    }

    /// Fills in the placeholders; `Err(name)` for the first one without a value.
    pub(crate) fn render(&self, values: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::with_capacity(self.raw.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Placeholder(name) => {
                    out.push_str(values.get(name).ok_or_else(|| name.clone())?);
                }
            }
        }
        Ok(out)
    }
}

impl Template {
    /// Fills in the placeholders that have a value and keeps the others as `{name}`, for
    /// templates completed in two steps (an API base whose host comes from the token
    /// response).
    pub(crate) fn render_partial(&self, values: &BTreeMap<String, String>) -> String {
        let mut out = String::with_capacity(self.raw.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Placeholder(name) => match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        out
    }

    /// Fills in every placeholder; `Err(name)` for the first one without a value.
    pub fn fill(&self, values: &BTreeMap<String, String>) -> Result<String, String> {
        self.render(values)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// `a-z` first, then `a-z 0-9 _`, at most 32 characters.
pub(crate) fn is_placeholder_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 32
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("https://{login_host}/services/oauth2/{x}").unwrap();
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["login_host", "x"]);
        let mut v = BTreeMap::new();
        v.insert("login_host".to_owned(), "a.example.com".to_owned());
        assert_eq!(t.render(&v), Err("x".to_owned()));
        v.insert("x".to_owned(), "token".to_owned());
        assert_eq!(
            t.render(&v).unwrap(),
            "https://a.example.com/services/oauth2/token"
        );
    }

    #[test]
    fn rejects_bad_braces() {
        for bad in [
            "https://{a",
            "https://a}",
            "https://{}",
            "https://{A}",
            "{a{b}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
