//! The provider catalog (`latchkey-catalog`) behind the server's
//! [`CatalogLookup`] seam: admins can only enable integrations the catalog
//! knows, in environments the provider offers.

use latchkey_catalog::{
    AuthType, Catalog, Environment, EnvironmentKind, Params, Provider, RedirectHost,
};
use latchkey_protocol::admin::{
    CatalogApiKey, CatalogAuth, CatalogEntry, CatalogOauth2, CatalogPlaceholder, CatalogSearch,
};

use crate::validate::{CatalogLookup, PlaceholderInfo};

/// The built-in provider catalog.
#[derive(Debug, Clone, Copy)]
pub struct ProviderCatalog {
    catalog: &'static Catalog,
}

impl ProviderCatalog {
    /// Loads the catalog embedded in this binary.
    pub fn builtin() -> Result<Self, String> {
        Catalog::builtin()
            .map(|catalog| Self { catalog })
            .map_err(|e| e.to_string())
    }
}

impl CatalogLookup for ProviderCatalog {
    fn check(&self, integration_id: &str, environment: &str) -> Result<(), String> {
        let provider = self
            .catalog
            .get(integration_id)
            .map_err(|e| e.to_string())?;
        let env = Environment::parse(environment).map_err(|e| e.to_string())?;
        if provider.environments.contains(&env.kind()) {
            // A custom login host must sit under the provider's own domains, so a
            // typo (or an attacker's host) never receives users' sign-ins.
            if let Environment::Custom(host) = &env
                && let Some(ph) = provider.placeholders.values().find(|p| p.custom_host)
                && !ph.allowed_suffixes.is_empty()
                && !ph.allowed_suffixes.iter().any(|s| {
                    host.ends_with(s.as_str()) || s.strip_prefix('.') == Some(host.as_str())
                })
            {
                return Err(format!(
                    "{host} is not a {} login host: it must end with {}.",
                    provider.name,
                    ph.allowed_suffixes.join(" or ")
                ));
            }
            Ok(())
        } else {
            Err(format!(
                "{} has no {} environment; it offers {}.",
                provider.name,
                env.kind().as_str(),
                provider
                    .environments
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    fn issuer(&self, integration_id: &str, environment: &str) -> Option<String> {
        let env = Environment::parse(environment).ok()?;
        let resolved = self
            .catalog
            .resolve(integration_id, &env, &Params::new())
            .ok()?;
        resolved.oauth2()?.issuer.clone()
    }

    fn placeholder(&self, provider: &str, name: &str) -> Option<PlaceholderInfo> {
        let p = self.catalog.get(provider).ok()?.placeholders.get(name)?;
        Some(PlaceholderInfo {
            description: p.description.clone(),
            example: Some(p.example.clone()).filter(|e| !e.is_empty()),
            custom_host: p.custom_host,
        })
    }

    fn check_connection(
        &self,
        provider: &str,
        environment: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<(String, std::collections::BTreeMap<String, String>), String> {
        self.check(provider, environment)?;
        let env = Environment::parse(environment).map_err(|e| e.to_string())?;
        let params: Params = params.clone().into_iter().collect();
        let resolved = self
            .catalog
            .resolve(provider, &env, &params)
            .map_err(|e| e.to_string())?;
        Ok((
            resolved.environment.to_string(),
            resolved.values.into_iter().collect(),
        ))
    }

    fn name(&self, provider: &str) -> Option<String> {
        self.catalog.get(provider).ok().map(|p| p.name.clone())
    }

    fn entries(&self) -> Vec<CatalogEntry> {
        self.catalog.providers().iter().map(entry).collect()
    }

    fn allows_localhost_redirect(&self, integration_id: &str) -> bool {
        self.catalog
            .get(integration_id)
            .ok()
            .and_then(|p| p.oauth2.as_ref())
            .is_some_and(|o| o.redirect.localhost)
    }

    fn approval_limit(&self, provider: &str) -> Option<u32> {
        self.catalog
            .get(provider)
            .ok()
            .and_then(Provider::approval_limit)
    }

    fn widgets(&self, integration_id: &str) -> Vec<String> {
        self.catalog
            .get(integration_id)
            .ok()
            .and_then(|p| p.search.as_ref())
            .map(|s| s.widgets.clone())
            .unwrap_or_default()
    }

    fn resolve(
        &self,
        provider: &str,
        environment: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Option<latchkey_catalog::ResolvedProvider> {
        let env = Environment::parse(environment).ok()?;
        self.catalog.resolve(provider, &env, params).ok()
    }

    fn is_development(&self, integration_id: &str) -> bool {
        self.catalog
            .get(integration_id)
            .is_ok_and(|p| p.development)
    }

    fn api_key_host(&self, integration_id: &str) -> Option<String> {
        let resolved = self
            .catalog
            .resolve(integration_id, &Environment::Production, &Params::new())
            .ok()?;
        resolved.api_key()?.base_url.host_str().map(str::to_owned)
    }

    fn api_key_format(&self, integration_id: &str, header: &str) -> Option<(String, String)> {
        let resolved = self
            .catalog
            .resolve(integration_id, &Environment::Production, &Params::new())
            .ok()?;
        let api_key = resolved.api_key()?;
        if !api_key.header.eq_ignore_ascii_case(header) {
            return None;
        }
        let (before, after) = api_key.format_parts();
        Some((before.to_owned(), after.to_owned()))
    }
}

/// What an admin needs to enable one provider: its auth type, environments,
/// default scopes, the parameters to fill in per environment and, for OAuth, the
/// callback URL to register in the app created at the provider.
fn entry(p: &Provider) -> CatalogEntry {
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    CatalogEntry {
        id: p.id.clone(),
        name: p.name.clone(),
        icon: p.icon.clone(),
        auth: match p.auth {
            AuthType::Oauth2 => CatalogAuth::Oauth2,
            AuthType::ApiKey => CatalogAuth::ApiKey,
        },
        development: p.development,
        docs_url: p.docs_url.clone(),
        environments: p
            .environments
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        custom_host_example: p
            .environments
            .contains(&EnvironmentKind::Custom)
            .then(|| p.sample_environment(EnvironmentKind::Custom).to_string()),
        required_params: p
            .environments
            .iter()
            .map(|k| (k.as_str().to_owned(), owned(p.required_params(*k))))
            .collect(),
        placeholders: p
            .placeholders
            .iter()
            .map(|(name, ph)| CatalogPlaceholder {
                name: name.clone(),
                description: ph.description.clone(),
                example: ph.example.clone(),
                custom_host: ph.custom_host,
                production: ph.production.clone(),
                sandbox: ph.sandbox.clone(),
            })
            .collect(),
        // Fixed-port providers match the callback exactly; the others accept any
        // loopback port (RFC 8252 §7.3), so the URL is registered without one.
        oauth2: p.oauth2.as_ref().map(|o| CatalogOauth2 {
            default_scopes: o.default_scopes.clone(),
            client_secret_required: o.client_secret_required,
            callback_url: o.redirect.registered_uri(RedirectHost::Ip),
            // When the provider allows it, the same callback naming localhost (for an app
            // registered like the Salesforce CLI's); the admin picks which one was registered.
            callback_url_localhost: o
                .redirect
                .localhost
                .then(|| o.redirect.registered_uri(RedirectHost::Localhost)),
            callback_port_fixed: o.redirect.port.is_some(),
            authorization_url: o.authorization_url.as_str().to_owned(),
        }),
        // The console says whether the configured scopes allow search, and which to add.
        search: p.search.as_ref().map(|s| CatalogSearch {
            scopes: s.scopes.clone(),
            label: s.label.clone(),
            widgets: s.widgets.clone(),
            api_paths: s.api_paths.clone(),
        }),
        api_key: p.api_key.as_ref().map(|k| CatalogApiKey {
            header: k.header.to_lowercase(),
            format: k.format.clone(),
            base_url: k.base_url.as_str().to_owned(),
            allowed_path_prefixes: k.allowed_path_prefixes.clone(),
            test_path: k.test.path.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn knows_providers_and_their_environments() {
        let catalog = ProviderCatalog::builtin().unwrap();
        assert!(catalog.check("salesforce", "sandbox").is_ok());
        assert!(
            catalog
                .check("salesforce", "acme.my.salesforce.com")
                .is_ok()
        );
        assert!(catalog.check("no-such-provider", "production").is_err());
        let err = catalog
            .check("salesforce", "login.evil.example")
            .unwrap_err();
        assert!(err.contains("must end with .salesforce.com"), "{err}");
        let err = catalog.check("github", "sandbox").unwrap_err();
        assert!(err.contains("no sandbox environment"), "{err}");
        assert_eq!(
            catalog.issuer("salesforce", "sandbox").as_deref(),
            Some("https://test.salesforce.com")
        );
        let entries: Vec<Value> = catalog
            .entries()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let sf = entries.iter().find(|e| e["id"] == "salesforce").unwrap();
        assert_eq!(sf["auth"], "oauth2");
        assert_eq!(
            sf["environments"],
            json!(["production", "sandbox", "custom"])
        );
        assert_eq!(
            sf["oauth2"]["callback_url"],
            "http://127.0.0.1:1717/OauthRedirect"
        );
        assert!(sf["oauth2"]["default_scopes"].as_array().unwrap().len() >= 2);
        assert_eq!(sf["search"]["scopes"], json!(["api", "full"]));
        assert_eq!(
            sf["search"]["api_paths"],
            json!(["/search", "/query", "/queryAll"])
        );
        assert_eq!(catalog.approval_limit("salesforce"), Some(5));
        assert_eq!(catalog.approval_limit("github"), None);
        assert_eq!(catalog.approval_limit("no-such-provider"), None);
        let openai = entries.iter().find(|e| e["id"] == "openai").unwrap();
        assert!(openai.get("search").is_none(), "OpenAI cannot search");
        assert_eq!(openai["auth"], "api_key");
        assert_eq!(openai["api_key"]["base_url"], "https://api.openai.com");
    }

    #[test]
    fn api_key_formats_come_from_the_catalog_for_the_matching_header() {
        let catalog = ProviderCatalog::builtin().unwrap();
        assert_eq!(
            catalog.api_key_format("pagerduty", "authorization"),
            Some(("Token token=".to_owned(), String::new()))
        );
        assert_eq!(
            catalog.api_key_format("pagerduty", "x-api-key"),
            None,
            "another header: the admin's choice stands"
        );
        assert_eq!(
            catalog.api_key_format("salesforce", "authorization"),
            None,
            "not an API-key provider"
        );
    }
}
