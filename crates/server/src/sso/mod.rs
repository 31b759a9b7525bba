//! Company sign-in (OpenID Connect single sign-on) for the console's admins and for
//! device enrollment: its settings, the identity provider's configuration (fetched once
//! and cached), and the pieces of the authorization-code flow the routes in
//! `routes::sso` put together.
//!
//! What a sign-in in progress must remember (state, nonce, PKCE verifier, and for a
//! device its loopback redirect) travels in a cookie sealed with the server key: it is
//! bound to the browser that started the sign-in, needs no table, and lives 10 minutes.
//! Each state is accepted once (a replayed callback is refused) by a set of used states
//! kept in memory; the provider's own one-use authorization codes back this up across
//! server instances.

use crate::config::ConfigError;
use crate::crypto::{self, ServerKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_secret::{SecretString, constant_time_eq};
use latchkey_sso::{Discovery, IdClaims, IdTokenValidator, KeySet, SsoError, SystemClock};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who may still sign in to the console with a password once SSO is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSignIn {
    /// Every admin (the default: turning SSO on locks no one out).
    #[default]
    All,
    /// Only owners: the break-glass account for when the identity provider is down.
    OwnerOnly,
}

/// How the server authenticates itself at the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    #[default]
    ClientSecretPost,
    ClientSecretBasic,
}

/// The `[sso]` settings. `Debug` is hand-written: the client secret never prints.
pub struct SsoConfig {
    /// The provider's issuer, exactly as its discovery document names it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub token_endpoint_auth: TokenEndpointAuth,
    /// The button's words: "Sign in with {label}".
    pub label: String,
    /// Email domains (lowercase) allowed to sign in; empty: any domain the provider vouches for.
    pub allowed_domains: Vec<String>,
    /// A `groups` value that makes someone a console admin (created on first sign-in).
    pub admin_group: Option<String>,
    pub password_sign_in: PasswordSignIn,
    /// Create unknown users on their first device sign-in (their domain must be listed).
    pub jit_users: bool,
}

impl std::fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("token_endpoint_auth", &self.token_endpoint_auth)
            .field("label", &self.label)
            .field("allowed_domains", &self.allowed_domains)
            .field("admin_group", &self.admin_group)
            .field("password_sign_in", &self.password_sign_in)
            .field("jit_users", &self.jit_users)
            .finish()
    }
}

impl SsoConfig {
    /// Whether `email`'s domain may sign in at all.
    pub fn domain_allowed(&self, email: &str) -> bool {
        self.allowed_domains.is_empty() || self.domain_listed(email)
    }

    /// Whether `email`'s domain is named in `allowed_domains` (needed to create users).
    pub fn domain_listed(&self, email: &str) -> bool {
        email
            .rsplit_once('@')
            .is_some_and(|(_, d)| self.allowed_domains.iter().any(|a| a == d))
    }
}

/// One layer of `[sso]` settings (TOML table, or `LATCHKEY_SSO__<KEY>` variables).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoLayer {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    pub token_endpoint_auth: Option<TokenEndpointAuth>,
    pub label: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub admin_group: Option<String>,
    pub password_sign_in: Option<PasswordSignIn>,
    pub jit_users: Option<bool>,
}

const ENV_KEYS: &[&str] = &[
    "issuer",
    "client_id",
    "client_secret",
    "token_endpoint_auth",
    "label",
    "allowed_domains",
    "admin_group",
    "password_sign_in",
    "jit_users",
];

fn invalid(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        message: message.into(),
    }
}

fn read_secret(name: &str, path: &Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(name, format!("cannot read {}: {e}", path.display())))?;
    Ok(SecretString::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

impl SsoLayer {
    /// Reads the secret a TOML `client_secret_file` names.
    pub fn resolve_files(mut self) -> Result<Self, ConfigError> {
        if let Some(file) = self.client_secret_file.take() {
            if self.client_secret.is_some() {
                return Err(invalid(
                    "sso.client_secret_file",
                    "set either sso.client_secret or sso.client_secret_file, not both",
                ));
            }
            self.client_secret = Some(read_secret("sso.client_secret_file", &file)?);
        }
        Ok(self)
    }

    /// `LATCHKEY_SSO__<KEY>` (and `LATCHKEY_SSO__CLIENT_SECRET_FILE`); `None` when none is set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let mut layer = SsoLayer::default();
        let mut any = false;
        for key in ENV_KEYS {
            let name = format!("LATCHKEY_SSO__{}", key.to_uppercase());
            let file = env(&format!("{name}_FILE"));
            let value = match (env(&name), file) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        &name,
                        format!("set either {name} or {name}_FILE, not both"),
                    ));
                }
                (Some(v), None) => SecretString::new(v),
                (None, Some(f)) => read_secret(&format!("{name}_FILE"), Path::new(&f))?,
                (None, None) => continue,
            };
            any = true;
            let text = value.expose().trim().to_owned();
            match *key {
                "issuer" => layer.issuer = Some(text),
                "client_id" => layer.client_id = Some(text),
                "client_secret" => layer.client_secret = Some(value),
                "token_endpoint_auth" => {
                    layer.token_endpoint_auth = Some(match text.as_str() {
                        "client_secret_post" => TokenEndpointAuth::ClientSecretPost,
                        "client_secret_basic" => TokenEndpointAuth::ClientSecretBasic,
                        _ => {
                            return Err(invalid(
                                &name,
                                "expected client_secret_post or client_secret_basic",
                            ));
                        }
                    });
                }
                "label" => layer.label = Some(text),
                "allowed_domains" => {
                    layer.allowed_domains = Some(
                        text.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                "admin_group" => layer.admin_group = Some(text),
                "password_sign_in" => {
                    layer.password_sign_in = Some(match text.as_str() {
                        "all" => PasswordSignIn::All,
                        "owner_only" => PasswordSignIn::OwnerOnly,
                        _ => return Err(invalid(&name, "expected all or owner_only")),
                    });
                }
                "jit_users" => {
                    layer.jit_users = Some(match text.as_str() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(invalid(&name, "expected true or false")),
                    });
                }
                _ => {}
            }
        }
        Ok(any.then_some(layer))
    }

    /// `other` over `self`, field by field.
    pub fn merge(self, other: SsoLayer) -> SsoLayer {
        SsoLayer {
            issuer: other.issuer.or(self.issuer),
            client_id: other.client_id.or(self.client_id),
            client_secret: other.client_secret.or(self.client_secret),
            client_secret_file: None,
            token_endpoint_auth: other.token_endpoint_auth.or(self.token_endpoint_auth),
            label: other.label.or(self.label),
            allowed_domains: other.allowed_domains.or(self.allowed_domains),
            admin_group: other.admin_group.or(self.admin_group),
            password_sign_in: other.password_sign_in.or(self.password_sign_in),
            jit_users: other.jit_users.or(self.jit_users),
        }
    }

    /// The effective settings: `None` when no issuer is set (SSO off).
    pub fn finish(self) -> Result<Option<SsoConfig>, ConfigError> {
        let Some(issuer) = self.issuer.filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let acceptable = issuer.starts_with("https://")
            || issuer.starts_with("http://127.0.0.1")
            || issuer.starts_with("http://localhost");
        if !acceptable {
            return Err(invalid(
                "sso.issuer",
                "must be an https:// URL (http only for a provider on this computer)",
            ));
        }
        let client_id = self.client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
            invalid(
                "sso.client_id",
                "is required with sso.issuer: the application (client) id the identity provider gave Latchkey",
            )
        })?;
        let client_secret = self.client_secret.filter(|s| !s.is_empty()).ok_or_else(|| {
            invalid(
                "sso.client_secret",
                "is required with sso.issuer: put it in a file and set sso.client_secret_file (or LATCHKEY_SSO__CLIENT_SECRET_FILE)",
            )
        })?;
        let allowed_domains: Vec<String> = self
            .allowed_domains
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if let Some(bad) = allowed_domains
            .iter()
            .find(|d| !d.contains('.') || d.contains(['@', '/', ' ']))
        {
            return Err(invalid(
                "sso.allowed_domains",
                format!("{bad:?} is not a domain name (use e.g. \"acme.example\")"),
            ));
        }
        let jit_users = self.jit_users.unwrap_or(false);
        if jit_users && allowed_domains.is_empty() {
            return Err(invalid(
                "sso.jit_users",
                "needs sso.allowed_domains: users are only created for the domains listed there",
            ));
        }
        Ok(Some(SsoConfig {
            issuer,
            client_id,
            client_secret,
            token_endpoint_auth: self.token_endpoint_auth.unwrap_or_default(),
            label: self
                .label
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| "your company account".to_owned()),
            allowed_domains,
            admin_group: self.admin_group.filter(|g| !g.is_empty()),
            password_sign_in: self.password_sign_in.unwrap_or_default(),
            jit_users,
        }))
    }
}

/// Why a company sign-in step failed on the server's side; each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Provider(#[from] SsoError),
    #[error(
        "The identity provider refused the sign-in code ({error}). Start the sign-in again; if it keeps failing, check the SSO client id and secret."
    )]
    TokenRequest { error: String },
    #[error(
        "The identity provider's answer had no ID token. Check that the SSO application is an OpenID Connect application with the openid scope."
    )]
    NoIdToken,
    #[error("The server could not seal or open the sign-in's state.")]
    Crypto,
}

impl FlowError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Provider(e) => e.code(),
            Self::TokenRequest { .. } => "sso.token_request",
            Self::NoIdToken => "sso.no_id_token",
            Self::Crypto => "sso.internal",
        }
    }
}

/// The provider's configuration and key set, with when they were read.
struct Provider {
    discovery: Discovery,
    validator: IdTokenValidator,
    at: Instant,
}

/// How long the discovery document is trusted before it is read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// How long a sign-in may take between the start and the callback.
pub use crate::oauth_flow::PENDING_TTL_MS;

/// How long a device's one-time sign-in code lives.
pub const DEVICE_CODE_TTL_MS: i64 = 2 * 60 * 1000;

/// The company sign-in at run time: settings, the cached provider, used states.
pub struct SsoService {
    pub config: SsoConfig,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    /// Each state is accepted once.
    used: crate::oauth_flow::UsedStates,
}

/// What happened at the provider, from a valid callback.
pub struct SignedIn {
    pub claims: IdClaims,
}

impl SsoService {
    pub fn new(config: SsoConfig) -> Result<Self, reqwest::Error> {
        // Redirects off: the token request must reach the token endpoint and nothing else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            config,
            http,
            provider: tokio::sync::Mutex::new(None),
            used: crate::oauth_flow::UsedStates::default(),
        })
    }

    async fn provider(&self) -> Result<Arc<Provider>, SsoError> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref().filter(|p| p.at.elapsed() < DISCOVERY_TTL) {
            return Ok(Arc::clone(p));
        }
        let discovery = latchkey_sso::discover(&self.http, &self.config.issuer).await?;
        let keys = Arc::new(KeySet::new(
            self.http.clone(),
            discovery.jwks_uri.clone(),
            Arc::new(SystemClock),
        ));
        let validator = IdTokenValidator::new(
            self.config.issuer.clone(),
            self.config.client_id.clone(),
            keys,
            Arc::new(SystemClock),
        );
        let fresh = Arc::new(Provider {
            discovery,
            validator,
            at: Instant::now(),
        });
        *cached = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Whether the provider says it sends `iss` in authorization responses (RFC 9207).
    pub async fn sends_iss(&self) -> Result<bool, SsoError> {
        Ok(self
            .provider()
            .await?
            .discovery
            .authorization_response_iss_parameter_supported)
    }

    /// The provider's authorization URL for a new sign-in with `pending`.
    pub async fn authorization_url(
        &self,
        pending: &Pending,
        redirect_uri: &str,
    ) -> Result<url::Url, SsoError> {
        let provider = self.provider().await?;
        let mut url = provider.discovery.authorization_endpoint.clone();
        let scope = if self.config.admin_group.is_some() {
            "openid email profile groups"
        } else {
            "openid email profile"
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &s256(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Accepts `state` once; `false` if it was accepted before.
    pub fn use_state(&self, state: &str, expires_at: i64) -> bool {
        self.used.use_state(state, expires_at)
    }

    /// Trades the authorization code for tokens and validates the ID token.
    pub async fn finish(
        &self,
        code: &SecretString,
        pending: &Pending,
        redirect_uri: &str,
    ) -> Result<SignedIn, FlowError> {
        let provider = self.provider().await?;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &pending.verifier),
        ];
        let mut request = self
            .http
            .post(provider.discovery.token_endpoint.clone())
            .header("Accept", "application/json");
        match self.config.token_endpoint_auth {
            TokenEndpointAuth::ClientSecretPost => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", self.config.client_secret.expose()));
            }
            TokenEndpointAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both form-encoded before the Basic encoding.
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
                let id: String = enc(&self.config.client_id);
                let secret: String = enc(self.config.client_secret.expose());
                request = request.basic_auth(id, Some(secret));
            }
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| FlowError::TokenRequest {
                error: format!("no answer: {}", e.without_url()),
            })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            let error = body
                .get("error")
                .and_then(|e| e.as_str())
                .map(|e| {
                    e.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(64)
                        .collect::<String>()
                })
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(FlowError::TokenRequest { error });
        }
        let id_token = body
            .get("id_token")
            .and_then(|t| t.as_str())
            .ok_or(FlowError::NoIdToken)?;
        let claims = provider
            .validator
            .validate(id_token, &pending.nonce)
            .await?;
        Ok(SignedIn { claims })
    }
}

/// A device's loopback listener, waiting for its one-time code (RFC 8252).
#[derive(Serialize, Deserialize, Clone)]
pub struct DeviceReturn {
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
}

/// A sign-in in progress, sealed into the browser's cookie.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub expires_at: i64,
    /// `None`: a console sign-in.
    pub device: Option<DeviceReturn>,
}

/// The sealing context of the sign-in cookie, so it cannot be replayed as another sealed value.
const PENDING_CONTEXT: &str = "sso/pending";
/// The sealing context of a device's one-time code.
const DEVICE_CODE_CONTEXT: &str = "sso/device-code";

pub use crate::oauth_flow::{random_text, s256};

/// Whether `verifier` is the one behind `challenge`, compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    constant_time_eq(s256(verifier).as_bytes(), challenge.as_bytes())
}

impl Pending {
    pub fn new(device: Option<DeviceReturn>) -> Result<Self, crypto::CryptoError> {
        Ok(Self {
            state: random_text()?,
            nonce: random_text()?,
            verifier: random_text()?,
            expires_at: crate::state::now_millis().saturating_add(PENDING_TTL_MS),
            device,
        })
    }

    pub fn seal(&self, key: &ServerKey) -> Result<String, FlowError> {
        crate::oauth_flow::seal_pending(key, PENDING_CONTEXT, self).ok_or(FlowError::Crypto)
    }

    /// `None` for anything this server did not seal (or sealed under an older key).
    pub fn open(key: &ServerKey, cookie: &str) -> Option<Self> {
        crate::oauth_flow::open_pending(key, PENDING_CONTEXT, cookie)
    }
}

/// What a device's one-time code stands for: an enrollment code made for the user
/// (one use, enforced by the database) and the challenge the device must answer.
#[derive(Serialize, Deserialize)]
pub struct DeviceCode {
    pub enrollment_code: String,
    pub code_challenge: String,
    pub expires_at: i64,
}

impl DeviceCode {
    pub fn seal(&self, key: &ServerKey) -> Result<SecretString, FlowError> {
        let json = serde_json::to_vec(self).map_err(|_| FlowError::Crypto)?;
        let sealed = key
            .seal(DEVICE_CODE_CONTEXT, &json)
            .map_err(|_| FlowError::Crypto)?;
        Ok(SecretString::new(format!(
            "lko_{}",
            URL_SAFE_NO_PAD.encode(sealed)
        )))
    }

    pub fn open(key: &ServerKey, code: &str) -> Option<Self> {
        let body = code.strip_prefix("lko_")?;
        let sealed = URL_SAFE_NO_PAD.decode(body).ok()?;
        let json = key.open(DEVICE_CODE_CONTEXT, &sealed).ok()?;
        serde_json::from_str(json.expose()).ok()
    }
}

/// Checks a device's loopback redirect URI (RFC 8252 §7.3): `http`, the loopback IP
/// literal (`127.0.0.1` or `[::1]`, never a name), an explicit port, nothing else.
pub fn loopback_redirect(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let host_ok = match url.host()? {
        url::Host::Ipv4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        url::Host::Ipv6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
        url::Host::Domain(_) => false,
    };
    let ok = url.scheme() == "http"
        && host_ok
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then(|| url.to_string())
}

#[cfg(test)]
mod tests;
