//! Finding one of the user's connections by what a person types: its id
//! (`salesforce-uat`) or its name ("Salesforce — UAT sandbox"), and what the
//! catalog says of its provider. An org may have several connections of one
//! provider, so a provider's name alone can be ambiguous; the error lists the ids.

use std::collections::BTreeMap;

use latchkey_catalog::{Catalog, Provider};
use latchkey_connect::Integration;

use super::{Session, SessionError};

impl Session {
    /// The connection `given` names: the one with that id; else the one whose name
    /// (the admin's, else the catalog's) matches, ignoring case and spaces around; else
    /// the only connection of the provider with that id or name (`salesforce` when the
    /// org's one Salesforce connection is `salesforce-emea`). Several matches are an
    /// error that lists their ids.
    pub(crate) fn connection(&self, given: &str) -> Result<&(Integration, bool), SessionError> {
        if let Some(found) = self.integrations.iter().find(|(i, _)| i.id == given) {
            return Ok(found);
        }
        let wanted = given.trim();
        let by_name = |name: &str| name.eq_ignore_ascii_case(wanted);
        let named: Vec<&(Integration, bool)> = self
            .integrations
            .iter()
            .filter(|(i, _)| by_name(&name_of(i)))
            .collect();
        let matches = if named.is_empty() {
            self.integrations
                .iter()
                .filter(|(i, _)| {
                    by_name(&i.provider) || provider_of(i).is_some_and(|p| by_name(&p.name))
                })
                .collect()
        } else {
            named
        };
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(SessionError::UnknownIntegration(given.to_owned())),
            several => Err(SessionError::AmbiguousConnection {
                given: given.to_owned(),
                ids: several.iter().map(|(i, _)| i.id.clone()).collect(),
            }),
        }
    }

    /// Gives the server this user's values for what the connection `id` asks at connect
    /// (a login host, a subdomain). The server checks them with the catalog's rules and
    /// keeps them; open the session again to connect with them.
    pub async fn set_values(
        &self,
        id: &str,
        values: BTreeMap<String, String>,
    ) -> Result<(), SessionError> {
        let id = self.resolve_id(id)?;
        self.server.put_connection_values(&id, values).await?;
        Ok(())
    }

    /// The id of the connection `given` names (by id, name, or a provider with one
    /// connection; several matches are an error listing their ids), for
    /// commands that take what a person typed.
    pub fn resolve_id(&self, given: &str) -> Result<String, SessionError> {
        self.connection(given).map(|(i, _)| i.id.clone())
    }

    /// The catalog entry of the connection `id` (its provider's), if the session has
    /// that connection and the catalog knows the provider.
    pub fn catalog_entry(&self, id: &str) -> Option<&'static Provider> {
        let (found, _) = self.integrations.iter().find(|(i, _)| i.id == id)?;
        provider_of(found)
    }

    /// What the user calls the connection `id`: the admin's name for it, else its
    /// provider's name in the catalog, else the id.
    pub fn display_name(&self, id: &str) -> String {
        self.integrations
            .iter()
            .find(|(i, _)| i.id == id)
            .map_or_else(|| id.to_owned(), |(i, _)| name_of(i))
    }
}

/// The catalog entry of a connection's provider, if the catalog knows it.
fn provider_of(i: &Integration) -> Option<&'static Provider> {
    Catalog::builtin().ok()?.get(&i.provider).ok()
}

/// A connection's name: the admin's, else its provider's in the catalog, else its id.
fn name_of(i: &Integration) -> String {
    i.display_name
        .clone()
        .or_else(|| provider_of(i).map(|p| p.name.clone()))
        .unwrap_or_else(|| i.id.clone())
}
