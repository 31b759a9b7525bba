//! The built-in catalog: every entry loads and resolves, the documented endpoints are
//! exact, and resolution refuses what it must.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use latchkey_catalog::{
    AuthType, Catalog, CatalogError, ClientAuth, Environment, EnvironmentKind, ExpiresIn, Params,
    RefreshRotation, ResolvedProvider, RevocationMethod,
};
use url::Url;

fn catalog() -> &'static Catalog {
    Catalog::builtin().unwrap_or_else(|e| panic!("built-in catalog does not load: {e}"))
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn resolve(
    id: &str,
    env: Environment,
    p: &[(&str, &str)],
) -> Result<ResolvedProvider, CatalogError> {
    catalog().resolve(id, &env, &params(p))
}

/// Every URL a resolved provider holds, with its field name.
fn urls(r: &ResolvedProvider) -> Vec<(&'static str, Url)> {
    let mut out = Vec::new();
    if let Some(o) = r.oauth2() {
        out.push(("authorization_url", o.authorization_url.clone()));
        out.push(("token_url", o.token_url.clone()));
        out.push(("whoami", o.whoami.url.clone()));
        if let Some(u) = &o.userinfo_url {
            out.push(("userinfo_url", u.clone()));
        }
        if let Some(rv) = &o.revocation {
            out.push(("revocation", rv.url.clone()));
        }
        if let Some(u) = &o.introspection_url {
            out.push(("introspection_url", u.clone()));
        }
        if let Some(i) = &o.issuer {
            out.push(("issuer", Url::parse(i).unwrap()));
        }
    }
    if let Some(k) = r.api_key() {
        out.push(("base_url", k.base_url.clone()));
        out.push(("test", k.test.url.clone()));
    }
    out
}

#[test]
fn the_required_providers_are_all_there() {
    let ids: BTreeSet<&str> = catalog()
        .providers()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    for id in [
        "salesforce",
        "google-workspace",
        "microsoft-365",
        "slack",
        "github",
        "atlassian",
        "zoom",
        "hubspot",
        "servicenow",
        "zendesk",
        "box",
        "dropbox",
        "notion",
        "demo-oauth",
    ] {
        assert!(ids.contains(id), "{id} is missing from the catalog");
        assert_eq!(catalog().get(id).unwrap().auth, AuthType::Oauth2, "{id}");
    }
    let api_keys = catalog()
        .providers()
        .iter()
        .filter(|p| p.auth == AuthType::ApiKey)
        .count();
    assert!(api_keys >= 2, "only {api_keys} API-key integrations");
}

#[test]
fn ids_are_unique_and_well_formed() {
    let mut seen = BTreeSet::new();
    for p in catalog().providers() {
        assert!(seen.insert(p.id.as_str()), "{} appears twice", p.id);
        let mut chars = p.id.chars();
        assert!(
            chars
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert!(chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
    assert_eq!(seen.len(), latchkey_catalog::EMBEDDED.len());
}

#[test]
fn every_entry_resolves_in_every_environment_it_offers() {
    for p in catalog().providers() {
        for kind in &p.environments {
            let env = p.sample_environment(*kind);
            let r = latchkey_catalog::resolve(p, &env, &p.sample_params(*kind))
                .unwrap_or_else(|e| panic!("{} / {kind}: {e} [{}]", p.id, e.code()));
            assert_eq!(r.id, p.id);
            assert_eq!(r.environment.kind(), *kind);
            let all = urls(&r);
            assert!(all.len() >= 2, "{}: too few endpoints", p.id);
            for (field, url) in all {
                let text = url.as_str();
                assert!(!text.contains(['{', '}']), "{} {field}: {text}", p.id);
                let loopback = latchkey_catalog::is_loopback_url(&url);
                assert!(
                    url.scheme() == "https" || (url.scheme() == "http" && loopback),
                    "{} {field} is not https: {text}",
                    p.id
                );
                assert_ne!(url.host_str(), Some("localhost"), "{} {field}", p.id);
                assert!(url.username().is_empty() && url.password().is_none());
            }
            if !p.development {
                for (field, url) in urls(&r) {
                    assert_eq!(
                        url.scheme(),
                        "https",
                        "{} {field}: production entries are https",
                        p.id
                    );
                }
            }
            if let Some(o) = r.oauth2() {
                let uri = o.redirect.uri(49152);
                assert!(uri.starts_with("http://127.0.0.1:49152/"), "{uri}");
                assert!(Url::parse(&uri).is_ok());
                if o.client_secret_required {
                    assert_ne!(o.client_auth, ClientAuth::None, "{}", p.id);
                }
            }
        }
    }
}

#[test]
fn redirect_paths_are_unique_per_provider() {
    let mut seen = BTreeSet::new();
    for p in catalog().providers() {
        if let Some(o) = &p.oauth2 {
            assert!(
                seen.insert(o.redirect.path.clone()),
                "{} reuses {}",
                p.id,
                o.redirect.path
            );
        }
    }
}

#[test]
fn salesforce_production_uses_the_documented_login_host() {
    let r = resolve("salesforce", Environment::Production, &[]).unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(
        o.authorization_url.as_str(),
        "https://login.salesforce.com/services/oauth2/authorize"
    );
    assert_eq!(
        o.token_url.as_str(),
        "https://login.salesforce.com/services/oauth2/token"
    );
    assert_eq!(
        o.revocation.as_ref().unwrap().url.as_str(),
        "https://login.salesforce.com/services/oauth2/revoke"
    );
    assert_eq!(
        o.revocation.as_ref().unwrap().method,
        RevocationMethod::Rfc7009
    );
    assert_eq!(
        o.userinfo_url.as_ref().unwrap().as_str(),
        "https://login.salesforce.com/services/oauth2/userinfo"
    );
    assert_eq!(o.issuer.as_deref(), Some("https://login.salesforce.com"));
    assert_eq!(o.expires_in, ExpiresIn::Never);
    assert_eq!(o.refresh_rotation, RefreshRotation::Optional);
    assert_eq!(
        o.token_response_fields,
        ["instance_url", "id", "issued_at", "signature"]
    );
    assert_eq!(o.identity_token_field.as_deref(), Some("id"));
    assert_eq!(o.redirect.port, Some(1717));
    assert_eq!(o.redirect.uri(1717), "http://127.0.0.1:1717/OauthRedirect");
    assert!(o.default_scopes.iter().any(|s| s == "refresh_token"));
}

#[test]
fn salesforce_sandbox_uses_test_salesforce_com() {
    let r = resolve("salesforce", Environment::Sandbox, &[]).unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(
        o.authorization_url.as_str(),
        "https://test.salesforce.com/services/oauth2/authorize"
    );
    assert_eq!(
        o.token_url.as_str(),
        "https://test.salesforce.com/services/oauth2/token"
    );
    assert_eq!(o.issuer.as_deref(), Some("https://test.salesforce.com"));
    assert_eq!(r.environment.to_string(), "sandbox");
}

#[test]
fn salesforce_my_domain_hosts_resolve_exactly() {
    for host in [
        "acme.my.salesforce.com",
        "acme--uat.sandbox.my.salesforce.com",
    ] {
        let r = resolve("salesforce", Environment::Custom(host.to_owned()), &[]).unwrap();
        let o = r.oauth2().unwrap();
        assert_eq!(
            o.authorization_url.as_str(),
            format!("https://{host}/services/oauth2/authorize")
        );
        assert_eq!(
            o.token_url.as_str(),
            format!("https://{host}/services/oauth2/token")
        );
        assert_eq!(
            o.revocation.as_ref().unwrap().url.as_str(),
            format!("https://{host}/services/oauth2/revoke")
        );
        assert_eq!(
            o.issuer.as_deref(),
            Some(format!("https://{host}").as_str())
        );
        assert_eq!(r.values["login_host"], host);
    }
    // Upper case is normalised, not refused.
    let r = resolve(
        "salesforce",
        Environment::Custom("ACME.My.Salesforce.com".into()),
        &[],
    )
    .unwrap();
    assert_eq!(
        r.environment,
        Environment::Custom("acme.my.salesforce.com".into())
    );
}

#[test]
fn salesforce_refuses_a_custom_host_outside_salesforce() {
    let e = resolve(
        "salesforce",
        Environment::Custom("login.evil.com".into()),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.code(), "catalog.invalid_param");
    assert!(e.to_string().contains(".salesforce.com"), "{e}");
    // A suffix must match at a label boundary.
    let e = resolve(
        "salesforce",
        Environment::Custom("evilsalesforce.com".into()),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.code(), "catalog.invalid_param");
}

#[test]
fn a_parameter_for_a_value_fixed_by_the_environment_is_refused() {
    let e = resolve(
        "salesforce",
        Environment::Sandbox,
        &[("login_host", "login.salesforce.com")],
    )
    .unwrap_err();
    assert_eq!(e.code(), "catalog.param_fixed_by_environment");
}

#[test]
fn missing_placeholders_give_a_typed_error_saying_what_to_provide() {
    let e = resolve("zendesk", Environment::Production, &[]).unwrap_err();
    assert!(
        matches!(&e, CatalogError::MissingParam { name, .. } if name == "subdomain"),
        "{e:?}"
    );
    assert_eq!(e.code(), "catalog.missing_param");
    assert!(
        e.to_string().contains("acme"),
        "the message shows an example: {e}"
    );

    let e = resolve("demo-oauth", Environment::Production, &[]).unwrap_err();
    assert!(
        matches!(&e, CatalogError::MissingParam { name, .. } if name == "issuer"),
        "{e:?}"
    );
}

#[test]
fn unknown_parameters_and_providers_and_environments_are_refused() {
    let e = resolve("zendesk", Environment::Production, &[("subdomian", "acme")]).unwrap_err();
    assert_eq!(e.code(), "catalog.unknown_param");
    assert!(e.to_string().contains("subdomain"), "{e}");

    let e = resolve("no-such-thing", Environment::Production, &[]).unwrap_err();
    assert_eq!(e.code(), "catalog.unknown_provider");

    let e = resolve("google-workspace", Environment::Sandbox, &[]).unwrap_err();
    assert_eq!(e.code(), "catalog.unsupported_environment");
    let e = resolve("servicenow", Environment::Production, &[]).unwrap_err();
    assert_eq!(e.code(), "catalog.unsupported_environment");
    assert!(e.to_string().contains("custom"), "{e}");
}

#[test]
fn zendesk_subdomain_fills_the_host() {
    let r = resolve("zendesk", Environment::Production, &[("subdomain", "Acme")]).unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(
        o.authorization_url.as_str(),
        "https://acme.zendesk.com/oauth/authorizations/new"
    );
    assert_eq!(
        o.token_url.as_str(),
        "https://acme.zendesk.com/oauth/tokens"
    );
    for bad in [
        "acme.evil.com",
        "acme/x",
        "evil.com#",
        "",
        "-acme",
        "a b",
        "acme@evil.com",
    ] {
        let e = resolve("zendesk", Environment::Production, &[("subdomain", bad)]).unwrap_err();
        assert_eq!(e.code(), "catalog.invalid_param", "{bad:?}");
    }
}

#[test]
fn microsoft_tenant_defaults_to_organizations_and_can_be_set() {
    let r = resolve("microsoft-365", Environment::Production, &[]).unwrap();
    assert_eq!(
        r.oauth2().unwrap().authorization_url.as_str(),
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    );
    let r = resolve(
        "microsoft-365",
        Environment::Production,
        &[("tenant", "contoso.onmicrosoft.com")],
    )
    .unwrap();
    assert_eq!(
        r.oauth2().unwrap().token_url.as_str(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert!(r.oauth2().unwrap().revocation.is_none());
    assert!(
        catalog()
            .get("microsoft-365")
            .unwrap()
            .manage_access_url
            .is_some()
    );
    for bad in ["..", "a/b", "common?x=1", "a#b", "a b", ""] {
        let e = resolve("microsoft-365", Environment::Production, &[("tenant", bad)]).unwrap_err();
        assert_eq!(e.code(), "catalog.invalid_param", "{bad:?}");
    }
}

#[test]
fn servicenow_instance_comes_from_the_custom_host() {
    let r = resolve(
        "servicenow",
        Environment::Custom("acme.service-now.com".into()),
        &[],
    )
    .unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(
        o.authorization_url.as_str(),
        "https://acme.service-now.com/oauth_auth.do"
    );
    assert_eq!(
        o.token_url.as_str(),
        "https://acme.service-now.com/oauth_token.do"
    );
    assert_eq!(
        o.revocation.as_ref().unwrap().url.as_str(),
        "https://acme.service-now.com/oauth_revoke_token.do"
    );
    // A local test instance on loopback works, over https as the template says.
    let r = resolve(
        "servicenow",
        Environment::Custom("127.0.0.1:8443".into()),
        &[],
    )
    .unwrap();
    assert_eq!(
        r.oauth2().unwrap().token_url.as_str(),
        "https://127.0.0.1:8443/oauth_token.do"
    );
}

#[test]
fn google_asks_for_offline_access_and_consent() {
    let r = resolve("google-workspace", Environment::Production, &[]).unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(o.extra_authorization_params["access_type"], "offline");
    assert_eq!(o.extra_authorization_params["prompt"], "consent");
    assert_eq!(
        o.authorization_url.as_str(),
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(o.token_url.as_str(), "https://oauth2.googleapis.com/token");
    assert_eq!(o.issuer.as_deref(), Some("https://accounts.google.com"));
    assert_eq!(o.redirect.port, None, "Google accepts any loopback port");
}

#[test]
fn slack_uses_user_scope_and_commas() {
    let r = resolve("slack", Environment::Production, &[]).unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(o.scope_param, "user_scope");
    assert_eq!(
        o.join_scopes(&["users:read", "channels:read"]),
        "users:read,channels:read"
    );
    assert_eq!(o.token_response_object.as_deref(), Some("authed_user"));
}

#[test]
fn demo_oauth_is_a_loopback_development_provider() {
    let p = catalog().get("demo-oauth").unwrap();
    assert!(p.development);
    let r = resolve(
        "demo-oauth",
        Environment::Production,
        &[("issuer", "http://127.0.0.1:4567")],
    )
    .unwrap();
    let o = r.oauth2().unwrap();
    assert_eq!(o.authorization_url.as_str(), "http://127.0.0.1:4567/auth");
    assert_eq!(o.token_url.as_str(), "http://127.0.0.1:4567/token");
    assert_eq!(
        o.revocation.as_ref().unwrap().url.as_str(),
        "http://127.0.0.1:4567/token/revocation"
    );
    assert_eq!(o.whoami.url.as_str(), "http://127.0.0.1:4567/me");
    assert_eq!(
        o.introspection_url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:4567/token/introspection"
    );
    assert_eq!(o.issuer.as_deref(), Some("http://127.0.0.1:4567"));
    assert!(o.iss_in_authorization_response);
    // IPv6 loopback and a hosted https issuer are fine too.
    let r = resolve(
        "demo-oauth",
        Environment::Production,
        &[("issuer", "http://[::1]:4567")],
    )
    .unwrap();
    assert_eq!(
        r.oauth2().unwrap().token_url.as_str(),
        "http://[::1]:4567/token"
    );
    resolve(
        "demo-oauth",
        Environment::Production,
        &[("issuer", "https://idp.example.com")],
    )
    .unwrap();
}

#[test]
fn plain_http_is_refused_off_loopback_and_localhost_always() {
    for bad in [
        "http://10.0.0.1:3000",
        "http://idp.example.com",
        "http://localhost:3000",
        "https://localhost:3000",
        "http://app.localhost:3000",
        "http://127.0.0.1.nip.io:3000",
        "http://128.0.0.1:3000",
        "http://[::2]:3000",
        "http://0.0.0.0:3000",
        "ftp://127.0.0.1",
        "http://user@127.0.0.1:3000",
        "http://127.0.0.1:3000/path",
    ] {
        let e = resolve("demo-oauth", Environment::Production, &[("issuer", bad)]).expect_err(bad);
        assert_eq!(e.code(), "catalog.invalid_param", "{bad}: {e}");
    }
    for good in [
        "http://127.0.0.1:3000",
        "http://127.5.6.7:3000",
        "http://[::1]:3000",
    ] {
        resolve("demo-oauth", Environment::Production, &[("issuer", good)]).expect(good);
    }
}

#[test]
fn api_key_entries_give_header_test_call_and_proxy_rules() {
    let r = resolve("openai", Environment::Production, &[]).unwrap();
    let k = r.api_key().unwrap();
    assert_eq!(k.header, "Authorization");
    assert_eq!(k.format_parts(), ("Bearer ", ""));
    assert_eq!(k.test.url.as_str(), "https://api.openai.com/v1/models");
    assert!(k.allows_path("/v1/chat/completions"));
    for bad in [
        "/v2/x",
        "/v1/../admin",
        "/v1/%2e%2e/admin",
        "/v1//x",
        "v1/models",
        "/v1\\..\\x",
        "/v1/a?b",
    ] {
        assert!(!k.allows_path(bad), "{bad}");
    }

    let r = resolve("pagerduty", Environment::Production, &[]).unwrap();
    let k = r.api_key().unwrap();
    assert_eq!(k.format_parts(), ("Token token=", ""));
    assert!(k.allows_path("/abilities"));
    assert!(k.allows_path("/incidents/PXYZ"));
    assert!(
        !k.allows_path("/incidentsx"),
        "prefixes match whole segments"
    );
    assert_eq!(
        k.headers["Accept"],
        "application/vnd.pagerduty+json;version=2"
    );

    let r = resolve("anthropic", Environment::Production, &[]).unwrap();
    assert_eq!(r.api_key().unwrap().header, "x-api-key");
}

#[test]
fn environment_parse_reads_the_cli_forms() {
    assert_eq!(
        Environment::parse("production").unwrap(),
        Environment::Production
    );
    assert_eq!(Environment::parse("sandbox").unwrap(), Environment::Sandbox);
    assert_eq!(
        Environment::parse("Acme.My.Salesforce.com").unwrap(),
        Environment::Custom("acme.my.salesforce.com".into())
    );
    assert_eq!(
        Environment::parse("https://acme.my.salesforce.com")
            .unwrap_err()
            .code(),
        "catalog.invalid_host"
    );
    assert_eq!(
        Environment::Custom("x.y".into()).kind(),
        EnvironmentKind::Custom
    );
}

#[test]
fn required_params_are_what_an_admin_form_must_ask_for() {
    let required = |id: &str, kind| catalog().get(id).unwrap().required_params(kind);
    assert_eq!(
        required("zendesk", EnvironmentKind::Production),
        ["subdomain"]
    );
    assert_eq!(
        required("demo-oauth", EnvironmentKind::Production),
        ["issuer"]
    );
    assert!(required("salesforce", EnvironmentKind::Production).is_empty());
    assert!(required("salesforce", EnvironmentKind::Custom).is_empty());
    assert!(
        required("microsoft-365", EnvironmentKind::Production).is_empty(),
        "tenant has a default"
    );
}

#[test]
fn environments_are_stored_as_cli_text_and_revalidated_on_read() {
    for (env, text) in [
        (Environment::Production, "\"production\""),
        (Environment::Sandbox, "\"sandbox\""),
        (
            Environment::Custom("acme.my.salesforce.com".into()),
            "\"acme.my.salesforce.com\"",
        ),
    ] {
        assert_eq!(serde_json::to_string(&env).unwrap(), text);
        assert_eq!(serde_json::from_str::<Environment>(text).unwrap(), env);
    }
    assert!(serde_json::from_str::<Environment>("\"https://evil.com/x\"").is_err());
}
