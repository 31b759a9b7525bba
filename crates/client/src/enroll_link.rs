//! `latchkey://enroll?server=…&code=…` links and server origins.

use latchkey_secret::SecretString;
use url::Url;

use crate::ClientError;

/// A parsed enrollment link.
#[derive(Debug)]
pub struct EnrollLink {
    /// The server origin.
    pub server: String,
    /// The one-time code.
    pub code: SecretString,
}

impl EnrollLink {
    /// Parses a `latchkey://enroll` link, or a bare code when `server` is given.
    pub fn parse(input: &str, server: Option<&str>) -> Result<EnrollLink, ClientError> {
        let input = input.trim();
        if input.starts_with("latchkey:") {
            let url = Url::parse(input).map_err(|_| ClientError::InvalidLink {
                reason: "it is not a URL".to_owned(),
            })?;
            let action = url
                .host_str()
                .unwrap_or_else(|| url.path().trim_matches('/'));
            if action != "enroll" {
                return Err(ClientError::InvalidLink {
                    reason: "it is not an enrollment link".to_owned(),
                });
            }
            let mut link_server = None;
            let mut code = None;
            for (k, v) in url.query_pairs() {
                match k.as_ref() {
                    "server" => link_server = Some(v.into_owned()),
                    "code" => code = Some(v.into_owned()),
                    _ => {}
                }
            }
            let link_server =
                server
                    .map(str::to_owned)
                    .or(link_server)
                    .ok_or(ClientError::InvalidLink {
                        reason: "it names no server".to_owned(),
                    })?;
            let code = code
                .filter(|c| valid_code(c))
                .ok_or(ClientError::InvalidLink {
                    reason: "its code is missing or malformed".to_owned(),
                })?;
            let origin = checked_origin(&link_server)?;
            return Ok(EnrollLink {
                server: origin.as_str().trim_end_matches('/').to_owned(),
                code: SecretString::new(code),
            });
        }
        let server = server.ok_or(ClientError::InvalidLink {
            reason: "a bare code needs --server".to_owned(),
        })?;
        if !valid_code(input) {
            return Err(ClientError::InvalidLink {
                reason: "the code is malformed".to_owned(),
            });
        }
        Ok(EnrollLink {
            server: checked_origin(server)?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            code: SecretString::new(input.to_owned()),
        })
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 256
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Accepts `https://host[:port]`, or `http://` to a loopback IP literal
/// (a server on this machine). Device tokens never travel in clear text.
pub(crate) fn checked_origin(text: &str) -> Result<Url, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidServer {
        reason: reason.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|_| invalid("it is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(
                "it must use https (plain http is only allowed to 127.0.0.1)",
            ));
        }
        _ => return Err(invalid("it must start with https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain a user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must be just scheme://host[:port]"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links_and_bare_codes() {
        let link = EnrollLink::parse(
            "latchkey://enroll?server=https%3A%2F%2Flatchkey.acme.com&code=lke_abc123",
            None,
        )
        .unwrap();
        assert_eq!(link.server, "https://latchkey.acme.com");
        assert_eq!(link.code.expose(), "lke_abc123");
        let local = EnrollLink::parse(
            "latchkey://enroll?server=http://127.0.0.1:8700&code=x-1",
            None,
        )
        .unwrap();
        assert_eq!(local.server, "http://127.0.0.1:8700");
        let bare = EnrollLink::parse("lke_abc", Some("https://latchkey.acme.com")).unwrap();
        assert_eq!(bare.code.expose(), "lke_abc");
    }

    #[test]
    fn refuses_unsafe_servers_and_bad_links() {
        for bad in [
            "latchkey://enroll?server=http://latchkey.acme.com&code=a",
            "latchkey://enroll?server=https://user:pw@acme.com&code=a",
            "latchkey://enroll?server=https://acme.com/path&code=a",
            "latchkey://enroll?server=https://acme.com",
            "latchkey://enroll?server=https://acme.com&code=a%20b",
            "latchkey://other?server=https://acme.com&code=a",
            "latchkey://enroll?code=a",
        ] {
            let err = EnrollLink::parse(bad, None).unwrap_err();
            assert!(
                matches!(err.code(), "client.invalid_link" | "client.invalid_server"),
                "{bad}: {err}"
            );
        }
        assert!(
            EnrollLink::parse("abc", None).is_err(),
            "a bare code needs a server"
        );
    }

    #[test]
    fn the_code_never_shows_in_debug() {
        let link = EnrollLink::parse(
            "latchkey://enroll?server=https://a.example&code=SECRETCODE",
            None,
        )
        .unwrap();
        assert!(!format!("{link:?}").contains("SECRETCODE"));
    }
}
