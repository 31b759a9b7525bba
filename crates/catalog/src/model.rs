//! The data format: one [`Provider`] per TOML file. Every table rejects unknown fields, so a
//! misspelt key fails the build's tests instead of being silently ignored.
//!
//! These types are what a data file says; [`crate::Catalog`] checks the rules between fields
//! when loading, and [`crate::resolve`] turns a provider plus an environment into concrete
//! URLs.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::environment::EnvironmentKind;
use crate::template::Template;

/// One integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Stable identifier, `^[a-z0-9][a-z0-9-]*$`; used in URLs, the CLI and stored records.
    pub id: String,
    /// Name shown to people ("Salesforce").
    pub name: String,
    /// Icon name, resolved by the clients' icon set.
    pub icon: String,
    /// How the integration authenticates.
    pub auth: AuthType,
    /// A development-only provider (a local test server): hidden from production admins.
    #[serde(default)]
    pub development: bool,
    /// The provider's developer documentation for this integration.
    #[serde(default)]
    pub docs_url: Option<String>,
    /// Where a user removes the app's access by hand, for providers with no revocation
    /// endpoint (told to the user after "revoke").
    #[serde(default)]
    pub manage_access_url: Option<String>,
    /// The environments offered, in the order shown.
    pub environments: Vec<EnvironmentKind>,
    /// The placeholders the endpoints use, by name.
    #[serde(default)]
    pub placeholders: BTreeMap<String, Placeholder>,
    /// Present exactly when `auth = "oauth2"`.
    #[serde(default)]
    pub oauth2: Option<OAuth2>,
    /// Present exactly when `auth = "api_key"`.
    #[serde(default)]
    pub api_key: Option<ApiKey>,
    /// Calls made with the user's token (`latchkey api`, `exec`, search); OAuth providers
    /// only (an API-key provider's calls go through the server's proxy).
    #[serde(default)]
    pub api: Option<Api>,
    /// Federated search: present when the provider can search with the user's token
    /// (or, for an API-key provider, through the server's proxy).
    #[serde(default)]
    pub search: Option<Search>,
}

impl Provider {
    /// The provider's cap on live authorizations per user and OAuth client
    /// ([`OAuth2::approval_limit`]); `None` for API-key providers and uncapped ones.
    pub fn approval_limit(&self) -> Option<u32> {
        self.oauth2.as_ref().and_then(|o| o.approval_limit)
    }
}

/// How the menu and `latchkey search` ask this provider: the adapter (code in
/// `latchkey-search`), the scopes search needs, and where result links may point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The adapter that speaks the provider's search API (`salesforce`, `github`, …).
    pub adapter: String,
    /// Search works when the connection was granted any one of these scopes; empty: the
    /// scopes every connection gets suffice.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Hosts a result's web link may point at: exact, `.suffix`, or `{api}` for the host
    /// the API answered from (a Salesforce org's own). Any other link is dropped.
    pub web_hosts: Vec<String>,
    /// What the results are ("records", "files", "messages"), shown beside the name.
    #[serde(default)]
    pub label: Option<String>,
    /// The home-screen widgets this provider offers (`salesforce.recent_accounts`; the
    /// code is in `latchkey-widgets`). Admins pick the defaults from these.
    #[serde(default)]
    pub widgets: Vec<String>,
    /// The API paths (prefixes under the API base) that search and the widgets call. An
    /// org connection's users call the provider only on the paths its admin allows, so
    /// the console offers these there: without them the menu cannot search the org.
    #[serde(default)]
    pub api_paths: Vec<String>,
}

impl Search {
    /// Whether a call to `target` (relative to the API base, with or without its query)
    /// is on one of [`Search::api_paths`], by whole segments as the server's proxies check.
    pub fn declares_call(&self, target: &str) -> bool {
        let path = format!("/{}", target.split('?').next().unwrap_or_default());
        crate::path_under_any(&path, &self.api_paths)
    }
}

/// The authentication scheme of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// OAuth 2.0 authorization code with PKCE, through the system browser.
    Oauth2,
    /// A static API key sent in a header.
    ApiKey,
}

/// A `{name}` in the endpoints, and where its value comes from.
///
/// The value is taken, in order, from: the custom host (if `custom_host` and the
/// environment is custom); the `production` / `sandbox` value for that environment; the
/// caller's parameters; `default`. A parameter for a value fixed by the environment is an
/// error, not silently ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    /// How the value is validated.
    pub kind: PlaceholderKind,
    /// What the value is, for people ("your Zendesk subdomain").
    pub description: String,
    /// A realistic sample value, used by the tests and shown in error messages.
    pub example: String,
    /// The value in the production environment.
    #[serde(default)]
    pub production: Option<String>,
    /// The value in the sandbox environment.
    #[serde(default)]
    pub sandbox: Option<String>,
    /// The value when nothing else gives one.
    #[serde(default)]
    pub default: Option<String>,
    /// Whether [`crate::Environment::Custom`] sets this placeholder (at most one per provider).
    #[serde(default)]
    pub custom_host: bool,
    /// For `host` values: the value must equal one of these without the leading dot, or end
    /// with one (`.salesforce.com`), so a typo cannot send a login to another company.
    #[serde(default)]
    pub allowed_suffixes: Vec<String>,
}

/// How a placeholder value is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderKind {
    /// A host name, or a loopback IP literal with optional port (see [`crate::validate_host`]).
    Host,
    /// One DNS label (a Zendesk subdomain): `a-z 0-9 -`.
    Label,
    /// One URL path segment (a Microsoft tenant): `A-Z a-z 0-9 . _ -`.
    Segment,
    /// `scheme://host[:port]` (the issuer of a local test server); http only on loopback.
    Origin,
}

/// OAuth 2.0 settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Where the browser is sent to log in and consent.
    pub authorization_url: Template,
    /// Where the code and refresh tokens are exchanged.
    pub token_url: Template,
    /// OpenID Connect userinfo endpoint, if any.
    #[serde(default)]
    pub userinfo_url: Option<Template>,
    /// RFC 7662 token introspection endpoint, if any (used by tests to prove a revocation).
    #[serde(default)]
    pub introspection_url: Option<Template>,
    /// The authorization server's issuer identifier, where documented: compared with the
    /// RFC 9207 `iss` response parameter and RFC 8414 metadata. Kept as a string because
    /// issuers compare byte for byte (no trailing slash added).
    #[serde(default)]
    pub issuer: Option<Template>,
    /// Whether the provider always sends `iss` in the authorization response (RFC 9207);
    /// then a response without it is refused.
    #[serde(default)]
    pub iss_in_authorization_response: bool,
    /// Scopes requested unless the admin configures others.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// How scopes are joined in the request.
    #[serde(default)]
    pub scope_separator: ScopeSeparator,
    /// The query parameter carrying the scopes; `scope` except Slack user tokens (`user_scope`).
    #[serde(default = "default_scope_param")]
    pub scope_param: String,
    /// The provider's PKCE support. The client sends S256 whatever this says (an unknown
    /// parameter is ignored by RFC 6749 §3.1); this only documents what protects the code.
    pub pkce: Pkce,
    /// How the client authenticates at the token (and revocation) endpoint when it has a secret.
    pub client_auth: ClientAuth,
    /// Whether the provider always requires a client secret (then admins must enter one).
    #[serde(default)]
    pub client_secret_required: bool,
    /// Encoding of the token request body.
    #[serde(default)]
    pub token_request_body: BodyFormat,
    /// Object in the token response holding the tokens, when not at the top level
    /// (Slack user tokens: `authed_user`).
    #[serde(default)]
    pub token_response_object: Option<String>,
    /// Extra token-response fields to keep with the token set (Salesforce `instance_url`).
    #[serde(default)]
    pub token_response_fields: Vec<String>,
    /// Token-response field holding a URL that says who the user is (Salesforce `id`).
    #[serde(default)]
    pub identity_token_field: Option<String>,
    /// Whether the token response carries `expires_in`.
    pub expires_in: ExpiresIn,
    /// What a refresh does to the refresh token.
    pub refresh_rotation: RefreshRotation,
    /// Extra authorization-request parameters (Google `access_type = "offline"`).
    #[serde(default)]
    pub extra_authorization_params: BTreeMap<String, String>,
    /// Extra headers every API call needs (Notion `Notion-Version`).
    #[serde(default)]
    pub api_headers: BTreeMap<String, String>,
    /// Token revocation, if the provider has it.
    #[serde(default)]
    pub revocation: Option<Revocation>,
    /// How many live authorizations one user may hold for one OAuth client, when the
    /// provider caps them and silently revokes the oldest grant on the next one
    /// (Salesforce: five approvals per user per app). Connecting on one device more
    /// than that signs another device out, so clients ask first.
    #[serde(default)]
    pub approval_limit: Option<u32>,
    /// The "who am I" call made after connecting.
    pub whoami: Endpoint,
    /// The loopback redirect.
    pub redirect: Redirect,
}

fn default_scope_param() -> String {
    "scope".to_owned()
}

/// How scopes are joined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeSeparator {
    /// RFC 6749: space-separated.
    #[default]
    Space,
    /// Slack: comma-separated.
    Comma,
}

impl ScopeSeparator {
    /// The separator character as a string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Space => " ",
            Self::Comma => ",",
        }
    }
}

/// The provider's PKCE (RFC 7636) support. Only S256 is ever used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    /// The provider refuses requests without PKCE.
    Required,
    /// The provider checks PKCE when sent.
    Supported,
    /// Not documented by the provider; the challenge is sent and ignored there.
    Unsupported,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3, RFC 8414 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Public client: only `client_id` is sent.
    None,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
    /// HTTP Basic with `client_id:client_secret`.
    ClientSecretBasic,
}

/// Encoding of token and revocation request bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    #[default]
    Form,
    /// `application/json` (Atlassian, Notion, Zendesk document this).
    Json,
}

/// Whether token responses carry `expires_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiresIn {
    /// Always: refresh ahead of expiry.
    Always,
    /// Never (Salesforce): refresh when an API call answers 401.
    Never,
    /// Depends on the app's settings: use it when present, else refresh on 401.
    Sometimes,
}

/// What a refresh does to the refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshRotation {
    /// The same refresh token stays valid; none is returned.
    None,
    /// Every refresh returns a new refresh token and the old one dies.
    Always,
    /// Depends on the app's settings: a returned refresh token replaces the stored one.
    Optional,
}

/// Token revocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The endpoint.
    pub url: Template,
    /// How it is called.
    pub method: RevocationMethod,
}

/// How a revocation endpoint is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationMethod {
    /// RFC 7009: POST `token=…` (form) with client authentication; refresh token first.
    Rfc7009,
    /// As RFC 7009, with a JSON body `{"token": …}` (Notion).
    Rfc7009Json,
    /// POST with the access token as bearer credentials (Slack, Dropbox).
    BearerPost,
    /// DELETE with the access token as bearer credentials (Zendesk).
    BearerDelete,
    /// GitHub: `DELETE {url}/{client_id}/grant` with HTTP Basic `client_id:client_secret`
    /// and `{"access_token": …}`; ends the whole grant (every token of the user for the app).
    GithubGrant,
}

/// An HTTP call made with the user's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The URL.
    pub url: Template,
    /// The HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
}

/// HTTP methods used by catalog endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    #[default]
    Get,
    /// POST (Dropbox's and Slack's RPC-style APIs).
    Post,
}

impl HttpMethod {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// The loopback redirect (RFC 8252 §7.3). The host is `127.0.0.1` unless the admin chose
/// `localhost` for a provider that allows it; the listener binds 127.0.0.1 either way.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// The callback path, unique to the provider so a response meant for one provider is
    /// never accepted in another's flow (mix-up defence).
    pub path: String,
    /// A fixed port, for providers that match the registered callback exactly, port
    /// included (Salesforce). Absent: the OS assigns a free port for each attempt.
    #[serde(default)]
    pub port: Option<u16>,
    /// Whether an admin may register `http://localhost:…` instead of the IP literal, for
    /// providers whose apps are commonly registered that way (Salesforce's own CLI
    /// registers `http://localhost:1717/OauthRedirect`, and Salesforce matches exactly).
    #[serde(default)]
    pub localhost: bool,
}

/// The host name in a loopback redirect URI. The listener binds 127.0.0.1 in both cases;
/// `localhost` only changes the name the browser is sent to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RedirectHost {
    /// `127.0.0.1`, as RFC 8252 §8.3 recommends.
    #[default]
    Ip,
    /// `localhost`, for apps registered that way at a provider that allows it.
    Localhost,
}

impl RedirectHost {
    /// The host as written in the URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "127.0.0.1",
            Self::Localhost => "localhost",
        }
    }

    /// Parses `127.0.0.1` or `localhost`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "127.0.0.1" => Some(Self::Ip),
            "localhost" => Some(Self::Localhost),
            _ => None,
        }
    }
}

impl Redirect {
    /// The loopback host used in redirect URIs by default: an IP literal.
    pub const HOST: &'static str = "127.0.0.1";

    /// The redirect URI for the port the listener is bound to. Used unchanged in the
    /// authorization and token requests, which must match byte for byte.
    pub fn uri(&self, bound_port: u16) -> String {
        self.uri_on(RedirectHost::Ip, bound_port)
    }

    /// The redirect URI naming `host`.
    pub fn uri_on(&self, host: RedirectHost, bound_port: u16) -> String {
        format!("http://{}:{bound_port}{}", host.as_str(), self.path)
    }

    /// What an admin registers at the provider: with the port when it is fixed.
    pub fn registered_uri(&self, host: RedirectHost) -> String {
        match self.port {
            Some(port) => self.uri_on(host, port),
            None => format!("http://{}{}", host.as_str(), self.path),
        }
    }
}

/// API-key settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The header carrying the key (`Authorization`, `X-API-Key`).
    pub header: String,
    /// The header value with `{key}` where the key goes (`Bearer {key}`).
    pub format: String,
    /// The API's base URL (scheme and host, maybe a path prefix).
    pub base_url: Template,
    /// A cheap call that succeeds only with a valid key.
    pub test: ApiKeyTest,
    /// Path prefixes the server proxy may forward to; everything else is refused.
    pub allowed_path_prefixes: Vec<String>,
    /// Extra headers every call needs (PagerDuty `Accept`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The test call of an API-key integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyTest {
    /// Path under the base URL, starting with `/`.
    pub path: String,
    /// The HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
}

/// Calls made with the user's own token: where they may go and how the provider answers.
///
/// A token is only ever sent to the base URL's host or to a host in `allowed_hosts`, so a
/// pagination link or a tampered `instance_url` cannot carry it elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Where request paths are joined. Placeholders are declared ones, or token-response
    /// fields the catalog keeps (`{instance_url}`), filled in at call time.
    pub base_url: Template,
    /// Hosts a token may be sent to besides a catalog-fixed base URL's own: an exact host
    /// or `.suffix`. A base URL whose host comes from the token response must match one.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// How the provider's error bodies look.
    #[serde(default)]
    pub errors: ApiErrors,
    /// Error codes that mean "this token was refused" whatever the HTTP status (Slack
    /// answers `invalid_auth` and `token_expired` with HTTP 200). A 401 always means it.
    #[serde(default)]
    pub rejected_errors: Vec<String>,
    /// How the provider pages long results.
    #[serde(default)]
    pub pagination: Pagination,
    /// Environment variables `latchkey exec` sets: name -> what it holds (`access_token`,
    /// `api_base_url`, `instance_url`, or a token-response field the catalog keeps).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Git hosts this integration's token answers for (`latchkey git-credential`).
    #[serde(default)]
    pub git_hosts: Vec<String>,
    /// The user name sent to Git with the token as password.
    #[serde(default)]
    pub git_username: Option<String>,
    /// A cheap call under the base URL that a live token passes, used to check a token
    /// without expiry before handing it to a program (`latchkey token`, `exec`, Git).
    /// Absent: the who-am-I call. Salesforce: `/` (the API's resource list), which
    /// answers an expired session with 401 `INVALID_SESSION_ID` on the org's own host.
    #[serde(default)]
    pub probe_path: Option<String>,
}

/// The shape of a provider's API error bodies, for the message shown to the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrors {
    /// `error` / `error_description` / `message`, whichever is there.
    #[default]
    Generic,
    /// Salesforce: `[{"message": …, "errorCode": "INVALID_SESSION_ID"}]`.
    Salesforce,
    /// Slack: HTTP 200 with `{"ok": false, "error": "invalid_auth"}`.
    Slack,
    /// Google: `{"error": {"code": 401, "message": …, "status": "UNAUTHENTICATED"}}`.
    Google,
    /// Microsoft Graph: `{"error": {"code": "InvalidAuthenticationToken", "message": …}}`.
    Graph,
    /// GitHub: `{"message": …, "documentation_url": …}`.
    Github,
    /// Atlassian: `{"errorMessages": [...], "errors": {...}}` or `{"message": …}`.
    Atlassian,
}

/// How a provider pages long results (`latchkey api --paginate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pagination {
    /// One page only.
    #[default]
    None,
    /// RFC 8288 `Link: <…>; rel="next"` (GitHub).
    LinkHeader,
    /// Salesforce: `nextRecordsUrl` (host-relative) until `done` is true.
    Salesforce,
    /// Slack: `response_metadata.next_cursor`, sent back as `cursor`.
    SlackCursor,
    /// Google: `nextPageToken`, sent back as `pageToken`.
    GooglePageToken,
    /// Microsoft Graph: `@odata.nextLink`, an absolute URL.
    OdataNextLink,
}
