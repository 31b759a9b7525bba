//! The data format's rules: a data file that breaks one is refused at load, with an error
//! naming the file or field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_catalog::{Catalog, CatalogError, EMBEDDED, parse_provider};

/// A small valid OAuth provider to mutate.
const BASE: &str = r#"
id = "example"
name = "Example"
icon = "example"
auth = "oauth2"
environments = ["production"]

[placeholders.subdomain]
kind = "label"
description = "your subdomain"
example = "acme"

[oauth2]
authorization_url = "https://{subdomain}.example.com/authorize"
token_url = "https://{subdomain}.example.com/token"
pkce = "required"
client_auth = "none"
expires_in = "always"
refresh_rotation = "none"
whoami = { url = "https://{subdomain}.example.com/me" }
redirect = { path = "/callback/example" }
"#;

fn load(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::from_sources([("example.toml", text)])
}

fn code(text: &str) -> &'static str {
    load(text)
        .map(|_| ())
        .expect_err("should be refused")
        .code()
}

#[test]
fn the_base_example_is_valid() {
    let c = load(BASE).unwrap();
    assert_eq!(c.providers().len(), 1);
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let cases = [
        // top level
        BASE.replace("icon = \"example\"", "icon = \"example\"\ncolour = \"red\""),
        // [placeholders.x]
        BASE.replace("example = \"acme\"", "example = \"acme\"\nregex = \".*\""),
        // [oauth2]
        BASE.replace("pkce = \"required\"", "pkce = \"required\"\npkce_method = \"plain\""),
        // inline tables
        BASE.replace("redirect = { path = \"/callback/example\" }", "redirect = { path = \"/callback/example\", host = \"0.0.0.0\" }"),
        BASE.replace("whoami = { url", "whoami = { verb = \"GET\", url"),
        // a misspelt optional field would otherwise be silently ignored
        BASE.replace("pkce = \"required\"", "pkce = \"required\"\nrevokation = { url = \"https://x.example.com/r\", method = \"rfc7009\" }"),
    ];
    for text in &cases {
        assert_ne!(text, BASE, "the replacement did not apply");
        let e = load(text).map(|_| ()).unwrap_err();
        assert_eq!(e.code(), "catalog.parse", "{e}");
        assert!(
            matches!(&e, CatalogError::Parse { file, message } if file == "example.toml" && message.starts_with("line ") && message.contains("unknown field")),
            "{e}"
        );
    }
}

#[test]
fn wrong_enum_values_are_refused() {
    assert_eq!(
        code(&BASE.replace("pkce = \"required\"", "pkce = \"plain\"")),
        "catalog.parse"
    );
    assert_eq!(
        code(&BASE.replace(
            "client_auth = \"none\"",
            "client_auth = \"private_key_jwt\""
        )),
        "catalog.parse"
    );
    assert_eq!(
        code(&BASE.replace("[\"production\"]", "[\"staging\"]")),
        "catalog.parse"
    );
}

#[test]
fn bad_ids_are_refused() {
    for id in ["Example", "-example", "ex ample", "ex_ample", ""] {
        let text = BASE.replace("id = \"example\"", &format!("id = \"{id}\""));
        assert_eq!(code(&text), "catalog.invalid", "{id:?}");
    }
}

#[test]
fn duplicate_ids_are_refused() {
    let other = BASE.replace("/callback/example", "/callback/example-2");
    let e = Catalog::from_sources([("a.toml", BASE), ("b.toml", other.as_str())]).unwrap_err();
    assert!(
        matches!(&e, CatalogError::DuplicateId { id, first, second } if id == "example" && first == "a.toml" && second == "b.toml"),
        "{e:?}"
    );
    assert_eq!(e.code(), "catalog.duplicate_id");
}

#[test]
fn a_callback_path_shared_by_two_providers_is_refused() {
    let other = BASE.replace("id = \"example\"", "id = \"example-2\"");
    let e = Catalog::from_sources([("a.toml", BASE), ("b.toml", other.as_str())]).unwrap_err();
    assert_eq!(e.code(), "catalog.invalid");
    assert!(e.to_string().contains("redirect.path"), "{e}");
}

#[test]
fn http_and_localhost_templates_are_refused() {
    for url in [
        "http://{subdomain}.example.com/token",
        "http://127.0.0.1/token",
        "https://localhost/token",
        "//{subdomain}.example.com/token",
        "{subdomain}.example.com/token",
    ] {
        let text = BASE.replace("https://{subdomain}.example.com/token", url);
        let e = load(&text).map(|_| ()).unwrap_err();
        assert!(matches!(e.code(), "catalog.invalid"), "{url}: {e}");
    }
}

#[test]
fn placeholders_must_be_declared_and_used() {
    let undeclared = BASE.replace(
        "https://{subdomain}.example.com/token",
        "https://{tenant}.example.com/token",
    );
    let e = load(&undeclared).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("{tenant}"), "{e}");

    let unused = BASE.replace(
        "[oauth2]",
        "[placeholders.region]\nkind = \"label\"\ndescription = \"region\"\nexample = \"eu\"\n\n[oauth2]",
    );
    assert_ne!(unused, BASE);
    let e = load(&unused).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("no endpoint uses it"), "{e}");

    let bad_brace = BASE.replace(
        "https://{subdomain}.example.com/token",
        "https://{subdomain.example.com/token",
    );
    assert_eq!(code(&bad_brace), "catalog.parse");
}

#[test]
fn examples_and_fixed_values_are_validated_by_kind() {
    // A label example with a dot would let a "subdomain" carry a whole host.
    let text = BASE.replace("example = \"acme\"", "example = \"acme.evil.com\"");
    assert_eq!(code(&text), "catalog.invalid");
    // An environment value that does not resolve is caught at load, not at connect time.
    let text = BASE.replace(
        "example = \"acme\"",
        "example = \"acme\"\nproduction = \"bad host\"",
    );
    assert_eq!(code(&text), "catalog.invalid");
}

#[test]
fn custom_environment_needs_exactly_one_custom_host_placeholder() {
    let text = BASE.replace("[\"production\"]", "[\"production\", \"custom\"]");
    assert_eq!(code(&text), "catalog.invalid");
    let text = BASE.replace(
        "example = \"acme\"",
        "example = \"acme\"\ncustom_host = true",
    );
    assert_eq!(
        code(&text),
        "catalog.invalid",
        "custom_host without the custom environment"
    );
}

#[test]
fn protocol_parameters_cannot_be_overridden_by_data() {
    for key in [
        "redirect_uri",
        "code_challenge_method",
        "state",
        "client_id",
        "response_type",
        "scope",
    ] {
        let text = BASE.replace(
            "pkce = \"required\"",
            &format!("pkce = \"required\"\nextra_authorization_params = {{ {key} = \"x\" }}"),
        );
        assert_eq!(code(&text), "catalog.invalid", "{key}");
    }
}

#[test]
fn a_required_secret_needs_a_client_auth_method() {
    let text = BASE.replace(
        "client_auth = \"none\"",
        "client_auth = \"none\"\nclient_secret_required = true",
    );
    assert_eq!(code(&text), "catalog.invalid");
}

#[test]
fn redirect_paths_and_ports_are_checked() {
    for redirect in [
        "{ path = \"callback\" }",
        "{ path = \"/call back\" }",
        "{ path = \"/a/../b\" }",
        "{ path = \"/a?x=1\" }",
        "{ path = \"//evil.com/x\" }",
        "{ path = \"/callback/example\", port = 80 }",
        "{ path = \"/callback/example\", port = 70000 }",
    ] {
        let text = BASE.replace("{ path = \"/callback/example\" }", redirect);
        let e = load(&text).map(|_| ()).unwrap_err();
        assert!(
            matches!(e.code(), "catalog.invalid" | "catalog.parse"),
            "{redirect}: {e}"
        );
    }
}

#[test]
fn an_approval_limit_is_a_small_positive_number() {
    let with = |limit: &str| {
        BASE.replace(
            "refresh_rotation = \"none\"",
            &format!("refresh_rotation = \"none\"\napproval_limit = {limit}"),
        )
    };
    let c = load(&with("5")).unwrap();
    assert_eq!(c.get("example").unwrap().approval_limit(), Some(5));
    assert_eq!(
        load(BASE).unwrap().get("example").unwrap().approval_limit(),
        None
    );
    for bad in ["0", "101"] {
        let e = load(&with(bad)).map(|_| ()).unwrap_err();
        assert_eq!(e.code(), "catalog.invalid", "{bad}: {e}");
        assert!(e.to_string().contains("oauth2.approval_limit"), "{e}");
    }
    for bad in ["-1", "\"five\"", "5.5"] {
        assert_eq!(code(&with(bad)), "catalog.parse", "{bad}");
    }
}

#[test]
fn salesforce_and_its_demo_cap_approvals_at_five() {
    let c = Catalog::builtin().unwrap();
    assert_eq!(c.get("salesforce").unwrap().approval_limit(), Some(5));
    assert_eq!(c.get("demo-salesforce").unwrap().approval_limit(), Some(5));
    assert_eq!(c.get("github").unwrap().approval_limit(), None);
    assert_eq!(c.get("openai").unwrap().approval_limit(), None);
}

#[test]
fn auth_type_and_section_must_agree() {
    let text = BASE.replace("auth = \"oauth2\"", "auth = \"api_key\"");
    assert_eq!(code(&text), "catalog.invalid");
}

#[test]
fn api_key_format_must_hold_the_key_once() {
    let base = r#"
id = "keyed"
name = "Keyed"
icon = "keyed"
auth = "api_key"
environments = ["production"]

[api_key]
header = "Authorization"
format = "Bearer {key}"
base_url = "https://api.example.com"
test = { path = "/v1/me" }
allowed_path_prefixes = ["/v1/"]
"#;
    assert!(load(base).is_ok());
    for (from, to) in [
        ("Bearer {key}", "Bearer"),
        ("Bearer {key}", "{key}{key}"),
        ("Bearer {key}", "Bearer {token}"),
        ("\"Authorization\"", "\"Author ization\""),
        ("\"/v1/me\"", "\"/v2/me\""),
        ("[\"/v1/\"]", "[]"),
        ("https://api.example.com", "http://api.example.com"),
    ] {
        let text = base.replace(from, to);
        assert_ne!(text, base);
        assert_eq!(code(&text), "catalog.invalid", "{to}");
    }
}

#[test]
fn every_embedded_file_parses_on_its_own() {
    for (file, text) in EMBEDDED {
        let p = parse_provider(file, text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format!("{}.toml", p.id), *file, "file names follow ids");
    }
}

#[test]
fn error_codes_are_stable() {
    let e = CatalogError::UnknownProvider { id: "x".into() };
    assert_eq!(e.code(), "catalog.unknown_provider");
    let e = latchkey_catalog::validate_host("a b").unwrap_err();
    assert_eq!(e.code(), "catalog.invalid_host");
    assert!(
        e.to_string().contains("acme.my.salesforce.com"),
        "says what to type: {e}"
    );
}

#[test]
fn search_api_paths_are_clean_path_prefixes() {
    let with = |paths: &str| {
        format!(
            "{BASE}\n[search]\nadapter = \"salesforce\"\nweb_hosts = [\"{{api}}\"]\napi_paths = {paths}\n"
        )
    };
    let c = load(&with("[\"/search\", \"/query\"]")).unwrap();
    let search = c.get("example").unwrap().search.as_ref().unwrap();
    assert_eq!(search.api_paths, ["/search", "/query"]);
    assert!(search.declares_call("search?q=FIND+%7Bacme*%7D"));
    assert!(search.declares_call("query/01g-2000"));
    assert!(!search.declares_call("queryAll?q=x"), "whole segments only");
    assert!(!search.declares_call("sobjects/Account"));
    for bad in [
        "[\"search\"]",
        "[\"/a/../b\"]",
        "[\"/q?x=1\"]",
        "[\"//evil\"]",
    ] {
        let e = load(&with(bad)).map(|_| ()).unwrap_err();
        assert_eq!(e.code(), "catalog.invalid", "{bad}: {e}");
        assert!(e.to_string().contains("search.api_paths"), "{e}");
    }
}
