use super::*;

#[test]
fn development_providers_only_with_a_server_on_this_computer_or_an_opt_in() {
    let none = |_: &str| None;
    assert!(development_providers_allowed(
        "http://127.0.0.1:8700",
        &none
    ));
    assert!(development_providers_allowed(
        "http://localhost:8700",
        &none
    ));
    assert!(development_providers_allowed("http://[::1]:8700", &none));
    assert!(!development_providers_allowed(
        "https://latchkey.acme.example",
        &none
    ));
    assert!(!development_providers_allowed("https://10.0.0.5", &none));
    let opted_in =
        |k: &str| (k == "LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS").then(|| "true".to_owned());
    assert!(development_providers_allowed(
        "https://latchkey.acme.example",
        &opted_in
    ));
    let other = |_: &str| Some("no".to_owned());
    assert!(!development_providers_allowed(
        "https://latchkey.acme.example",
        &other
    ));
    assert!(is_development_provider("demo-oauth"));
    assert!(!is_development_provider("salesforce"));
}
