//! A test double for adapters that send several requests at once (HubSpot, Atlassian):
//! each scripted answer is served to the first request whose target contains its
//! needle, once, whatever order the requests come in.

use std::sync::Mutex;

use latchkey_connect::{ApiRequest, ApiResponse};

use super::ProviderCall;
use crate::error::SearchError;

/// A scripted answer: (needle in the target, status, headers, body).
type Route = (String, u16, Vec<(&'static str, String)>, String);

pub struct Routed {
    name: String,
    base: String,
    routes: Mutex<Vec<Route>>,
    pub seen: Mutex<Vec<ApiRequest>>,
}

impl Routed {
    pub fn new(name: &str, base: &str, routes: Vec<(&str, u16, &str)>) -> Self {
        Self {
            name: name.to_owned(),
            base: base.to_owned(),
            routes: Mutex::new(
                routes
                    .into_iter()
                    .map(|(n, s, b)| (n.to_owned(), s, Vec::new(), b.to_owned()))
                    .collect(),
            ),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Adds a header to the answer for `needle`.
    pub fn with_header(self, needle: &str, name: &'static str, value: &str) -> Self {
        for route in self.routes.lock().unwrap().iter_mut() {
            if route.0 == needle {
                route.2.push((name, value.to_owned()));
            }
        }
        self
    }

    pub fn targets(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.target.clone())
            .collect()
    }

    /// The request whose target contains `needle`.
    pub fn request(&self, needle: &str) -> ApiRequest {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.target.contains(needle))
            .cloned()
            .unwrap_or_else(|| panic!("no request to {needle}"))
    }
}

#[async_trait::async_trait]
impl ProviderCall for Routed {
    fn provider(&self) -> &str {
        &self.name
    }

    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, SearchError> {
        let target = request.target.clone();
        self.seen.lock().unwrap().push(request);
        let (_, status, headers, body) = {
            let mut routes = self.routes.lock().unwrap();
            let at = routes
                .iter()
                .position(|r| target.contains(&r.0))
                .unwrap_or_else(|| panic!("no answer scripted for {target}"));
            routes.remove(at)
        };
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(k, v.parse().unwrap());
        }
        let url = if target.contains("://") {
            url::Url::parse(&target).unwrap()
        } else {
            url::Url::parse(&format!("{}/{}", self.base, target.trim_start_matches('/'))).unwrap()
        };
        Ok(ApiResponse {
            status,
            headers: map,
            body: body.into_bytes(),
            url,
        })
    }
}
