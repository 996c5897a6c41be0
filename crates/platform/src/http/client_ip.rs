//! The client's address: the connection's peer, or, when the peer is a
//! configured proxy (`http.trusted_proxies`), the address `X-Forwarded-For`
//! names before the proxies. A client can put anything at the start of that
//! header, so it is read from the right, and only behind a trusted peer.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::{ConfigError, HttpConfig};

/// The client address of a request (a request extension), for rate limits
/// and audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Which peers may say who the client is.
#[derive(Debug, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    /// Proxies in front of the trusted ones whose addresses are not listed
    /// (CloudFront's edge servers before the ALB): hops skipped after them.
    hops: usize,
}

impl TrustedProxies {
    pub fn from_config(http: &HttpConfig) -> Result<Arc<TrustedProxies>, ConfigError> {
        Ok(Arc::new(TrustedProxies {
            nets: http.trusted_proxy_nets()?,
            hops: usize::from(http.forwarded_hops),
        }))
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.nets.is_empty() || !self.trusted(peer) {
            return peer;
        }
        let mut hops = self.hops;
        let mut client = peer;
        // Every X-Forwarded-For header, in order, as one list; right to left.
        let chain: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for entry in chain.iter().rev() {
            let Ok(ip) = entry.parse::<IpAddr>() else {
                // Garbage from here on is the client's own doing: the last
                // address a trusted hop vouched for is the answer.
                return client;
            };
            client = ip;
            if self.trusted(ip) {
                continue;
            }
            if hops == 0 {
                return ip;
            }
            hops -= 1;
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str], hops: u8) -> Arc<TrustedProxies> {
        let http = HttpConfig {
            trusted_proxies: nets.iter().map(|s| s.to_string()).collect(),
            forwarded_hops: hops,
            ..HttpConfig::default()
        };
        TrustedProxies::from_config(&http).unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let none = proxies(&[], 0);
        assert_eq!(none.client(ip("10.0.1.5"), &xff("1.2.3.4")), ip("10.0.1.5"));
        let vpc = proxies(&["10.0.0.0/16"], 0);
        // An untrusted peer claiming to forward is the client itself.
        assert_eq!(vpc.client(ip("9.9.9.9"), &xff("1.2.3.4")), ip("9.9.9.9"));
        assert_eq!(vpc.client(ip("10.0.1.5"), &xff("1.2.3.4")), ip("1.2.3.4"));
    }

    #[test]
    fn a_spoofed_start_of_the_header_is_ignored() {
        // CloudFront appends the viewer, the ALB appends the edge server.
        let aws = proxies(&["10.0.0.0/16"], 1);
        let h = xff("6.6.6.6, 203.0.113.7, 130.176.1.1");
        assert_eq!(aws.client(ip("10.0.2.9"), &h), ip("203.0.113.7"));
        // Without the CloudFront hop configured, the edge server would be the client.
        let alb_only = proxies(&["10.0.0.0/16"], 0);
        assert_eq!(alb_only.client(ip("10.0.2.9"), &h), ip("130.176.1.1"));
        // Garbage to the left of a trusted hop's address stops the walk there.
        let h = xff("not-an-ip, 203.0.113.7");
        assert_eq!(alb_only.client(ip("10.0.2.9"), &h), ip("203.0.113.7"));
        let h = xff("203.0.113.7, garbage");
        assert_eq!(alb_only.client(ip("10.0.2.9"), &h), ip("10.0.2.9"));
    }

    #[test]
    fn bad_ranges_are_one_clear_error() {
        let http = HttpConfig {
            trusted_proxies: vec!["10.0.0.0/33".into()],
            ..HttpConfig::default()
        };
        let err = TrustedProxies::from_config(&http).unwrap_err().to_string();
        assert!(err.contains("http.trusted_proxies[0]"), "{err}");
    }
}
