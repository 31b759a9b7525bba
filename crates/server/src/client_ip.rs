//! The caller's IP address, for rate limiting. By default the direct peer:
//! `X-Forwarded-For` is trivially forged, so it is believed only from the
//! proxies an operator lists in `trusted_proxies` (addresses or CIDR ranges).
//! Then the client is the rightmost address in the header that is not a
//! trusted proxy — the leftmost entries are whatever the client sent.

//!
//! This module only parses and resolves; the request extractor that applies it is
//! [`crate::extract::ClientIp`] (so the configuration can use this without a cycle).

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Trusted reverse proxies (load balancers) in front of this server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.5`, `10.0.0.0/8`, `fd00::/8`; says which entry is wrong.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            let bad =
                || format!("{entry:?} is not an IP address or a CIDR range such as 10.0.0.0/8");
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (
                    a.parse::<IpAddr>().map_err(|_| bad())?,
                    p.parse::<u8>().map_err(|_| bad())?,
                ),
                None => {
                    let a = entry.parse::<IpAddr>().map_err(|_| bad())?;
                    (a, if a.is_ipv4() { 32 } else { 128 })
                }
            };
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad());
            }
            ranges.push((addr, prefix));
        }
        Ok(Self(ranges))
    }

    /// True when no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, prefix)| match (canonical(net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    masked(u32::from(n).into(), prefix, 32)
                        == masked(u32::from(a).into(), prefix, 32)
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    masked(u128::from(n), prefix, 128) == masked(u128::from(a), prefix, 128)
                }
                _ => false,
            })
    }

    /// The client behind `peer`, given the request's headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        // Every X-Forwarded-For header, in order, as one list.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // A garbled hop: stop at the last address a trusted proxy vouched for.
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn masked(bits: u128, prefix: u8, width: u32) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u32::from(prefix).min(width);
    let shift = width - keep;
    (bits >> shift) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), &xff(&["1.2.3.4"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let lb = proxies(&["10.0.0.0/8", "fd00::/8"]);
        // The client forged "6.6.6.6"; the load balancer appended the real address.
        let headers = xff(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(lb.client_ip(ip("10.9.9.9"), &headers), ip("198.51.100.7"));
        // A peer that is not a trusted proxy is the client, whatever it claims.
        assert_eq!(
            lb.client_ip(ip("198.51.100.8"), &headers),
            ip("198.51.100.8")
        );
        // IPv6 and IPv4-mapped peers.
        assert_eq!(
            lb.client_ip(ip("fd00::1"), &xff(&["2001:db8::5"])),
            ip("2001:db8::5")
        );
        assert_eq!(
            lb.client_ip(ip("::ffff:10.0.0.1"), &xff(&["192.0.2.1"])),
            ip("192.0.2.1")
        );
        // No header: the proxy itself.
        assert_eq!(
            lb.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // A garbled hop stops the walk at the last vouched-for address.
        assert_eq!(
            lb.client_ip(ip("10.0.0.1"), &xff(&["1.1.1.1, junk, 10.0.0.2"])),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in ["10.0.0.0/33", "not-an-ip", "10.0.0.0/x", "::/129"] {
            let err = TrustedProxies::parse(&[bad.to_owned()]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert!(proxies(&["192.168.1.1", "0.0.0.0/0"]).contains(ip("8.8.8.8")));
    }
}
