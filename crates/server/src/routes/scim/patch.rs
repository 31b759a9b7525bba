//! The editable part of a resource, and PATCH (RFC 7644 §3.5.2) over it.
//!
//! A resource is edited as JSON with canonical attribute names: a body or a PATCH value
//! is first [`sanitize`]d (names matched without case against the schema, unknown
//! attributes dropped, Azure-style `"True"` strings made booleans), then the operations
//! are applied in order. The handler turns the result into the stored row, so POST, PUT
//! and PATCH validate the same way.

use super::error::{ScimError, ScimType};
use super::filter::{PatchPath, get_ci, parse_path};
use super::schema::{is_multi, known_attributes};
use serde_json::{Map, Value};

/// The canonical name of `name` among `names`, ignoring case.
fn canonical<'a>(names: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    names.into_iter().find(|n| n.eq_ignore_ascii_case(name))
}

/// `"true"`/`"false"` (any case) as booleans, for attributes that are booleans.
fn coerce_bool(v: Value) -> Value {
    match &v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => v,
    }
}

fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// One complex value with canonical sub-attribute names, unknown ones and nulls dropped.
fn sanitize_complex(attr: &str, subs: &[&str], v: Value) -> Result<Value, ScimError> {
    let Value::Object(obj) = v else {
        return Err(invalid_value(format!(
            "'{attr}' must be an object with {}.",
            subs.join(", ")
        )));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        if let Some(sub) = canonical(subs.iter().copied(), &k) {
            let v = if sub == "primary" { coerce_bool(v) } else { v };
            out.insert(sub.to_owned(), v);
        }
    }
    Ok(Value::Object(out))
}

/// One attribute's value, sanitized: lists for multi-valued attributes (a single
/// object is wrapped), objects with known sub-attributes, booleans for `active`.
pub fn sanitize_value(resource: &str, attr: &str, v: Value) -> Result<Value, ScimError> {
    let subs = known_attributes(resource)
        .iter()
        .find(|(n, _)| *n == attr)
        .map_or(&[][..], |(_, s)| *s);
    if is_multi(attr) {
        let items = match v {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            single => vec![single],
        };
        return items
            .into_iter()
            .map(|item| sanitize_complex(attr, subs, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if !subs.is_empty() {
        return sanitize_complex(attr, subs, v);
    }
    let v = if attr == "active" { coerce_bool(v) } else { v };
    let ok = match attr {
        "active" => v.is_boolean(),
        _ => v.is_string(),
    };
    if ok {
        Ok(v)
    } else {
        Err(invalid_value(format!(
            "'{attr}' must be a {}.",
            if attr == "active" {
                "boolean"
            } else {
                "string"
            }
        )))
    }
}

/// A body's attributes with canonical names; unknown and read-only ones (`id`,
/// `meta`, `schemas`) are ignored, as RFC 7644 §3.5.1 allows.
pub fn sanitize(resource: &str, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "The body must be a JSON object.",
        ));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let k = super::filter::strip_urn(k);
        let Some(attr) = canonical(known_attributes(resource).iter().map(|(n, _)| *n), k) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        out.insert(attr.to_owned(), sanitize_value(resource, attr, v.clone())?);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PatchOp body's operations to `resource`, in order, all or none.
pub fn apply(
    resource_type: &str,
    resource: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), ScimError> {
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                "A PATCH body needs \"Operations\": a list of {\"op\", \"path\", \"value\"}.",
            )
        })?;
    let mut edited = resource.clone();
    for op in ops {
        let kind = match get_ci(op, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::bad(
                    ScimType::InvalidSyntax,
                    "Each PATCH operation's \"op\" must be add, replace or remove.",
                ));
            }
        };
        let value = get_ci(op, "value").cloned();
        match get_ci(op, "path").and_then(Value::as_str) {
            None | Some("") => {
                if kind == Kind::Remove {
                    return Err(ScimError::bad(
                        ScimType::NoTarget,
                        "A remove operation needs a \"path\" naming what to remove.",
                    ));
                }
                let Some(value) = value else {
                    return Err(invalid_value(
                        "An add or replace without a path needs an object \"value\".",
                    ));
                };
                for (attr, v) in sanitize(resource_type, &value)? {
                    set(&mut edited, kind, &attr, v);
                }
            }
            Some(path) => {
                let path = parse_path(path)?;
                apply_path(resource_type, &mut edited, kind, &path, value)?;
            }
        }
    }
    *resource = edited;
    Ok(())
}

/// Add or replace of a whole attribute: lists grow (add) or are replaced, complex
/// values merge their sub-attributes, simple values are set.
fn set(resource: &mut Map<String, Value>, kind: Kind, attr: &str, v: Value) {
    match (resource.get_mut(attr), v) {
        (Some(Value::Array(items)), Value::Array(new)) if kind == Kind::Add => {
            for item in new {
                let duplicate = items.iter().any(|i| {
                    i == &item
                        || (attr == "members"
                            && i.get("value").is_some()
                            && i.get("value") == item.get("value"))
                });
                if !duplicate {
                    items.push(item);
                }
            }
        }
        (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
        (_, v) => {
            resource.insert(attr.to_owned(), v);
        }
    }
}

fn apply_path(
    resource_type: &str,
    resource: &mut Map<String, Value>,
    kind: Kind,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if ["id", "meta", "schemas"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&path.attr))
    {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!(
                "'{}' is set by the server and cannot be changed.",
                path.attr
            ),
        ));
    }
    let known = known_attributes(resource_type);
    let Some((attr, subs)) = known
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&path.attr))
    else {
        return Err(ScimError::bad(
            ScimType::InvalidPath,
            format!(
                "{resource_type} has no attribute '{}'; see /scim/v2/Schemas.",
                path.attr
            ),
        ));
    };
    let sub = match &path.sub {
        Some(s) => Some(canonical(subs.iter().copied(), s).ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidPath,
                format!("'{attr}' has no sub-attribute '{s}'."),
            )
        })?),
        None => None,
    };
    let need_value = || {
        value
            .clone()
            .ok_or_else(|| invalid_value("This operation needs a \"value\"."))
    };

    if let Some(filter) = &path.filter {
        let items = match resource.get_mut(*attr) {
            Some(Value::Array(items)) => items,
            _ if kind == Kind::Add => {
                resource.insert((*attr).to_owned(), Value::Array(Vec::new()));
                match resource.get_mut(*attr) {
                    Some(Value::Array(items)) => items,
                    _ => return Err(invalid_value("internal: list vanished")),
                }
            }
            _ => {
                return Err(ScimError::bad(
                    ScimType::NoTarget,
                    format!("No value of '{attr}' matches the path's filter."),
                ));
            }
        };
        let matching: Vec<usize> = (0..items.len())
            .filter(|i| filter.matches(&items[*i]))
            .collect();
        match kind {
            Kind::Remove => {
                if matching.is_empty() {
                    return Err(ScimError::bad(
                        ScimType::NoTarget,
                        format!("No value of '{attr}' matches the path's filter."),
                    ));
                }
                match sub {
                    None => {
                        let mut i = 0;
                        items.retain(|_| {
                            let keep = !matching.contains(&i);
                            i += 1;
                            keep
                        });
                    }
                    Some(sub) => {
                        for i in matching {
                            if let Some(o) = items[i].as_object_mut() {
                                o.remove(sub);
                            }
                        }
                    }
                }
            }
            Kind::Add | Kind::Replace => {
                let v = need_value()?;
                if matching.is_empty() {
                    // Add creates the value the filter describes (`emails[type eq "work"].value`).
                    let created = match (&filter_eq(filter), sub) {
                        (Some((k, fv)), Some(sub)) if kind == Kind::Add => {
                            let mut o = Map::new();
                            o.insert(k.clone(), fv.clone());
                            o.insert(sub.to_owned(), v);
                            Value::Object(o)
                        }
                        _ => {
                            return Err(ScimError::bad(
                                ScimType::NoTarget,
                                format!("No value of '{attr}' matches the path's filter."),
                            ));
                        }
                    };
                    let created = sanitize_value(resource_type, attr, created)?;
                    if let Value::Array(new) = created {
                        items.extend(new);
                    }
                    return Ok(());
                }
                for i in matching {
                    match sub {
                        Some(sub) => {
                            let v = if sub == "primary" {
                                coerce_bool(v.clone())
                            } else {
                                v.clone()
                            };
                            if let Some(o) = items[i].as_object_mut() {
                                o.insert(sub.to_owned(), v);
                            }
                        }
                        None => {
                            let new = sanitize_value(resource_type, attr, v.clone())?;
                            if let Some(first) = new.as_array().and_then(|a| a.first()) {
                                items[i] = first.clone();
                            }
                        }
                    }
                }
            }
        }
        return Ok(());
    }

    match (kind, sub) {
        (Kind::Remove, None) => {
            // Azure removes members by value: {"op":"remove","path":"members","value":[{"value":"id"}]}.
            if let (true, Some(Value::Array(gone))) = (is_multi(attr), &value) {
                let ids: Vec<&Value> = gone.iter().filter_map(|g| get_ci(g, "value")).collect();
                if let Some(Value::Array(items)) = resource.get_mut(*attr) {
                    items.retain(|i| !i.get("value").is_some_and(|v| ids.contains(&v)));
                }
            } else {
                resource.remove(*attr);
            }
        }
        (Kind::Remove, Some(sub)) => match resource.get_mut(*attr) {
            Some(Value::Object(o)) => {
                o.remove(sub);
            }
            Some(Value::Array(items)) => {
                for i in items {
                    if let Some(o) = i.as_object_mut() {
                        o.remove(sub);
                    }
                }
            }
            _ => {}
        },
        (_, None) => {
            let v = sanitize_value(resource_type, attr, need_value()?)?;
            set(resource, kind, attr, v);
        }
        (_, Some(sub)) => {
            let v = need_value()?;
            let v = if sub == "primary" { coerce_bool(v) } else { v };
            match resource.get_mut(*attr) {
                Some(Value::Object(o)) => {
                    o.insert(sub.to_owned(), v);
                }
                Some(Value::Array(items)) => {
                    for i in items {
                        if let Some(o) = i.as_object_mut() {
                            o.insert(sub.to_owned(), v.clone());
                        }
                    }
                }
                _ if !is_multi(attr) => {
                    let mut o = Map::new();
                    o.insert(sub.to_owned(), v);
                    resource.insert((*attr).to_owned(), Value::Object(o));
                }
                _ => {
                    return Err(ScimError::bad(
                        ScimType::NoTarget,
                        format!("'{attr}' has no values to set '{sub}' on."),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `(attr, value)` of a filter that is one `attr eq value`.
fn filter_eq(f: &super::filter::Filter) -> Option<(String, Value)> {
    match f {
        super::filter::Filter::Compare {
            path,
            op: super::filter::Op::Eq,
            value,
        } => Some((path.clone(), value.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        sanitize(
            "User",
            &json!({
                "UserName": "ada@example.com",
                "active": true,
                "emails": [{ "value": "ada@example.com", "type": "work", "primary": true }],
                "unknown": 1
            }),
        )
        .unwrap()
    }

    #[test]
    fn deactivation_in_the_shapes_identity_providers_send() {
        for body in [
            json!({ "Operations": [{ "op": "replace", "value": { "active": false } }] }),
            json!({ "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] }),
            json!({ "Operations": [{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": false }] }),
        ] {
            let mut u = user();
            apply("User", &mut u, &body).unwrap();
            assert_eq!(u["active"], json!(false), "{body}");
            assert_eq!(u["userName"], json!("ada@example.com"));
            assert!(!u.contains_key("unknown"));
        }
    }

    #[test]
    fn value_paths_replace_add_and_remove_list_items() {
        let mut u = user();
        let body = json!({ "Operations": [
            { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example" },
            { "op": "add", "path": "emails[type eq \"home\"].value", "value": "ada@home.example" },
            { "op": "add", "path": "name.givenName", "value": "Ada" }
        ] });
        apply("User", &mut u, &body).unwrap();
        assert_eq!(u["emails"][0]["value"], json!("ada@new.example"));
        assert_eq!(
            u["emails"][1],
            json!({ "type": "home", "value": "ada@home.example" })
        );
        assert_eq!(u["name"], json!({ "givenName": "Ada" }));
        let body =
            json!({ "Operations": [{ "op": "remove", "path": "emails[type eq \"home\"]" }] });
        apply("User", &mut u, &body).unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 1);
        let body = json!({ "Operations": [{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x" }] });
        let e = apply("User", &mut u, &body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn group_members_are_added_once_and_removed_by_filter_or_value() {
        let mut g = sanitize("Group", &json!({ "displayName": "Eng" })).unwrap();
        let add = json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "u1" }, { "value": "u2" }] }] });
        apply("Group", &mut g, &add).unwrap();
        apply("Group", &mut g, &add).unwrap();
        assert_eq!(g["members"].as_array().unwrap().len(), 2);
        let remove =
            json!({ "Operations": [{ "op": "remove", "path": "members[value eq \"u1\"]" }] });
        apply("Group", &mut g, &remove).unwrap();
        let remove = json!({ "Operations": [{ "op": "remove", "path": "members", "value": [{ "value": "u2" }] }] });
        apply("Group", &mut g, &remove).unwrap();
        assert_eq!(g["members"], json!([]));
    }

    #[test]
    fn server_owned_and_unknown_paths_are_refused() {
        let mut u = user();
        let e = apply(
            "User",
            &mut u,
            &json!({ "Operations": [{ "op": "replace", "path": "id", "value": "x" }] }),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = apply(
            "User",
            &mut u,
            &json!({ "Operations": [{ "op": "replace", "path": "title", "value": "x" }] }),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = apply(
            "User",
            &mut u,
            &json!({ "Operations": [{ "op": "remove" }] }),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }
}
