//! Who the tokens belong to: the catalog's "who am I" call, used for the
//! "Connected as …" label and, by `calls`, to ask whether the provider still
//! accepts a token.

use latchkey_catalog::model::HttpMethod;
use latchkey_vault::TokenSet;

use super::ProviderClient;
use crate::error::sanitize_provider_text;
use crate::http::{HttpError, bearer_header};

impl ProviderClient {
    /// The catalog's "who am I" call with `tokens`, answered as it came.
    pub(crate) async fn whoami(
        &self,
        tokens: &TokenSet,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        // Dropbox's get_current_account and Slack's auth.test are POST-only RPC calls.
        let method = match self.resolved.whoami.method {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Post => http::Method::POST,
        };
        let authorization =
            bearer_header(&tokens.access_token).map_err(|e| HttpError::NotSent(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(self.resolved.whoami.url.as_str())
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        for (name, value) in &self.resolved.api_headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| HttpError::NotSent(e.to_string()))?;
        self.http.send(request).await
    }

    /// Asks the provider who the tokens belong to, for "Connected as …".
    /// Failures are not fatal: the connection works without a label.
    pub async fn identity(&self, tokens: &TokenSet) -> Option<String> {
        let response = self.whoami(tokens).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(response.body()).ok()?;
        [
            "email",
            "preferred_username",
            "username",
            "login",
            "name",
            "sub",
            // Slack's auth.test
            "user",
        ]
        .iter()
        .find_map(|k| json.get(*k).and_then(|v| v.as_str()))
        .map(sanitize_provider_text)
        .filter(|s| !s.is_empty())
    }
}
