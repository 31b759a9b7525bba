//! Custom hosts come from admins and users and decide where logins and tokens go: anything
//! that is not a bare host name must be refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_catalog::{Catalog, Environment, Params, validate_host};
use proptest::prelude::*;

#[test]
fn hostile_custom_hosts_are_refused() {
    let long = format!("{}.example.com", "a".repeat(300));
    let long_label = format!("{}.example.com", "a".repeat(64));
    let cases: &[(&str, &str)] = &[
        ("evil.com/path", "path"),
        ("user@host.com", "user info"),
        ("a b.com", "space"),
        ("http://x.com", "scheme"),
        ("https://acme.my.salesforce.com", "scheme"),
        ("", "empty"),
        (&long, "longer than 253"),
        (&long_label, "63"),
        ("..", "dot"),
        ("a..b.com", "empty label"),
        (".acme.com", "empty label"),
        ("acme.com.", "ends with a dot"),
        ("localhost", "localhost"),
        ("LOCALHOST", "localhost"),
        ("app.localhost", "localhost"),
        ("acme.com:443", "port"),
        ("acme.com:", "port"),
        ("10.0.0.1", "loopback"),
        ("8.8.8.8:443", "loopback"),
        ("[2001:db8::1]", "loopback"),
        ("0.0.0.0", "loopback"),
        ("127.0.0.1:0", "port"),
        ("127.0.0.1:99999", "port"),
        ("127.0.0.1:08443", "port"),
        ("acme", "single name"),
        ("acme.com?x=1", "?"),
        ("acme.com#frag", "#"),
        ("acme.com\\x", "path"),
        ("acme%2ecom", "%"),
        ("ac\u{0430}me.com", "ASCII"),
        ("acme.com\n", "ASCII"),
        ("-acme.com", "hyphen"),
        ("acme-.com", "hyphen"),
        ("acme_x.com", "letters, digits and hyphens"),
        ("acme.123", "numeric"),
    ];
    for (host, why) in cases {
        let e = validate_host(host).expect_err(host);
        assert_eq!(e.code(), "catalog.invalid_host", "{host:?}");
        assert!(
            e.to_string().contains(why),
            "{host:?}: expected the reason to mention {why:?}, got: {e}"
        );
        // And through the public entry points.
        assert!(Environment::parse(host).is_err(), "{host:?}");
        let resolved = Catalog::builtin().unwrap().resolve(
            "servicenow",
            &Environment::Custom((*host).to_owned()),
            &Params::new(),
        );
        assert!(resolved.is_err(), "{host:?} resolved");
    }
}

#[test]
fn ordinary_and_loopback_hosts_are_accepted() {
    for (host, normal) in [
        ("acme.my.salesforce.com", "acme.my.salesforce.com"),
        (
            "acme--uat.sandbox.my.salesforce.com",
            "acme--uat.sandbox.my.salesforce.com",
        ),
        ("ACME.service-now.com", "acme.service-now.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:8443", "127.0.0.1:8443"),
        ("127.1.2.3:1", "127.1.2.3:1"),
        ("[::1]", "[::1]"),
        ("[::1]:8443", "[::1]:8443"),
        ("[0:0:0:0:0:0:0:1]:8443", "[::1]:8443"),
    ] {
        assert_eq!(validate_host(host).unwrap(), normal, "{host}");
    }
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
}

proptest! {
    /// Any string holding a character that has no place in a host name is refused.
    #[test]
    fn strings_with_url_syntax_are_refused(
        before in "[a-z0-9.]{0,20}",
        bad in prop::sample::select(vec!['/', '@', ' ', '?', '#', '\\', '%', '\t', '\n', '\u{0}', 'é', '_', '*']),
        after in "[a-z0-9.]{0,20}",
    ) {
        let host = format!("{before}{bad}{after}");
        prop_assert!(validate_host(&host).is_err(), "{:?} accepted", host);
    }

    /// A port is never accepted on a public name.
    #[test]
    fn ports_on_names_are_refused(a in label(), b in label(), port in any::<u16>()) {
        let host = format!("{a}.{b}x:{port}");
        prop_assert!(validate_host(&host).is_err(), "{:?} accepted", host);
    }

    /// Well-formed names are accepted unchanged (lower case), so nothing valid is lost.
    #[test]
    fn well_formed_names_are_accepted(labels in prop::collection::vec(label(), 1..5), tld in "[a-z]{2,6}") {
        let host = format!("{}.{tld}", labels.join("."));
        prop_assume!(host.len() <= 253 && !host.ends_with(".localhost"));
        prop_assert_eq!(validate_host(&host).unwrap(), host.clone());
        prop_assert_eq!(validate_host(&host.to_uppercase()).unwrap(), host);
    }

    /// Arbitrary input never panics, and whatever is accepted is a plain host: no
    /// character that could change the URL it is put in.
    #[test]
    fn arbitrary_input_never_yields_url_syntax(s in "\\PC{0,80}") {
        if let Ok(host) = validate_host(&s) {
            prop_assert!(!host.contains(['/', '@', '?', '#', '\\', ' ', '%']));
            let url = url::Url::parse(&format!("https://{host}/x")).unwrap();
            prop_assert_eq!(url.path(), "/x");
            prop_assert!(url.username().is_empty());
        }
    }
}
