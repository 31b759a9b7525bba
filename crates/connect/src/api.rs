//! Calls made with the user's token: the request and response types, where a
//! request may go, how each provider says "this token was refused", its error
//! messages, and its pagination. Pure functions over the catalog's `[api]`
//! section; [`crate::Connector::call`] does the sending, refresh and retry.

use std::collections::BTreeMap;

use http::{HeaderMap, Method};
use latchkey_catalog::{ApiErrors, Pagination, ResolvedApi};
use latchkey_vault::TokenSet;
use url::Url;

use crate::ConnectError;
use crate::error::sanitize_provider_text;

/// Headers a caller may not set: Latchkey sets the credentials, and the
/// framing headers are the HTTP client's.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
];

/// One call, relative to the integration's API base.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: Method,
    /// A path under the API base (`/query?q=…`, `repos/o/r`), or an absolute
    /// URL on a host the catalog allows for this provider.
    pub target: String,
    /// Extra headers (never `Authorization`: Latchkey sets it).
    pub headers: Vec<(String, String)>,
    /// The body, sent as is.
    pub body: Option<Vec<u8>>,
}

impl ApiRequest {
    /// A GET of `target`.
    pub fn get(target: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            target: target.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Checks the caller's headers; the error names the bad one.
    pub fn check(&self) -> Result<(), ConnectError> {
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(ConnectError::InvalidRequest {
                    reason: format!("the {name} header is set by Latchkey and cannot be given"),
                });
            }
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                return Err(ConnectError::InvalidRequest {
                    reason: format!("{name:?} is not a valid header name and value"),
                });
            }
        }
        Ok(())
    }
}

/// What the provider answered. The body is the provider's, unparsed.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that was called (no secret is ever in it).
    pub url: Url,
}

impl ApiResponse {
    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An error a provider reported, in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The provider's error code (`INVALID_SESSION_ID`, `invalid_auth`), when it gives one.
    pub code: Option<String>,
    /// Its message, shortened and without control characters.
    pub message: String,
}

/// The values a base URL may use: `instance_url` and the kept token-response fields.
pub fn token_fields(tokens: &TokenSet) -> BTreeMap<String, String> {
    let mut fields = tokens.extras.clone();
    if let Some(url) = &tokens.instance_url {
        fields.insert("instance_url".to_owned(), url.clone());
    }
    fields
}

/// Where `target` goes: joined to the base (a leading `/` is optional), or an
/// absolute URL, which must be on a host the catalog allows. A token is never
/// sent anywhere else.
pub fn resolve_target(
    provider: &str,
    api: &ResolvedApi,
    base: &Url,
    target: &str,
) -> Result<Url, ConnectError> {
    if target.chars().any(|c| c.is_control() || c == ' ') || target.len() > 8192 {
        return Err(ConnectError::InvalidRequest {
            reason: "the path has spaces or control characters; encode them (%20)".to_owned(),
        });
    }
    let url = if target.contains("://") {
        Url::parse(target).map_err(|e| ConnectError::InvalidRequest {
            reason: format!("{target:?} is not a URL ({e})"),
        })?
    } else {
        let joined = format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            target.trim_start_matches('/')
        );
        Url::parse(&joined).map_err(|e| ConnectError::InvalidRequest {
            reason: format!("{target:?} does not make a URL under the API base ({e})"),
        })?
    };
    if url.fragment().is_some() {
        return Err(ConnectError::InvalidRequest {
            reason: "the URL has a #fragment, which is never sent".to_owned(),
        });
    }
    // Dot segments are resolved by the URL parser: the result must stay on an allowed host.
    if !api.allows(base, &url) {
        return Err(ConnectError::HostNotAllowed {
            provider: provider.to_owned(),
            url: url.origin().ascii_serialization(),
        });
    }
    Ok(url)
}

/// Whether the provider refused the token: a 401, or one of the catalog's
/// rejection codes in the body whatever the status (Slack's HTTP 200
/// `invalid_auth`).
pub fn is_rejection(api: &ResolvedApi, status: u16, body: &[u8]) -> bool {
    if status == 401 {
        return true;
    }
    if api.rejected_errors.is_empty() {
        return false;
    }
    provider_error(api.errors, status, body)
        .and_then(|e| e.code)
        .is_some_and(|code| api.rejected_errors.contains(&code))
}

/// The provider's error, if the answer is one: a non-2xx status, or Slack's
/// `"ok": false` with HTTP 200. `None` for a success.
pub fn provider_error(errors: ApiErrors, status: u16, body: &[u8]) -> Option<ProviderError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let slack_failed = errors == ApiErrors::Slack
        && json
            .as_ref()
            .and_then(|j| j.get("ok"))
            .and_then(serde_json::Value::as_bool)
            == Some(false);
    if (200..300).contains(&status) && !slack_failed {
        return None;
    }
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .map(sanitize_provider_text)
            .filter(|s| !s.is_empty())
    };
    let (code, message) = match (&json, errors) {
        (Some(j), ApiErrors::Salesforce) => {
            let first = j.get(0).unwrap_or(j);
            (text(first.get("errorCode")), text(first.get("message")))
        }
        (Some(j), ApiErrors::Slack) => (text(j.get("error")), text(j.get("error"))),
        (Some(j), ApiErrors::Google | ApiErrors::Graph) => {
            let e = j.get("error");
            let code = text(e.and_then(|e| e.get("status")))
                .or_else(|| text(e.and_then(|e| e.get("code"))))
                .or_else(|| text(e));
            let message =
                text(e.and_then(|e| e.get("message"))).or_else(|| text(j.get("error_description")));
            (code, message)
        }
        (Some(j), ApiErrors::Atlassian) => {
            let listed = j
                .get("errorMessages")
                .and_then(|m| m.get(0))
                .or_else(|| j.get("errors").and_then(|e| e.as_object()?.values().next()));
            (
                text(j.get("code")),
                text(listed).or_else(|| text(j.get("message"))),
            )
        }
        (Some(j), ApiErrors::Github | ApiErrors::Generic) => (
            text(j.get("error"))
                .or_else(|| text(j.get("code")))
                .or_else(|| text(j.get("error").and_then(|e| e.get("code")))),
            text(j.get("message"))
                .or_else(|| text(j.get("error_description")))
                .or_else(|| text(j.get("error").and_then(|e| e.get("message"))))
                .or_else(|| text(j.get("error"))),
        ),
        (None, _) => (None, None),
    };
    Some(ProviderError {
        message: message
            .or_else(|| code.clone())
            .unwrap_or_else(|| format!("HTTP {status}")),
        code,
    })
}

/// The next page's URL under the provider's scheme, or `None` at the end. The
/// caller checks the URL against the allowed hosts before sending the token.
pub fn next_page(
    pagination: Pagination,
    current: &Url,
    response: &ApiResponse,
) -> Result<Option<Url>, ConnectError> {
    let json = || response.json().unwrap_or(serde_json::Value::Null);
    let absolute = |link: &str| {
        current
            .join(link)
            .map_err(|e| ConnectError::InvalidRequest {
                reason: format!("the provider's next-page link is not a URL ({e})"),
            })
    };
    let with_param = |name: &str, value: &str| {
        let mut url = current.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair(name, value);
        url
    };
    let next = match pagination {
        Pagination::None => None,
        Pagination::LinkHeader => response
            .headers
            .get_all(http::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
            .map(|link| absolute(&link))
            .transpose()?,
        Pagination::Salesforce => {
            let j = json();
            let done = j.get("done").and_then(serde_json::Value::as_bool);
            match (done, j.get("nextRecordsUrl").and_then(|v| v.as_str())) {
                (Some(false), Some(link)) => Some(absolute(link)?),
                _ => None,
            }
        }
        Pagination::SlackCursor => json()
            .pointer("/response_metadata/next_cursor")
            .and_then(|v| v.as_str())
            .filter(|c| !c.is_empty())
            .map(|c| with_param("cursor", c)),
        Pagination::GooglePageToken => json()
            .get("nextPageToken")
            .and_then(|v| v.as_str())
            .filter(|c| !c.is_empty())
            .map(|c| with_param("pageToken", c)),
        Pagination::OdataNextLink => json()
            .get("@odata.nextLink")
            .and_then(|v| v.as_str())
            .map(absolute)
            .transpose()?,
    };
    Ok(next)
}

/// The `rel="next"` target of one RFC 8288 `Link` header value.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_catalog::{Catalog, Environment, Params};

    fn api(id: &str) -> ResolvedApi {
        Catalog::builtin()
            .unwrap()
            .resolve(id, &Environment::Production, &Params::new())
            .unwrap()
            .api
            .unwrap()
    }

    fn response(url: &str, headers: &[(&str, &str)], body: &str) -> ApiResponse {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        ApiResponse {
            status: 200,
            headers: map,
            body: body.as_bytes().to_vec(),
            url: Url::parse(url).unwrap(),
        }
    }

    #[test]
    fn salesforce_session_expiry_is_a_rejection_with_its_message() {
        let sf = api("salesforce");
        let body =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(is_rejection(&sf, 401, body));
        let e = provider_error(sf.errors, 401, body).unwrap();
        assert_eq!(e.code.as_deref(), Some("INVALID_SESSION_ID"));
        assert_eq!(e.message, "Session expired or invalid");
        assert!(!is_rejection(
            &sf,
            404,
            br#"[{"message":"nope","errorCode":"NOT_FOUND"}]"#
        ));
    }

    #[test]
    fn slack_http_200_errors_are_errors_and_auth_ones_are_rejections() {
        let slack = api("slack");
        assert!(is_rejection(
            &slack,
            200,
            br#"{"ok":false,"error":"invalid_auth"}"#
        ));
        assert!(is_rejection(
            &slack,
            200,
            br#"{"ok":false,"error":"token_expired"}"#
        ));
        assert!(!is_rejection(
            &slack,
            200,
            br#"{"ok":false,"error":"channel_not_found"}"#
        ));
        assert!(!is_rejection(&slack, 200, br#"{"ok":true}"#));
        let e = provider_error(
            slack.errors,
            200,
            br#"{"ok":false,"error":"channel_not_found"}"#,
        )
        .unwrap();
        assert_eq!(e.code.as_deref(), Some("channel_not_found"));
        assert!(provider_error(slack.errors, 200, br#"{"ok":true,"messages":[]}"#).is_none());
    }

    #[test]
    fn google_and_graph_errors_are_read_from_their_shapes() {
        let g = provider_error(
            ApiErrors::Google,
            401,
            br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        )
        .unwrap();
        assert_eq!(g.code.as_deref(), Some("UNAUTHENTICATED"));
        assert!(g.message.starts_with("Request had invalid"));
        let m = provider_error(
            ApiErrors::Graph,
            401,
            br#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#,
        )
        .unwrap();
        assert_eq!(m.code.as_deref(), Some("InvalidAuthenticationToken"));
        let gh = provider_error(
            ApiErrors::Github,
            404,
            br#"{"message":"Not Found","documentation_url":"x"}"#,
        )
        .unwrap();
        assert_eq!(gh.message, "Not Found");
        let plain = provider_error(ApiErrors::Generic, 502, b"<html>bad gateway</html>").unwrap();
        assert_eq!(plain.message, "HTTP 502");
    }

    #[test]
    fn targets_join_the_base_or_must_be_on_an_allowed_host() {
        let gh = api("github");
        let base = gh.base_url_for("GitHub", &BTreeMap::new()).unwrap();
        let url = resolve_target("GitHub", &gh, &base, "repos/o/r/pulls?state=open").unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.github.com/repos/o/r/pulls?state=open"
        );
        let url = resolve_target("GitHub", &gh, &base, "/user").unwrap();
        assert_eq!(url.as_str(), "https://api.github.com/user");
        let err = resolve_target("GitHub", &gh, &base, "https://evil.example/user").unwrap_err();
        assert_eq!(err.code(), "connect.host_not_allowed");
        let err = resolve_target("GitHub", &gh, &base, "/a b").unwrap_err();
        assert_eq!(err.code(), "connect.invalid_request");
    }

    #[test]
    fn each_pagination_scheme_finds_the_next_page() {
        let page = response(
            "https://api.github.com/user/repos?per_page=2",
            &[(
                "link",
                r#"<https://api.github.com/user/repos?per_page=2&page=2>; rel="next", <https://api.github.com/user/repos?per_page=2&page=5>; rel="last""#,
            )],
            "[]",
        );
        assert_eq!(
            next_page(Pagination::LinkHeader, &page.url, &page)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://api.github.com/user/repos?per_page=2&page=2"
        );
        let page = response(
            "https://acme.my.salesforce.com/services/data/v62.0/query?q=SELECT+Id+FROM+Account",
            &[],
            r#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gD-2000","records":[]}"#,
        );
        assert_eq!(
            next_page(Pagination::Salesforce, &page.url, &page)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://acme.my.salesforce.com/services/data/v62.0/query/01gD-2000"
        );
        let last = response(page.url.as_ref(), &[], r#"{"done":true,"records":[]}"#);
        assert!(
            next_page(Pagination::Salesforce, &last.url, &last)
                .unwrap()
                .is_none()
        );
        let page = response(
            "https://slack.com/api/conversations.list?limit=2&cursor=old",
            &[],
            r#"{"ok":true,"channels":[],"response_metadata":{"next_cursor":"dXNlcjpVMDYxTkZUVDI="}}"#,
        );
        assert_eq!(
            next_page(Pagination::SlackCursor, &page.url, &page)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://slack.com/api/conversations.list?limit=2&cursor=dXNlcjpVMDYxTkZUVDI%3D"
        );
        let end = response(
            page.url.as_ref(),
            &[],
            r#"{"ok":true,"response_metadata":{"next_cursor":""}}"#,
        );
        assert!(
            next_page(Pagination::SlackCursor, &end.url, &end)
                .unwrap()
                .is_none()
        );
        let page = response(
            "https://www.googleapis.com/drive/v3/files?q=x",
            &[],
            r#"{"files":[],"nextPageToken":"tok2"}"#,
        );
        assert_eq!(
            next_page(Pagination::GooglePageToken, &page.url, &page)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://www.googleapis.com/drive/v3/files?q=x&pageToken=tok2"
        );
        let page = response(
            "https://graph.microsoft.com/v1.0/me/messages",
            &[],
            r#"{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/messages?$skip=10"}"#,
        );
        assert_eq!(
            next_page(Pagination::OdataNextLink, &page.url, &page)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://graph.microsoft.com/v1.0/me/messages?$skip=10"
        );
    }

    #[test]
    fn callers_cannot_set_the_credentials() {
        let mut r = ApiRequest::get("/x");
        r.headers
            .push(("Authorization".into(), "Bearer mine".into()));
        assert_eq!(r.check().unwrap_err().code(), "connect.invalid_request");
        let mut r = ApiRequest::get("/x");
        r.headers.push(("X-Ok".into(), "fine".into()));
        assert!(r.check().is_ok());
    }
}
