//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), evaluated over a
//! resource's JSON. Resources are few per organisation, so a list is filtered in
//! memory over exactly what GET returns: the filter can never disagree with the
//! representation.
//!
//! Besides the RFC grammar, `emails[type eq "work"].value eq "x"` (a value path
//! followed by a sub-attribute comparison) is accepted: identity providers send it.

use super::error::{ScimError, ScimType};
use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr op value`, or `attr pr` (`value` is `Null` then).
    Compare {
        path: String,
        op: Op,
        value: Value,
    },
    /// `attr[filter]`, optionally followed by `.sub op value`.
    ValuePath {
        attr: String,
        inner: Box<Filter>,
        then: Option<(String, Op, Value)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
    Pr,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            "pr" => Self::Pr,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    /// `].sub`: the sub-attribute after a value path.
    Sub(String),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '$' | '_' | '-')
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '[' => {
                out.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                out.push(Token::CloseBracket);
                i += 1;
                if chars.get(i) == Some(&'.') {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && is_word_char(chars[end]) {
                        end += 1;
                    }
                    if end == start {
                        return Err(invalid("A '.' after ']' must name a sub-attribute."));
                    }
                    out.push(Token::Sub(chars[start..end].iter().collect()));
                    i = end;
                }
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(invalid("A string in the filter has no closing quote."));
                }
                i += 1;
                let raw: String = chars[start..i].iter().collect();
                let value: Value = serde_json::from_str(&raw)
                    .map_err(|_| invalid("A string in the filter is not valid JSON text."))?;
                out.push(Token::Literal(value));
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(invalid(format!(
                    "The filter has an unexpected character {other:?}."
                )));
            }
        }
    }
    Ok(out)
}

/// Drops a schema URN prefix (`urn:…:User:name.givenName` → `name.givenName`).
pub fn strip_urn(path: &str) -> &str {
    if path.to_ascii_lowercase().starts_with("urn:") {
        path.rsplit_once(':').map_or(path, |(_, attr)| attr)
    } else {
        path
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.at += 1;
            if self.next() != Some(Token::Open) {
                return Err(invalid("'not' must be followed by '('."));
            }
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid("A '(' in the filter is not closed."));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid("A '(' in the filter is not closed."));
            }
            return Ok(inner);
        }
        let Some(Token::Word(path)) = self.next() else {
            return Err(invalid(
                "The filter must start with an attribute, e.g. userName eq \"ada@example.com\".",
            ));
        };
        let path = strip_urn(&path).to_owned();
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or()?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(invalid("A '[' in the filter is not closed."));
            }
            let then = if let Some(Token::Sub(sub)) = self.peek().cloned() {
                self.at += 1;
                let (op, value) = self.comparison()?;
                Some((sub, op, value))
            } else {
                None
            };
            return Ok(Filter::ValuePath {
                attr: path,
                inner: Box::new(inner),
                then,
            });
        }
        let (op, value) = self.comparison()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn comparison(&mut self) -> Result<(Op, Value), ScimError> {
        let Some(Token::Word(word)) = self.next() else {
            return Err(invalid(
                "An attribute in the filter must be followed by an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr).",
            ));
        };
        let op = Op::parse(&word).ok_or_else(|| {
            invalid(format!(
                "Unknown filter operator {word:?}: use eq, ne, co, sw, ew, gt, ge, lt, le or pr."
            ))
        })?;
        if op == Op::Pr {
            return Ok((op, Value::Null));
        }
        let value = match self.next() {
            Some(Token::Literal(v)) => v,
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| {
                        invalid(format!(
                            "The value {w:?} in the filter must be quoted, e.g. \"{w}\"."
                        ))
                    })?,
            },
            _ => return Err(invalid("A comparison in the filter has no value.")),
        };
        Ok((op, value))
    }
}

/// Parses a filter; `invalidFilter` on any syntax error.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    if parser.tokens.is_empty() {
        return Err(invalid("The filter is empty."));
    }
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(invalid(
            "The filter has text after its end; join conditions with 'and' or 'or'.",
        ));
    }
    Ok(filter)
}

/// The member of `obj` named `name`, ignoring case (SCIM attribute names are
/// case-insensitive).
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every value at `path` (`a` or `a.b`), multi-valued attributes flattened.
fn resolve<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match get_ci(v, segment) {
                Some(Value::Array(items)) => next.extend(items.iter()),
                Some(Value::Null) | None => {}
                Some(other) => next.push(other),
            }
        }
        current = next;
    }
    current
}

/// Attributes whose values compare with case (RFC 7643: `caseExact`).
fn case_exact(path: &str) -> bool {
    ["id", "externalId", "members.value", "value"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(path))
}

fn compare(actual: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match a.partial_cmp(&b) {
                Some(o) => o,
                None => return false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => return a == b,
            Op::Ne => return a != b,
            _ => return false,
        },
        _ => return false,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew | Op::Pr => false,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn test_values(values: &[&Value], path: &str, op: Op, expected: &Value) -> bool {
    match op {
        Op::Pr => values.iter().any(|v| present(v)),
        // `ne` holds when no value equals (an absent attribute is not equal).
        Op::Ne => !values
            .iter()
            .any(|v| compare(v, Op::Eq, expected, case_exact(path))),
        _ => values
            .iter()
            .any(|v| compare(v, op, expected, case_exact(path))),
    }
}

impl Filter {
    /// Whether `resource` (or one item of a multi-valued attribute) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches(resource) && b.matches(resource),
            Self::Or(a, b) => a.matches(resource) || b.matches(resource),
            Self::Not(f) => !f.matches(resource),
            Self::Compare { path, op, value } => {
                test_values(&resolve(resource, path), path, *op, value)
            }
            Self::ValuePath { attr, inner, then } => resolve(resource, attr)
                .into_iter()
                .filter(|item| inner.matches(item))
                .any(|item| match then {
                    None => true,
                    Some((sub, op, value)) => test_values(&resolve(item, sub), sub, *op, value),
                }),
        }
    }
}

/// A PATCH target (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidPath, detail)
}

/// Parses a PATCH `path`; `invalidPath` when it is not one of the four forms.
pub fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    let text = text.trim();
    let (head, rest) = match text.find('[') {
        Some(open) => (&text[..open], Some(&text[open..])),
        None => (text, None),
    };
    let head = strip_urn(head);
    if head.is_empty() || !head.chars().all(is_word_char) {
        return Err(invalid_path(format!(
            "The PATCH path {text:?} does not name an attribute."
        )));
    }
    let Some(rest) = rest else {
        return Ok(match head.split_once('.') {
            Some((attr, sub)) => PatchPath {
                attr: attr.to_owned(),
                filter: None,
                sub: Some(sub.to_owned()),
            },
            None => PatchPath {
                attr: head.to_owned(),
                filter: None,
                sub: None,
            },
        });
    };
    let close = rest.rfind(']').ok_or_else(|| {
        invalid_path(format!("The '[' in the PATCH path {text:?} is not closed."))
    })?;
    let filter = parse(&rest[1..close]).map_err(|e| invalid_path(e.detail))?;
    let after = &rest[close + 1..];
    let sub = match after.strip_prefix('.') {
        Some(sub) if !sub.is_empty() && sub.chars().all(is_word_char) => Some(sub.to_owned()),
        None if after.is_empty() => None,
        _ => {
            return Err(invalid_path(format!(
                "The PATCH path {text:?} has text after ']' that is not '.subAttribute'."
            )));
        }
    };
    Ok(PatchPath {
        attr: head.to_owned(),
        filter: Some(filter),
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "userName": "Ada@Example.com",
            "externalId": "ext-1",
            "active": true,
            "emails": [
                { "value": "ada@work.example", "type": "work", "primary": true },
                { "value": "ada@home.example", "type": "home" }
            ],
            "meta": { "lastModified": "2026-11-29T10:00:00.000Z" }
        })
    }

    #[test]
    fn the_filters_identity_providers_send_match_as_the_rfc_says() {
        let u = user();
        for (text, expected) in [
            (r#"userName eq "ada@example.com""#, true),
            (r#"USERNAME Eq "ADA@EXAMPLE.COM""#, true),
            (r#"externalId eq "EXT-1""#, false),
            (r#"externalId eq "ext-1""#, true),
            (
                r#"emails[type eq "work"].value eq "ada@work.example""#,
                true,
            ),
            (
                r#"emails[type eq "home"].value eq "ada@work.example""#,
                false,
            ),
            (r#"emails[type eq "work" and primary eq true]"#, true),
            (r#"emails.value eq "ada@home.example""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ada""#,
                true,
            ),
            (
                r#"active eq false or (userName co "example" and not (externalId pr))"#,
                false,
            ),
            (r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, true),
            (r#"title pr"#, false),
            (r#"userName ne "someone""#, true),
        ] {
            assert_eq!(parse(text).unwrap().matches(&u), expected, "{text}");
        }
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for text in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName is "x""#,
            r#"userName eq "x" extra"#,
            r#"(userName eq "x""#,
            r#"emails[type eq "work""#,
            r#"userName eq ada"#,
            r#"userName eq "unterminated"#,
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{text}");
        }
    }

    #[test]
    fn patch_paths_parse_in_their_four_forms() {
        assert_eq!(parse_path("active").unwrap().attr, "active");
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("name", Some("givenName"))
        );
        let p = parse_path(r#"members[value eq "u1"]"#).unwrap();
        assert!(p.filter.is_some() && p.sub.is_none());
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(p.attr, "userName");
        assert!(parse_path("emails[type eq").is_err());
        assert!(parse_path("").is_err());
    }
}
