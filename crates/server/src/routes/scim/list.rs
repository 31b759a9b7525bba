//! List parameters (`filter`, `startIndex`, `count`, `attributes`) and projections.

use super::*;

pub(super) struct ListParams {
    filter: Option<filter::Filter>,
    start_index: usize,
    count: usize,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

pub(super) fn split_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(|a| filter::strip_urn(a.trim()).to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|a| filter::strip_urn(a.trim()).to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn number(v: Option<&Value>, name: &str) -> ScimResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be a whole number."),
            )
        }),
        _ => Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must be a whole number."),
        )),
    }
}

impl ListParams {
    pub(super) fn from_map(m: &Map<String, Value>) -> ScimResult<Self> {
        let get = |k: &str| {
            m.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        let filter = match get("filter").and_then(Value::as_str) {
            Some(f) if !f.trim().is_empty() => Some(filter::parse(f)?),
            _ => None,
        };
        let start_index = number(get("startIndex"), "startIndex")?.unwrap_or(1).max(1);
        let count = number(get("count"), "count")?
            .unwrap_or(100)
            .clamp(0, schema::MAX_RESULTS as i64);
        Ok(Self {
            filter,
            start_index: usize::try_from(start_index).unwrap_or(1),
            count: usize::try_from(count).unwrap_or(0),
            attributes: split_list(get("attributes")),
            excluded: split_list(get("excludedAttributes")),
        })
    }

    /// A `POST …/.search` body (RFC 7644 §3.4.3): the same parameters as a query.
    pub(super) fn from_search(body: &Bytes) -> ScimResult<Self> {
        let body = parse_body(body)?;
        Self::from_map(body.as_object().ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                "A search body must be a SearchRequest object.",
            )
        })?)
    }

    pub(super) fn from_query(q: HashMap<String, String>) -> ScimResult<Self> {
        Self::from_map(&q.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    }

    /// Filters, pages and projects already-rendered resources.
    pub(super) fn list(&self, resources: Vec<Value>) -> Value {
        let matching: Vec<Value> = resources
            .into_iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .map(|r| project(r, &self.attributes, &self.excluded))
            .collect();
        schema::list_response(total, self.start_index, page)
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); `id` and `schemas` always stay.
pub(super) fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(obj) = resource else {
        return resource;
    };
    let always = |k: &str| k == "id" || k == "schemas";
    let mut out = Map::new();
    for (k, v) in obj {
        if always(&k) {
            out.insert(k, v);
            continue;
        }
        if !attributes.is_empty() {
            let wanted: Vec<&str> = attributes
                .iter()
                .filter_map(|a| {
                    let (top, sub) = a
                        .split_once('.')
                        .map_or((a.as_str(), None), |(t, s)| (t, Some(s)));
                    top.eq_ignore_ascii_case(&k).then_some(sub.unwrap_or(""))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            if wanted.contains(&"") {
                out.insert(k, v);
            } else if let Value::Object(inner) = v {
                let kept: Map<String, Value> = inner
                    .into_iter()
                    .filter(|(ik, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(ik)))
                    .collect();
                out.insert(k, Value::Object(kept));
            }
            continue;
        }
        if excluded.iter().any(|e| e.eq_ignore_ascii_case(&k)) {
            continue;
        }
        out.insert(k, v);
    }
    Value::Object(out)
}

pub(super) fn projection(q: &HashMap<String, String>) -> (Vec<String>, Vec<String>) {
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| Value::String(v.clone()))
    };
    (
        split_list(get("attributes").as_ref()),
        split_list(get("excludedAttributes").as_ref()),
    )
}
