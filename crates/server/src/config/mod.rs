//! Server configuration in layers: built-in defaults, then a TOML file, then
//! `LATCHKEY_*` environment variables, then command-line flags. Any value may
//! instead come from a file named by `LATCHKEY_<NAME>_FILE` (or `<name>_file` in
//! TOML), which is how secrets are passed without putting them in the environment.

use crate::client_ip::TrustedProxies;
use latchkey_secret::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name} is invalid: {message}")]
    Invalid { name: String, message: String },
}

/// The effective configuration. `Debug` is hand-written so the server key never prints.
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The origin clients reach this server at (for enrollment links);
    /// `http://<bound address>` when unset.
    pub public_url: Option<String>,
    /// 32-byte server key (64 hex digits) sealing client secrets and API keys at
    /// rest; when absent, `server.key` in the data dir is used or created (mode 0600).
    pub server_key: Option<SecretString>,
    /// The file `server_key` was read from, when it came from one (to warn about a
    /// key kept inside the data dir).
    pub server_key_file: Option<PathBuf>,
    pub enrollment_code_ttl_secs: u64,
    /// How long an admin API token lives (days); shown when it is created.
    pub admin_token_ttl_days: u64,
    pub session_ttl_secs: u64,
    pub max_envelope_bytes: usize,
    pub max_body_bytes: usize,
    pub feed_poll_millis: u64,
    /// Attempts per minute per client IP (and per email / code) on auth endpoints.
    pub auth_rate_per_minute: u32,
    /// Set the `Secure` attribute on the session cookie (turn off only for plain-http development).
    pub secure_cookies: bool,
    pub log: String,
    /// API-key proxy: whole-request timeout toward the provider.
    pub proxy_timeout_secs: u64,
    /// API-key proxy: largest provider response relayed.
    pub proxy_max_response_bytes: usize,
    /// API-key proxy: allow `http://` base URLs (tests and local development only).
    pub proxy_allow_http: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    pub trusted_proxies: TrustedProxies,
    /// Offer the catalog's development providers (the demo OAuth server on this
    /// computer). Off in production: `make run` and the tests opt in.
    pub allow_development_providers: bool,
    /// Signed app updates (`[updates]` in TOML, `LATCHKEY_UPDATES_*` in the environment).
    pub updates: UpdatesConfig,
    /// Company sign-in (OpenID Connect); `None` when no `sso.issuer` is set.
    pub sso: Option<crate::sso::SsoConfig>,
}

/// The `[updates]` settings.
#[derive(Debug, Clone)]
pub struct UpdatesConfig {
    /// The app's update public key (`plugins.updater.pubkey` of its tauri.conf.json);
    /// without it, release uploads are refused (nothing could be checked).
    pub public_key: Option<crate::updates::UpdateKey>,
    /// The largest release artifact accepted on upload (the one route allowed past
    /// `max_body_bytes`). Artifacts are held in memory whole on upload and download.
    pub max_artifact_bytes: usize,
}

/// The `[updates]` table of one layer.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatesLayer {
    pub public_key: Option<String>,
    pub max_artifact_bytes: Option<usize>,
}

/// The environment names of the `[updates]` keys.
const UPDATES_KEYS: &[(&str, &str)] = &[
    ("public_key", "LATCHKEY_UPDATES_PUBLIC_KEY"),
    ("max_artifact_bytes", "LATCHKEY_UPDATES_MAX_ARTIFACT_BYTES"),
];

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("server_key", &self.server_key.as_ref().map(|_| "***"))
            .field("server_key_file", &self.server_key_file)
            .field("enrollment_code_ttl_secs", &self.enrollment_code_ttl_secs)
            .field("admin_token_ttl_days", &self.admin_token_ttl_days)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("max_envelope_bytes", &self.max_envelope_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("feed_poll_millis", &self.feed_poll_millis)
            .field("auth_rate_per_minute", &self.auth_rate_per_minute)
            .field("secure_cookies", &self.secure_cookies)
            .field("log", &self.log)
            .field("proxy_timeout_secs", &self.proxy_timeout_secs)
            .field("proxy_max_response_bytes", &self.proxy_max_response_bytes)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("proxy_allow_http", &self.proxy_allow_http)
            .field(
                "allow_development_providers",
                &self.allow_development_providers,
            )
            .field("updates", &self.updates)
            .field("sso", &self.sso)
            .finish()
    }
}

/// Hides the password of a database URL (`postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// One layer: every field optional. The TOML file and the environment both parse into this.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub server_key: Option<SecretString>,
    pub enrollment_code_ttl_secs: Option<u64>,
    pub admin_token_ttl_days: Option<u64>,
    pub session_ttl_secs: Option<u64>,
    pub max_envelope_bytes: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub feed_poll_millis: Option<u64>,
    pub auth_rate_per_minute: Option<u32>,
    pub secure_cookies: Option<bool>,
    pub log: Option<String>,
    pub proxy_timeout_secs: Option<u64>,
    pub proxy_max_response_bytes: Option<usize>,
    pub proxy_allow_http: Option<bool>,
    pub trusted_proxies: Option<Vec<String>>,
    pub allow_development_providers: Option<bool>,
    pub updates: Option<UpdatesLayer>,
    /// `[sso]`: company sign-in (see `crate::sso`).
    pub sso: Option<crate::sso::SsoLayer>,
    // `<name>_file` variants, TOML only (the environment uses `LATCHKEY_<NAME>_FILE`).
    pub database_url_file: Option<PathBuf>,
    pub server_key_file: Option<PathBuf>,
    /// Where this layer's `server_key` was read from (not a TOML key).
    #[serde(skip)]
    pub server_key_origin: Option<PathBuf>,
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "server_key",
    "enrollment_code_ttl_secs",
    "admin_token_ttl_days",
    "session_ttl_secs",
    "max_envelope_bytes",
    "max_body_bytes",
    "feed_poll_millis",
    "auth_rate_per_minute",
    "secure_cookies",
    "log",
    "proxy_timeout_secs",
    "proxy_max_response_bytes",
    "proxy_allow_http",
    "trusted_proxies",
    "allow_development_providers",
];

impl Layer {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let mut layer: Layer = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        if let Some(file) = layer.database_url_file.take() {
            layer.database_url = Some(
                read_secret_file("database_url_file", &file)?
                    .expose()
                    .to_owned(),
            );
        }
        if let Some(file) = layer.server_key_file.take() {
            layer.server_key = Some(read_secret_file("server_key_file", &file)?);
            layer.server_key_origin = Some(file);
        }
        layer.sso = layer
            .sso
            .map(crate::sso::SsoLayer::resolve_files)
            .transpose()?;
        Ok(layer)
    }

    /// Reads `LATCHKEY_<NAME>` (or `LATCHKEY_<NAME>_FILE`) for every key, through `env`
    /// so tests can pass a map instead of the process environment.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        let mut server_key = None;
        let mut server_key_origin = None;
        for key in KEYS {
            let name = format!("LATCHKEY_{}", key.to_uppercase());
            let value = match (env(&name), env(&format!("{name}_FILE"))) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid {
                        name: name.clone(),
                        message: format!("set either {name} or {name}_FILE, not both"),
                    });
                }
                (Some(v), None) => SecretString::new(v),
                (None, Some(file)) => read_secret_file(&format!("{name}_FILE"), Path::new(&file))?,
                (None, None) => continue,
            };
            if *key == "server_key" {
                server_key = Some(value);
                server_key_origin = env(&format!("{name}_FILE")).map(PathBuf::from);
                continue;
            }
            let parsed =
                parse_scalar(key, value.expose()).map_err(|message| ConfigError::Invalid {
                    name: name.clone(),
                    message,
                })?;
            table.insert((*key).to_owned(), parsed);
        }
        let mut updates = toml::Table::new();
        for (key, name) in UPDATES_KEYS {
            let value = match (env(name), env(&format!("{name}_FILE"))) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid {
                        name: (*name).to_owned(),
                        message: format!("set either {name} or {name}_FILE, not both"),
                    });
                }
                (Some(v), None) => v,
                (None, Some(file)) => read_secret_file(&format!("{name}_FILE"), Path::new(&file))?
                    .expose()
                    .to_owned(),
                (None, None) => continue,
            };
            let parsed = if *key == "max_artifact_bytes" {
                value
                    .trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| ConfigError::Invalid {
                        name: (*name).to_owned(),
                        message: format!("expected a whole number, got {value:?}"),
                    })?
            } else {
                toml::Value::String(value)
            };
            updates.insert((*key).to_owned(), parsed);
        }
        if !updates.is_empty() {
            table.insert("updates".to_owned(), toml::Value::Table(updates));
        }
        let mut layer: Layer =
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    name: "LATCHKEY_* environment".into(),
                    message: e.message().to_owned(),
                })?;
        layer.server_key = server_key;
        layer.server_key_origin = server_key_origin;
        layer.sso = crate::sso::SsoLayer::from_env(env)?;
        Ok(layer)
    }
}

/// Environment values are strings; numbers and booleans are typed for the fields that need them.
fn parse_scalar(key: &str, value: &str) -> Result<toml::Value, String> {
    match key {
        "enrollment_code_ttl_secs"
        | "admin_token_ttl_days"
        | "session_ttl_secs"
        | "max_envelope_bytes"
        | "max_body_bytes"
        | "feed_poll_millis"
        | "auth_rate_per_minute" => value
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected a whole number, got {value:?}")),
        "secure_cookies" | "proxy_allow_http" | "allow_development_providers" => match value.trim()
        {
            "true" | "1" | "yes" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {value:?}")),
        },
        // A comma-separated list: LATCHKEY_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8
        "trusted_proxies" => Ok(toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
        _ => Ok(toml::Value::String(value.to_owned())),
    }
}

fn read_secret_file(name: &str, path: &Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
        name: name.to_owned(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    Ok(SecretString::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// Values given on the command line (already merged with their env var by clap).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub config: Option<PathBuf>,
    /// `--server-key-file`: the server key, kept outside the data dir.
    pub server_key_file: Option<PathBuf>,
}

impl Config {
    /// Loads defaults < file (from `--config` or `LATCHKEY_CONFIG`) < environment < flags.
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file_path = flags
            .config
            .clone()
            .or_else(|| env("LATCHKEY_CONFIG").map(PathBuf::from));
        let mut layers = Vec::new();
        if let Some(path) = file_path {
            layers.push(Layer::from_file(&path)?);
        }
        layers.push(Layer::from_env(env)?);
        let mut last = Layer {
            listen: flags.listen,
            data_dir: flags.data_dir.clone(),
            database_url: flags.database_url.clone(),
            ..Layer::default()
        };
        if let Some(file) = &flags.server_key_file {
            last.server_key = Some(read_secret_file("--server-key-file", file)?);
            last.server_key_origin = Some(file.clone());
        }
        layers.push(last);
        Self::from_layers(layers)
    }

    /// Applies layers over the defaults, later layers winning.
    pub fn from_layers(layers: Vec<Layer>) -> Result<Self, ConfigError> {
        let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8700));
        let mut data_dir = PathBuf::from("latchkey-data");
        let mut database_url = None;
        let mut public_url = None;
        let mut server_key = None;
        let mut server_key_file = None;
        let mut enrollment_code_ttl_secs = 24 * 3600;
        let mut admin_token_ttl_days = 90;
        let mut session_ttl_secs = 12 * 3600;
        let mut max_envelope_bytes = 64 * 1024;
        let mut max_body_bytes = 256 * 1024;
        let mut feed_poll_millis = 500;
        let mut auth_rate_per_minute = 30;
        let mut secure_cookies = true;
        let mut log = "info".to_owned();
        let mut proxy_timeout_secs = 30;
        let mut proxy_max_response_bytes = 4 * 1024 * 1024;
        let mut proxy_allow_http = false;
        let mut trusted_proxies = Vec::new();
        let mut allow_development_providers = false;
        let mut update_key_text: Option<String> = None;
        let mut max_artifact_bytes: usize = 256 * 1024 * 1024;
        let mut sso = crate::sso::SsoLayer::default();
        for l in layers {
            if let Some(layer) = l.sso {
                sso = sso.merge(layer);
            }
            if let Some(u) = l.updates {
                update_key_text = u.public_key.or(update_key_text);
                max_artifact_bytes = u.max_artifact_bytes.unwrap_or(max_artifact_bytes);
            }
            listen = l.listen.unwrap_or(listen);
            data_dir = l.data_dir.unwrap_or(data_dir);
            database_url = l.database_url.or(database_url);
            public_url = l.public_url.or(public_url);
            if l.server_key.is_some() {
                server_key_file = l.server_key_origin;
                server_key = l.server_key;
            }
            enrollment_code_ttl_secs = l
                .enrollment_code_ttl_secs
                .unwrap_or(enrollment_code_ttl_secs);
            admin_token_ttl_days = l.admin_token_ttl_days.unwrap_or(admin_token_ttl_days);
            session_ttl_secs = l.session_ttl_secs.unwrap_or(session_ttl_secs);
            max_envelope_bytes = l.max_envelope_bytes.unwrap_or(max_envelope_bytes);
            max_body_bytes = l.max_body_bytes.unwrap_or(max_body_bytes);
            feed_poll_millis = l.feed_poll_millis.unwrap_or(feed_poll_millis);
            auth_rate_per_minute = l.auth_rate_per_minute.unwrap_or(auth_rate_per_minute);
            secure_cookies = l.secure_cookies.unwrap_or(secure_cookies);
            log = l.log.unwrap_or(log);
            proxy_timeout_secs = l.proxy_timeout_secs.unwrap_or(proxy_timeout_secs);
            proxy_max_response_bytes = l
                .proxy_max_response_bytes
                .unwrap_or(proxy_max_response_bytes);
            proxy_allow_http = l.proxy_allow_http.unwrap_or(proxy_allow_http);
            trusted_proxies = l.trusted_proxies.unwrap_or(trusted_proxies);
            allow_development_providers = l
                .allow_development_providers
                .unwrap_or(allow_development_providers);
        }
        let trusted_proxies =
            TrustedProxies::parse(&trusted_proxies).map_err(|message| ConfigError::Invalid {
                name: "trusted_proxies".into(),
                message,
            })?;
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("latchkey.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                name: "database_url".into(),
                message: "use sqlite://PATH or postgres://USER@HOST/DB".into(),
            });
        }
        let public_url = public_url.map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "public_url".into(),
                message: "must start with https:// (or http:// for local use)".into(),
            });
        }
        if feed_poll_millis == 0 || max_envelope_bytes == 0 || max_body_bytes < max_envelope_bytes {
            return Err(ConfigError::Invalid {
                name: "limits".into(),
                message: "feed_poll_millis and max_envelope_bytes must be positive, and max_body_bytes at least max_envelope_bytes".into(),
            });
        }
        let public_key =
            match update_key_text.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(crate::updates::UpdateKey::parse(text).map_err(|e| {
                    ConfigError::Invalid {
                        name: "updates.public_key".into(),
                        message: e.to_string(),
                    }
                })?),
            };
        if max_artifact_bytes == 0 {
            return Err(ConfigError::Invalid {
                name: "updates.max_artifact_bytes".into(),
                message: "must be positive (the default is 268435456, 256 MiB)".into(),
            });
        }
        Ok(Self {
            listen,
            data_dir,
            database_url,
            public_url,
            server_key,
            server_key_file,
            enrollment_code_ttl_secs,
            admin_token_ttl_days,
            session_ttl_secs,
            max_envelope_bytes,
            max_body_bytes,
            feed_poll_millis,
            auth_rate_per_minute,
            secure_cookies,
            log,
            proxy_timeout_secs,
            proxy_max_response_bytes,
            proxy_allow_http,
            trusted_proxies,
            allow_development_providers,
            updates: UpdatesConfig {
                public_key,
                max_artifact_bytes,
            },
            sso: sso.finish()?,
        })
    }

    /// A configuration for tests: defaults over `data_dir`, listening on an ephemeral port.
    pub fn for_tests(data_dir: &Path, database_url: Option<String>) -> Result<Self, ConfigError> {
        Self::from_layers(vec![Layer {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(data_dir.to_owned()),
            database_url,
            secure_cookies: Some(false),
            allow_development_providers: Some(true),
            ..Layer::default()
        }])
    }
}

#[cfg(test)]
mod tests;
