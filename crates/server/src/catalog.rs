//! The provider catalog (`latchkey-catalog`) behind the server's
//! [`CatalogLookup`] seam: admins can only enable integrations the catalog
//! knows, in environments the provider offers.

use latchkey_catalog::{Catalog, Environment, Params};

use crate::validate::CatalogLookup;

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let err = catalog.check("github", "sandbox").unwrap_err();
        assert!(err.contains("no sandbox environment"), "{err}");
        assert_eq!(
            catalog.issuer("salesforce", "sandbox").as_deref(),
            Some("https://test.salesforce.com")
        );
    }
}
