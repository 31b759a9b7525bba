//! The OpenAPI 3.1 document, built from the route table so every served route
//! is documented and nothing undocumented is served.

use crate::routes::{Access, docs};
use serde_json::{Map, Value, json};

/// The router's `{*rest}` wildcard is an ordinary `{rest}` parameter in OpenAPI.
pub fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect()
}

fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": { "type": "string", "description": "Stable machine-readable code." },
                "message": { "type": "string", "description": "What happened and what to do next." },
                "current_version": { "type": ["integer", "null"], "description": "On 412: the record's live version (null: no live record)." }
            }
        },
        "Enroll": {
            "type": "object", "additionalProperties": false, "required": ["code", "device_name"],
            "properties": { "code": { "type": "string" }, "device_name": { "type": "string" } }
        },
        "SsoRedeem": {
            "type": "object", "additionalProperties": false, "required": ["code", "code_verifier", "device_name"],
            "properties": { "code": { "type": "string", "description": "The one-time code the device's loopback listener received (2 minutes, one use)." }, "code_verifier": { "type": "string", "description": "The PKCE verifier behind the code_challenge the device sent." }, "device_name": { "type": "string" } }
        },
        "PutRecord": {
            "type": "object", "additionalProperties": false, "required": ["envelope"],
            "properties": {
                "envelope": { "type": "string", "contentEncoding": "base64", "description": "The sealed envelope (opaque to the server), at most max_envelope_bytes once decoded." },
                "new_grant": { "type": "boolean", "default": false, "description": "Set right after a new sign-in. Without it, creating (If-None-Match: *) in a slot an admin emptied answers 410 revoked_by_admin: the device wipes its copy instead of retrying." }
            }
        },
        "RevocationReceipt": {
            "type": "object", "additionalProperties": false, "required": ["provider", "local_wiped"],
            "properties": {
                "provider": { "type": "string", "enum": ["revoked", "not_supported", "queued", "failed", "no_copy", "kept"] },
                "detail": { "type": "string", "maxLength": 500 },
                "local_wiped": { "type": "boolean" }
            }
        },
        "Login": {
            "type": "object", "additionalProperties": false, "required": ["email", "password"],
            "properties": { "email": { "type": "string" }, "password": { "type": "string", "format": "password" } }
        },
        "Setup": {
            "type": "object", "additionalProperties": false, "required": ["code", "email", "password"],
            "properties": { "code": { "type": "string" }, "email": { "type": "string" }, "password": { "type": "string", "format": "password" } }
        },
        "CreateToken": {
            "type": "object", "additionalProperties": false,
            "properties": { "name": { "type": "string", "maxLength": 200, "default": "API token", "description": "What the token is for, shown in the list." } }
        },
        "CreateScimToken": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 200, "default": "SCIM token", "description": "Which identity provider uses it, shown in the list." },
                "ttl_days": { "type": "integer", "minimum": 1, "maximum": 730, "default": 365 }
            }
        },
        "NewAdmin": {
            "type": "object", "additionalProperties": false, "required": ["email", "password"],
            "properties": { "email": { "type": "string" }, "password": { "type": "string", "format": "password", "minLength": 12 }, "owner": { "type": "boolean", "default": false } }
        },
        "PasswordChange": {
            "type": "object", "additionalProperties": false, "required": ["current_password", "new_password"],
            "properties": { "current_password": { "type": "string", "format": "password" }, "new_password": { "type": "string", "format": "password", "minLength": 12 } }
        },
        "ChannelChange": {
            "type": "object", "additionalProperties": false, "required": ["channel"],
            "properties": { "channel": { "type": "string", "pattern": "^[a-z0-9-]{1,32}$", "description": "An update channel, such as stable or beta." } }
        },
        "ReleaseArtifact": {
            "type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
            "description": "The artifact tauri build wrote (at most updates.max_artifact_bytes)."
        },
        "InviteUser": {
            "type": "object", "additionalProperties": false, "required": ["email", "display_name"],
            "properties": { "email": { "type": "string" }, "display_name": { "type": "string" } }
        },
        "IntegrationInput": {
            "type": "object", "additionalProperties": false, "required": ["enabled"],
            "properties": {
                "enabled": { "type": "boolean" },
                "environment": { "type": "string", "description": "production, sandbox, or a custom login host.", "default": "production" },
                "client_id": { "type": ["string", "null"] },
                "client_secret": { "type": ["string", "null"], "writeOnly": true, "description": "Absent: keep; null: clear. Handed to enrolled devices (non-confidential, RFC 8252 §8.5)." },
                "scopes": { "type": "array", "items": { "type": "string" } },
                "params": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Values for the catalog's placeholders (tenant, subdomain, issuer)." },
                "allowed_users": { "type": ["array", "null"], "items": { "type": "string" }, "description": "User ids allowed to use the integration. null (with allowed_groups null): every user." },
                "allowed_groups": { "type": ["array", "null"], "items": { "type": "string" }, "description": "SCIM group ids (GET /v1/admin/groups) whose members may use the integration, beside allowed_users. null (with allowed_users null): every user." },
                "api_key": { "type": ["string", "null"], "writeOnly": true, "description": "Absent: keep; null: clear. Never leaves the server." },
                "redirect_host": { "type": ["string", "null"], "enum": ["127.0.0.1", "localhost", null], "description": "The host in the loopback callback registered at the provider; localhost only where the catalog allows it (Salesforce)." }
            }
        }
    })
}

/// What the route table cannot say about the update routes: the upload's query
/// parameters and the update check's 204.
fn updates_extras(operation_id: &str, op: &mut Value) {
    match operation_id {
        "uploadRelease" => {
            let query = |name: &str, required: bool, description: &str| json!({ "name": name, "in": "query", "required": required, "schema": { "type": "string" }, "description": description });
            op["parameters"] = json!([
                query("version", true, "Semver, such as 1.2.3."),
                query(
                    "target",
                    true,
                    "linux, windows or darwin (Tauri's {{target}})."
                ),
                query(
                    "arch",
                    true,
                    "x86_64, aarch64, i686 or armv7 (Tauri's {{arch}})."
                ),
                query(
                    "signature",
                    true,
                    "Base64 of the .sig file tauri signer sign wrote."
                ),
                query("channel", false, "Update channel (default stable)."),
                query("notes", false, "Release notes shown by the updater."),
            ]);
        }
        "checkForUpdate" => {
            op["responses"]["204"] = json!({ "description": "No newer release for this device." });
        }
        _ => {}
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for doc in docs() {
        let entry = paths
            .entry(openapi_path(doc.path))
            .or_insert_with(|| json!({}));
        let mut op = json!({
            "operationId": doc.operation_id,
            "summary": doc.summary,
            "responses": {
                doc.ok.to_string(): { "description": "Success." },
                "default": {
                    "description": "Error.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            }
        });
        let params = path_params(doc.path);
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(body) = doc.body {
            // Release artifacts are raw bytes; every other body is JSON.
            let media = if body == "ReleaseArtifact" {
                "application/octet-stream"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({
                // A body whose every field is optional may be left out.
                "required": !matches!(body, "CreateToken" | "CreateScimToken"),
                "content": { media: { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        updates_extras(doc.operation_id, &mut op);
        match doc.access {
            Access::Public => op["security"] = json!([]),
            Access::Device => op["security"] = json!([{ "deviceToken": [] }]),
            Access::Admin => {
                op["security"] = json!([{ "adminToken": [] }, { "session": [], "csrf": [] }])
            }
        }
        entry[doc.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "latchkey-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Zero-knowledge store of sealed connection records, with the admin and client APIs."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer", "description": "Device token from /v1/enroll." },
                "adminToken": { "type": "http", "scheme": "bearer", "description": "Admin API token." },
                "session": { "type": "apiKey", "in": "cookie", "name": "latchkey_session" },
                "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token" }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once_with_its_parameters() {
        let doc = document();
        let mut count = 0;
        for route in docs() {
            let op = &doc["paths"][openapi_path(route.path).as_str()][route.method.to_lowercase()];
            assert_eq!(
                op["operationId"], route.operation_id,
                "{} {}",
                route.method, route.path
            );
            let params = op["parameters"]
                .as_array()
                .map_or(0, |p| p.iter().filter(|p| p["in"] == "path").count());
            assert_eq!(params, route.path.matches('{').count());
            if let Some(body) = route.body {
                assert!(doc["components"]["schemas"][body].is_object(), "{body}");
            }
            count += 1;
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, count);
        let mut ids: Vec<_> = docs().iter().map(|d| d.operation_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids are unique");
    }
}
