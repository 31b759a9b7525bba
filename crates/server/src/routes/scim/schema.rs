//! What this server tells identity providers about itself (RFC 7643 §5–7): the
//! service provider configuration, the User and Group resource types, and their
//! schemas. The schemas list only the attributes Latchkey keeps, so a client (or
//! a compliance checker) never sends what would be dropped.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The most resources one page holds (also announced as `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;

/// One attribute definition; `flags` holds any of `multi`, `required`, `readOnly`,
/// `immutable`, `server` (unique) and `caseExact`.
fn attr(name: &str, kind: &str, flags: &[&str], subs: Vec<Value>) -> Value {
    let has = |f: &str| flags.contains(&f);
    let mutability = if has("readOnly") {
        "readOnly"
    } else if has("immutable") {
        "immutable"
    } else {
        "readWrite"
    };
    let mut a = json!({
        "name": name,
        "type": kind,
        "multiValued": has("multi"),
        "description": name,
        "required": has("required"),
        "caseExact": has("caseExact"),
        "mutability": mutability,
        "returned": "default",
        "uniqueness": if has("server") { "server" } else { "none" },
    });
    if !subs.is_empty() {
        a["subAttributes"] = Value::Array(subs);
    }
    a
}

fn with(mut a: Value, key: &str, value: Value) -> Value {
    a[key] = value;
    a
}

/// The attributes (canonical names) of each resource, with their sub-attributes:
/// what a body may set and what the PATCH engine accepts.
pub fn known_attributes(resource: &str) -> &'static [(&'static str, &'static [&'static str])] {
    if resource == "Group" {
        &[
            ("displayName", &[]),
            ("externalId", &[]),
            ("members", &["value", "$ref", "type"]),
        ]
    } else {
        &[
            ("userName", &[]),
            ("externalId", &[]),
            ("name", &["formatted", "familyName", "givenName"]),
            ("displayName", &[]),
            ("emails", &["value", "type", "primary"]),
            ("active", &[]),
        ]
    }
}

/// Attributes holding a list.
pub fn is_multi(attr: &str) -> bool {
    matches!(attr, "emails" | "members")
}

fn user_schema(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A Latchkey user: userName is how the identity provider names them; the primary (else work, else first) email, or else userName, is the email Latchkey shows.",
        "attributes": [
            attr("userName", "string", &["required", "server"], vec![]),
            attr("name", "complex", &[], vec![
                attr("formatted", "string", &[], vec![]),
                attr("familyName", "string", &[], vec![]),
                attr("givenName", "string", &[], vec![]),
            ]),
            attr("displayName", "string", &[], vec![]),
            attr("emails", "complex", &["multi"], vec![
                attr("value", "string", &[], vec![]),
                with(attr("type", "string", &[], vec![]), "canonicalValues", json!(["work", "home", "other"])),
                attr("primary", "boolean", &[], vec![]),
            ]),
            attr("active", "boolean", &[], vec![]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}") }
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group of Latchkey users pushed by the identity provider.",
        "attributes": [
            attr("displayName", "string", &["required"], vec![]),
            attr("members", "complex", &["multi"], vec![
                attr("value", "string", &["immutable", "caseExact"], vec![]),
                with(attr("$ref", "reference", &["immutable", "caseExact"], vec![]), "referenceTypes", json!(["User", "Group"])),
                with(attr("type", "string", &["immutable"], vec![]), "canonicalValues", json!(["User", "Group"])),
            ]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}") }
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base)]
}

pub fn resource_types(base: &str) -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA), ("Group", "/Groups", GROUP_SCHEMA)]
        .into_iter()
        .map(|(name, endpoint, schema)| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": name,
                "name": name,
                "endpoint": endpoint,
                "description": format!("Latchkey {name}s"),
                "schema": schema,
                "schemaExtensions": [],
                "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}") }
            })
        })
        .collect()
}

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A SCIM token issued in the Latchkey console (Provisioning), sent as 'Authorization: Bearer <token>'.",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
    })
}

/// A list response (RFC 7644 §3.4.2).
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
