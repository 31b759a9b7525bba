//! Environments (production, sandbox, a custom host) and the checks on every value that
//! ends up in an endpoint: host names, DNS labels, path segments, origins and final URLs.
//!
//! These checks are the catalog's security boundary: a custom host typed by an admin or a
//! user becomes the place the browser is sent to log in and the place tokens are posted to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{CatalogError, shorten};

/// Where an integration's authorization server lives.
///
/// Which environments a provider supports is data (`environments` in its file); what each
/// one means for the endpoints is the provider's placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Environment {
    /// The provider's normal, public service.
    Production,
    /// The provider's test service (Salesforce `test.salesforce.com`).
    Sandbox,
    /// A host of the customer's own: a Salesforce My Domain, a ServiceNow instance.
    /// Validated by [`validate_host`] when resolved.
    Custom(String),
}

impl Environment {
    /// The kind, without the custom host.
    pub fn kind(&self) -> EnvironmentKind {
        match self {
            Self::Production => EnvironmentKind::Production,
            Self::Sandbox => EnvironmentKind::Sandbox,
            Self::Custom(_) => EnvironmentKind::Custom,
        }
    }

    /// Parses what a user types after `--env`: `production`, `sandbox`, or a host name.
    /// The host is validated here, so the CLI fails before opening any browser.
    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        match value {
            "production" => Ok(Self::Production),
            "sandbox" => Ok(Self::Sandbox),
            other => Ok(Self::Custom(validate_host(other)?)),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Production => f.write_str("production"),
            Self::Sandbox => f.write_str("sandbox"),
            Self::Custom(host) => f.write_str(host),
        }
    }
}

impl FromStr for Environment {
    type Err = CatalogError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Stored and sent as the text the CLI takes: `production`, `sandbox` or the host.
impl Serialize for Environment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read back through [`Environment::parse`], so a stored custom host is validated again.
impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An environment without its host, as written in data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentKind {
    /// See [`Environment::Production`].
    Production,
    /// See [`Environment::Sandbox`].
    Sandbox,
    /// See [`Environment::Custom`].
    Custom,
}

impl EnvironmentKind {
    /// The name used in data files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
            Self::Custom => "custom",
        }
    }
}

impl fmt::Display for EnvironmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;
/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

fn host_error(value: &str, reason: &str) -> CatalogError {
    CatalogError::InvalidHost {
        value: shorten(value),
        reason: reason.to_owned(),
    }
}

/// Validates a custom host and returns it lower-cased.
///
/// Accepts a DNS name with at least two labels (`acme.my.salesforce.com`), or a loopback IP
/// literal with an optional port (`127.0.0.1:8443`, `[::1]:8443`) so that local test servers
/// work. Refuses a scheme, path, query, user info, a port on a public name, any IP literal
/// off loopback, the name `localhost` (it may resolve off the machine; RFC 8252 §8.3), and
/// anything that is not plain ASCII (no look-alike Unicode hosts).
pub fn validate_host(value: &str) -> Result<String, CatalogError> {
    if value.is_empty() {
        return Err(host_error(value, "it is empty"));
    }
    if value.len() > MAX_HOST_LEN {
        return Err(host_error(value, "it is longer than 253 characters"));
    }
    if value.contains("://") {
        return Err(host_error(value, "it has a scheme"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '?' | '#' | '@' | '%'))
    {
        let reason = match c {
            '@' => "it has user info (@)".to_owned(),
            '/' | '\\' => "it has a path".to_owned(),
            other => format!("it contains {other:?}"),
        };
        return Err(host_error(value, &reason));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(host_error(
            value,
            "it contains spaces or characters other than ASCII letters, digits, dots and hyphens",
        ));
    }

    // Loopback literals, with or without a port.
    if let Some(host) = loopback_with_port(value) {
        return Ok(host);
    }
    if value.starts_with('[') || value.parse::<IpAddr>().is_ok() {
        return Err(host_error(
            value,
            "IP addresses are accepted only for loopback (127.0.0.0/8, ::1)",
        ));
    }
    if value.contains(':') {
        return Err(host_error(
            value,
            "a port is accepted only on loopback addresses",
        ));
    }

    let host = value.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(host_error(
            value,
            "the name localhost is refused; use 127.0.0.1 for a local server",
        ));
    }
    if host.ends_with('.') {
        return Err(host_error(value, "it ends with a dot"));
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err(host_error(
            value,
            "it is a single name; give the full host, such as acme.my.salesforce.com",
        ));
    }
    for label in &labels {
        check_label(label).map_err(|reason| host_error(value, &reason))?;
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(host_error(value, "its last label is numeric"));
    }
    Ok(host)
}

/// `127.x.y.z[:port]` or `[::1][:port]`, normalised; `None` if the value is not one.
fn loopback_with_port(value: &str) -> Option<String> {
    let (addr, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        if !ip.is_loopback() {
            return None;
        }
        (format!("[{ip}]"), after)
    } else {
        let (ip_part, after) = match value.split_once(':') {
            Some((ip, port)) => (ip, Some(port)),
            None => (value, None),
        };
        let ip: Ipv4Addr = ip_part.parse().ok()?;
        if !ip.is_loopback() {
            return None;
        }
        (
            ip.to_string(),
            after.map_or("", |_| &value[ip_part.len()..]),
        )
    };
    if port.is_empty() {
        return Some(addr);
    }
    let digits = port.strip_prefix(':')?;
    let port: u16 = digits.parse().ok().filter(|p| *p != 0)?;
    if digits.starts_with('0') {
        return None;
    }
    Some(format!("{addr}:{port}"))
}

/// One DNS label: 1 to 63 of `a-z 0-9 -`, not starting or ending with `-`.
/// Expects lower case; returns the reason on failure.
pub(crate) fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("it has an empty label (two dots in a row, or a leading dot)".to_owned());
    }
    if label.len() > MAX_LABEL_LEN {
        return Err("a label is longer than 63 characters".to_owned());
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "label {label:?} may hold only letters, digits and hyphens"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label {label:?} starts or ends with a hyphen"));
    }
    Ok(())
}

/// A path segment such as a Microsoft tenant (`organizations`, `contoso.onmicrosoft.com`,
/// a GUID): 1 to 128 of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
pub(crate) fn check_segment(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 128 {
        return Err("it must be 1 to 128 characters".to_owned());
    }
    if value == "." || value == ".." {
        return Err("it must not be . or ..".to_owned());
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("it may hold only letters, digits, dots, underscores and hyphens".to_owned());
    }
    Ok(())
}

/// An origin, `scheme://host[:port]` with no path, such as the issuer of a local test
/// server. `http` only on loopback; returns the origin without a trailing slash.
pub(crate) fn check_origin(value: &str) -> Result<String, String> {
    let url = Url::parse(value).map_err(|e| format!("it is not a URL ({e})"))?;
    let trimmed = value.strip_suffix('/').unwrap_or(value);
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("it must be only scheme://host[:port], without a path".to_owned());
    }
    check_url_security(&url)?;
    // Url normalises (lower-cases the host, drops default ports); insist the value was
    // already normal so what is shown equals what is used.
    let normal = url.as_str().trim_end_matches('/');
    if normal != trimmed {
        return Err(format!("write it as {normal}"));
    }
    Ok(normal.to_owned())
}

/// Whether the host of `url` is a loopback IP literal (127.0.0.0/8 or ::1).
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// The transport rules for any endpoint: `https`, or `http` to a loopback IP literal;
/// never the name `localhost`; no user info; a host present.
pub fn check_url_security(url: &Url) -> Result<(), String> {
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(_) => String::new(),
        None => return Err("it has no host".to_owned()),
    };
    if host == "localhost" || host.ends_with(".localhost") {
        return Err("the name localhost is refused; use 127.0.0.1".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it has user info".to_owned());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_url(url) => Ok(()),
        "http" => {
            Err("plain http is allowed only to loopback addresses (127.0.0.0/8, ::1)".to_owned())
        }
        other => Err(format!("scheme {other} is not https")),
    }
}
