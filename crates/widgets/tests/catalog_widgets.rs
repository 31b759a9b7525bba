//! The catalog names the widgets each provider offers; every name must be a widget this
//! build has, for that provider's search adapter, and every widget must be offered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_catalog::Catalog;
use latchkey_widgets::WidgetKind;

#[test]
fn every_catalog_widget_exists_and_fits_its_providers_search() {
    let catalog = Catalog::builtin().unwrap();
    let mut offered = Vec::new();
    for provider in catalog.providers() {
        let Some(search) = &provider.search else {
            continue;
        };
        for id in &search.widgets {
            let kind = WidgetKind::from_id(id)
                .unwrap_or_else(|| panic!("{}: no widget {id} in this build", provider.id));
            assert_eq!(kind.adapter(), search.adapter, "{}: {id}", provider.id);
            offered.push(kind);
        }
    }
    for kind in WidgetKind::ALL {
        assert!(
            offered.contains(&kind),
            "{kind:?} is offered by no provider"
        );
    }
}
