//! `latchkey git-credential`: a Git credential helper (the protocol of
//! git-credential(1)). `get` answers for the Git hosts of connected
//! integrations with a fresh token; `store` and `erase` keep nothing. Git
//! treats a helper that prints nothing as "no answer" and asks the next one,
//! so every failure is explained on stderr and answered with nothing.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use latchkey_catalog::Catalog;
use latchkey_device::{Device, Session, SessionError};

use crate::api_command::LinkPrintingBrowser;

/// What Git asked about: `protocol`, `host` (and `path`, ignored).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub protocol: Option<String>,
    pub host: Option<String>,
}

/// Reads Git's `key=value` lines up to a blank line or the end. Values Git
/// hands over (a password on `store`) are dropped unread.
pub fn read_query(input: impl BufRead) -> Query {
    let mut query = Query::default();
    for line in input.lines() {
        let Ok(line) = line else { break };
        if line.is_empty() {
            break;
        }
        match line.split_once('=') {
            Some(("protocol", v)) => query.protocol = Some(v.to_owned()),
            Some(("host", v)) => query.host = Some(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    query
}

/// Whether any catalog entry declares `host` as a Git host (no server call).
fn declared(host: &str) -> bool {
    Catalog::builtin().is_ok_and(|c| {
        c.providers().iter().any(|p| {
            p.api
                .as_ref()
                .is_some_and(|a| a.git_hosts.iter().any(|h| h == host))
        })
    })
}

pub async fn run(dir: &Path, operation: &str) -> Result<(), SessionError> {
    let query = read_query(std::io::stdin().lock());
    match operation {
        "get" => {}
        "erase" => {
            eprintln!(
                "latchkey: nothing to erase; Latchkey keeps no Git password. To disconnect, run `latchkey revoke <integration>`."
            );
            return Ok(());
        }
        _ => return Ok(()),
    }
    let (Some("https"), Some(host)) = (query.protocol.as_deref(), query.host.as_deref()) else {
        return Ok(());
    };
    // A port (host:8443) is part of the host Git names; catalog hosts have none.
    if !declared(host) {
        return Ok(());
    }
    let answer = async {
        let device = Device::load(dir)?;
        let session = Session::open(&device, dir, Arc::new(LinkPrintingBrowser)).await?;
        session.git_credential(host).await
    }
    .await;
    match answer {
        Ok(Some((username, password))) => {
            let text = zeroize::Zeroizing::new(format!(
                "protocol=https\nhost={host}\nusername={username}\npassword={}\n",
                password.expose()
            ));
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Ok(None) => {
            eprintln!(
                "latchkey: no connected integration answers for {host}; run `latchkey list`."
            );
        }
        Err(e) => eprintln!("latchkey: {e} [{}]", e.code()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gits_query_and_ignores_what_it_must_not_keep() {
        let q = read_query(
            &b"protocol=https\nhost=GitHub.com\npath=o/r.git\npassword=hunter2\n\nprotocol=ignored\n"[..],
        );
        assert_eq!(q.protocol.as_deref(), Some("https"));
        assert_eq!(q.host.as_deref(), Some("github.com"));
    }

    #[test]
    fn only_catalog_git_hosts_are_answered() {
        assert!(declared("github.com"));
        assert!(!declared("gitlab.com"));
        assert!(!declared("api.github.com"));
    }
}
