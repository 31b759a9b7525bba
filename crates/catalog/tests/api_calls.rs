//! The `[api]` section: where a token may be sent. A base URL taken from the token response
//! (Salesforce's `instance_url`) must be on a host the catalog names, and so must every
//! absolute URL a caller or a pagination link brings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use latchkey_catalog::{
    ApiErrors, Catalog, CatalogError, Environment, Pagination, Params, parse_provider,
};
use url::Url;

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn api(id: &str, env: &Environment, params: Params) -> latchkey_catalog::ResolvedApi {
    Catalog::builtin()
        .unwrap()
        .resolve(id, env, &params)
        .unwrap()
        .api
        .unwrap_or_else(|| panic!("{id} has an [api] section"))
}

#[test]
fn salesforce_calls_go_to_the_instance_url_and_nowhere_else() {
    let sf = api("salesforce", &Environment::Production, Params::new());
    assert!(!sf.base_is_fixed());
    assert_eq!(sf.errors, ApiErrors::Salesforce);
    assert_eq!(sf.pagination, Pagination::Salesforce);
    let base = sf
        .base_url_for(
            "Salesforce",
            &fields(&[("instance_url", "https://acme.my.salesforce.com")]),
        )
        .unwrap();
    assert_eq!(
        base.as_str(),
        "https://acme.my.salesforce.com/services/data/v62.0"
    );
    // Same org, another path (nextRecordsUrl is host-relative): allowed.
    let next =
        Url::parse("https://acme.my.salesforce.com/services/data/v62.0/query/01gX-2000").unwrap();
    assert!(sf.allows(&base, &next));
    // Another company's host, plain http, credentials in the URL: refused.
    for bad in [
        "https://evil.example/services/data/v62.0/query/01gX-2000",
        "https://acme.my.salesforce.com.evil.example/x",
        "http://acme.my.salesforce.com/x",
        "https://user:pw@acme.my.salesforce.com/x",
    ] {
        assert!(!sf.allows(&base, &Url::parse(bad).unwrap()), "{bad}");
    }
}

#[test]
fn an_instance_url_on_a_foreign_host_is_refused_before_any_call() {
    let sf = api("salesforce", &Environment::Sandbox, Params::new());
    let err = sf
        .base_url_for(
            "Salesforce",
            &fields(&[("instance_url", "https://evil.example")]),
        )
        .unwrap_err();
    assert_eq!(err.code(), "catalog.insecure_url", "{err}");
    let err = sf.base_url_for("Salesforce", &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("instance_url"), "{err}");
}

#[test]
fn a_fixed_base_allows_its_own_origin_only() {
    let gh = api("github", &Environment::Production, Params::new());
    assert!(gh.base_is_fixed());
    let base = gh.base_url_for("GitHub", &BTreeMap::new()).unwrap();
    assert_eq!(base.as_str(), "https://api.github.com/");
    assert!(gh.allows(
        &base,
        &Url::parse("https://api.github.com/repositories/1/issues?page=2").unwrap()
    ));
    assert!(!gh.allows(&base, &Url::parse("https://uploads.github.com/x").unwrap()));
    assert_eq!(gh.git_hosts, ["github.com"]);
    assert_eq!(
        gh.env.get("GH_TOKEN").map(String::as_str),
        Some("access_token")
    );
}

#[test]
fn declared_placeholders_fill_the_base_url() {
    let zd = api(
        "zendesk",
        &Environment::Production,
        Params::from([("subdomain".to_owned(), "acme".to_owned())]),
    );
    assert!(zd.base_is_fixed());
    let base = zd.base_url_for("Zendesk", &BTreeMap::new()).unwrap();
    assert_eq!(base.as_str(), "https://acme.zendesk.com/api/v2");
}

#[test]
fn slack_names_the_http_200_errors_that_mean_a_refused_token() {
    let slack = api("slack", &Environment::Production, Params::new());
    assert_eq!(slack.errors, ApiErrors::Slack);
    assert!(slack.rejected_errors.iter().any(|e| e == "invalid_auth"));
    assert!(slack.rejected_errors.iter().any(|e| e == "token_expired"));
}

const BASE: &str = r#"
id = "example"
name = "Example"
icon = "example"
auth = "oauth2"
environments = ["production"]

[oauth2]
authorization_url = "https://example.com/authorize"
token_url = "https://example.com/token"
pkce = "required"
client_auth = "none"
token_response_fields = ["instance_url"]
expires_in = "always"
refresh_rotation = "none"
whoami = { url = "https://example.com/me" }
redirect = { path = "/callback/example" }
"#;

fn load(api: &str) -> Result<(), CatalogError> {
    parse_provider("example.toml", &format!("{BASE}\n[api]\n{api}")).map(|_| ())
}

#[test]
fn bad_api_sections_are_refused_with_the_field_named() {
    assert!(load(r#"base_url = "https://api.example.com""#).is_ok());
    assert!(
        load(
            "base_url = \"{instance_url}/v1\"\nallowed_hosts = [\".example.com\"]\nenv = { EXAMPLE_TOKEN = \"access_token\", EXAMPLE_URL = \"instance_url\" }"
        )
        .is_ok()
    );
    let cases = [
        ("base_url = \"{instance_url}/v1\"", "api.allowed_hosts"),
        ("base_url = \"{nowhere}/v1\"", "api.base_url"),
        ("base_url = \"http://api.example.com\"", "api.base_url"),
        (
            "base_url = \"https://api.example.com\"\nallowed_hosts = [\"*.example.com\"]",
            "api.allowed_hosts",
        ),
        (
            "base_url = \"https://api.example.com\"\nenv = { lower = \"access_token\" }",
            "api.env",
        ),
        (
            "base_url = \"https://api.example.com\"\nenv = { EXAMPLE = \"refresh_token\" }",
            "api.env",
        ),
        (
            "base_url = \"https://api.example.com\"\nenv = { EXAMPLE_URL = \"api_base_url\" }",
            "api.env",
        ),
        (
            "base_url = \"https://api.example.com\"\ngit_hosts = [\"git.example.com\"]",
            "api.git_username",
        ),
        ("base_url = \"https://api.example.com\"\nwhat = 1", "what"),
    ];
    for (text, field) in cases {
        let err = load(text).expect_err(text);
        assert!(err.to_string().contains(field), "{text}: {err}");
    }
}
