//! The catalog and this build agree on search adapters: every provider whose catalog
//! entry has a `[search]` section names an adapter this build has, and `ADAPTERS` lists
//! exactly the adapters the catalog uses, each of which `adapter()` returns.

use std::collections::BTreeSet;

use latchkey_catalog::Catalog;
use latchkey_search::adapter;
use latchkey_search::adapters::ADAPTERS;

/// Adapter names a catalog uses, with the providers using them.
fn catalog_adapters(catalog: &Catalog) -> Vec<(String, String)> {
    catalog
        .providers()
        .iter()
        .filter_map(|p| Some((p.id.clone(), p.search.as_ref()?.adapter.clone())))
        .collect()
}

#[test]
fn every_provider_that_can_search_names_an_adapter_this_build_has() {
    let named = catalog_adapters(Catalog::builtin().expect("the built-in catalog loads"));
    assert!(
        named.len() >= 12,
        "the catalog's searchable providers went missing: {named:?}"
    );
    for (provider, name) in &named {
        assert!(
            adapter(name).is_some(),
            "{provider}: [search] adapter = {name:?}, which adapter() does not return"
        );
        assert!(
            ADAPTERS.contains(&name.as_str()),
            "{provider}: {name:?} is not listed in ADAPTERS"
        );
    }
}

#[test]
fn adapters_lists_exactly_the_registered_ones() {
    let listed: BTreeSet<&str> = ADAPTERS.iter().copied().collect();
    assert_eq!(listed.len(), ADAPTERS.len(), "ADAPTERS has a duplicate");
    for name in ADAPTERS {
        assert!(
            adapter(name).is_some(),
            "{name:?} is listed but not registered"
        );
    }
    let catalog = Catalog::builtin().expect("the built-in catalog loads");
    let used: BTreeSet<String> = catalog_adapters(catalog)
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    let listed: BTreeSet<String> = listed.into_iter().map(str::to_owned).collect();
    assert_eq!(
        listed, used,
        "ADAPTERS and the adapters the catalog names differ"
    );
    for unknown in ["", "Salesforce", "google-drive", "box ", "jira"] {
        assert!(adapter(unknown).is_none(), "{unknown:?} is not an adapter");
    }
}
