//! Loading data files into a [`Catalog`]; the rules each file must follow beyond its
//! shape are in [`crate::validate`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::Environment;
use crate::error::CatalogError;
use crate::model::Provider;
use crate::resolve::{Params, ResolvedProvider, resolve};
use crate::validate::validate;

/// The data files compiled into the crate, as `(file name, contents)`, sorted by name.
pub const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_providers.rs"));

/// A validated set of providers. Every provider in it resolves in every environment it
/// declares, with its example values.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: Vec<Provider>,
}

impl Catalog {
    /// The catalog compiled into this binary, parsed once and shared.
    pub fn builtin() -> Result<&'static Catalog, CatalogError> {
        static BUILTIN: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| Catalog::from_sources(EMBEDDED.iter().copied()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and validates data files given as `(file name, contents)`.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, CatalogError> {
        let mut providers = Vec::new();
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for (file, text) in sources {
            let provider = parse_provider(file, text)?;
            if let Some(first) = files.insert(provider.id.clone(), file.to_owned()) {
                return Err(CatalogError::DuplicateId {
                    id: provider.id,
                    first,
                    second: file.to_owned(),
                });
            }
            providers.push(provider);
        }
        // Mix-up defence needs each provider's callback path to be its own.
        let mut paths: BTreeMap<&str, &str> = BTreeMap::new();
        for p in &providers {
            if let Some(o) = &p.oauth2
                && let Some(other) = paths.insert(&o.redirect.path, &p.id)
            {
                return Err(CatalogError::invalid(
                    &p.id,
                    "oauth2.redirect.path",
                    format!(
                        "{} is also used by {other}; each provider needs its own",
                        o.redirect.path
                    ),
                ));
            }
        }
        Ok(Self { providers })
    }

    /// All providers, sorted by file name.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Result<&Provider, CatalogError> {
        self.providers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| CatalogError::UnknownProvider {
                id: crate::error::shorten(id),
            })
    }

    /// Looks up `id` and [`resolve`]s it.
    pub fn resolve(
        &self,
        id: &str,
        environment: &Environment,
        params: &Params,
    ) -> Result<ResolvedProvider, CatalogError> {
        resolve(self.get(id)?, environment, params)
    }
}

/// Parses one data file (unknown fields are errors) and checks it.
pub fn parse_provider(file: &str, text: &str) -> Result<Provider, CatalogError> {
    let provider: Provider = toml::from_str(text).map_err(|e| {
        // One line: "line 15: unknown field `pkse`, expected one of …".
        let message = e.message().trim_end().replace('\n', " ");
        let message = match e.span() {
            Some(span) => {
                let line = text.get(..span.start).unwrap_or(text).matches('\n').count() + 1;
                format!("line {line}: {message}")
            }
            None => message,
        };
        CatalogError::Parse {
            file: file.to_owned(),
            message,
        }
    })?;
    validate(&provider)?;
    Ok(provider)
}
