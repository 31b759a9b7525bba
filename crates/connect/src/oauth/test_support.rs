//! Test helpers shared by the `oauth` submodules' unit tests.

use latchkey_catalog::model::ClientAuth;
use latchkey_secret::SecretString;
use url::Url;

use super::ProviderClient;
use crate::http::HttpClient;

/// The demo provider, with the client authentication and secret under test.
pub(super) fn demo_client(auth: ClientAuth, secret: Option<&str>) -> ProviderClient {
    let mut resolved = latchkey_catalog::Catalog::builtin()
        .unwrap()
        .resolve(
            "demo-oauth",
            &latchkey_catalog::Environment::Production,
            &latchkey_catalog::Params::from([(
                "issuer".to_owned(),
                "http://127.0.0.1:9".to_owned(),
            )]),
        )
        .unwrap()
        .oauth2()
        .unwrap()
        .clone();
    resolved.client_auth = auth;
    resolved.client_secret_required = false;
    resolved.token_url = Url::parse("http://127.0.0.1:9/oauth/token?tenant=a%20b").unwrap();
    ProviderClient::new(
        "Demo OAuth",
        &resolved,
        "client id+1/é",
        secret.map(SecretString::from),
        HttpClient::new().unwrap(),
    )
    .unwrap()
}
