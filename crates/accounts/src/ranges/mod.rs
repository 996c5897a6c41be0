//! The IP ranges of companies (IPv4 and IPv6, a CIDR block or a start–end
//! pair): what lets delivery say which company an impression reached, and
//! what an audience sends TTD. Loaded from CSV (`domain` and either `cidr`
//! or `start_ip` and `end_ip`); a file's ranges replace the stored ranges of
//! the companies it names. A malformed line, a company not in the universe,
//! or a range overlapping another (in the file or stored for another
//! company) is skipped with its line number and reason: no address ever
//! belongs to two companies.

pub mod api;
pub mod service;
pub mod store;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::companies::SkippedLine;
use crate::companies::import::{FileError, column, reader, rows, text};
use crate::domain::registrable;

/// An address in the one ordering both families share: IPv4 as its
/// IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), 16 bytes, compared as bytes.
pub type Key = [u8; 16];

pub fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address a key stands for (IPv4 when it is IPv4-mapped).
pub fn address(k: &Key) -> IpAddr {
    let v6 = Ipv6Addr::from(*k);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A company's range of addresses, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    pub first: Key,
    pub last: Key,
}

impl Range {
    /// A range from a CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a start
    /// and an end of the same family, start first.
    pub fn parse(
        cidr: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Range, String> {
        match (cidr, start, end) {
            (Some(c), None, None) => {
                let net: ipnet::IpNet =
                    c.parse().map_err(|_| format!("{c} is not a CIDR block"))?;
                Ok(Range {
                    first: key(net.network()),
                    last: key(net.broadcast()),
                })
            }
            (None, Some(s), Some(e)) => {
                let parse = |v: &str| {
                    v.parse::<IpAddr>()
                        .map_err(|_| format!("{v} is not an IP address"))
                };
                let (s_ip, e_ip) = (parse(s)?, parse(e)?);
                if s_ip.is_ipv4() != e_ip.is_ipv4() {
                    return Err(format!("{s} and {e} are not of the same family"));
                }
                let range = Range {
                    first: key(s_ip),
                    last: key(e_ip),
                };
                if range.first > range.last {
                    return Err(format!("{s} comes after {e}"));
                }
                Ok(range)
            }
            _ => Err("give either cidr, or start_ip and end_ip".into()),
        }
    }
}

impl Range {
    /// The fewest CIDR blocks that cover exactly this range (one when it is
    /// a block).
    pub fn cidrs(&self) -> Vec<ipnet::IpNet> {
        match (address(&self.first), address(&self.last)) {
            (IpAddr::V4(a), IpAddr::V4(b)) => ipnet::Ipv4Subnets::new(a, b, 0)
                .map(ipnet::IpNet::V4)
                .collect(),
            (IpAddr::V6(a), IpAddr::V6(b)) => ipnet::Ipv6Subnets::new(a, b, 0)
                .map(ipnet::IpNet::V6)
                .collect(),
            // Both ends of a stored range are of one family (checked on import).
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for Range {
    /// A CIDR block when the range is exactly one (`192.0.2.0/24`), else
    /// `first-last`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cidrs().as_slice() {
            [net] => write!(f, "{net}"),
            _ => write!(f, "{}-{}", address(&self.first), address(&self.last)),
        }
    }
}

/// A file's ranges by company, and the lines skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    pub ranges: Vec<(u64, String, Range)>,
    pub skipped: Vec<SkippedLine>,
}

/// Read an IP-range file (malformed lines skipped; overlaps are checked by
/// [`without_overlaps`], which needs the stored ranges).
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    let text = text(bytes)?;
    let (mut reader, headers) = reader(&text)?;
    let at = |names: &[&str]| column(&headers, names);
    let domain_at = at(&["domain", "website", "url"]);
    let (cidr_at, start_at, end_at) = (at(&["cidr"]), at(&["start_ip"]), at(&["end_ip"]));
    let Some(domain_at) =
        domain_at.filter(|_| cidr_at.is_some() || (start_at.is_some() && end_at.is_some()))
    else {
        return Err(FileError {
            line: 1,
            reason: "the header needs a domain column and either cidr or start_ip and end_ip"
                .into(),
        });
    };
    let mut parsed = Parsed::default();
    for row in rows(&mut reader, &text) {
        let (line, record) = row?;
        let field = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let domain = match registrable(field(Some(domain_at)).unwrap_or_default()) {
            Ok(d) => d,
            Err(why) => {
                parsed.skipped.push(SkippedLine {
                    line,
                    reason: format!("domain: {why}"),
                });
                continue;
            }
        };
        match Range::parse(field(cidr_at), field(start_at), field(end_at)) {
            Ok(r) => parsed.ranges.push((line, domain, r)),
            Err(reason) => parsed.skipped.push(SkippedLine { line, reason }),
        }
    }
    Ok(parsed)
}

/// Keep the ranges that overlap nothing: not an earlier line of the file,
/// nor a stored range of a company the file does not name (the named ones'
/// stored ranges are being replaced). The others are skipped, saying what
/// they overlap.
pub fn without_overlaps(parsed: Parsed, stored_elsewhere: &[(String, Range)]) -> Parsed {
    // Accepted ranges, disjoint, by first address: (last, what it is).
    let mut taken: BTreeMap<Key, (Key, String)> = stored_elsewhere
        .iter()
        .map(|(d, r)| (r.first, (r.last, format!("a stored range of {d}"))))
        .collect();
    let mut skipped = parsed.skipped;
    let mut kept = Vec::new();
    for (line, domain, r) in parsed.ranges {
        // Disjoint ranges: only the neighbours on either side can overlap.
        let before = taken
            .range(..=r.first)
            .next_back()
            .filter(|(_, (last, _))| *last >= r.first);
        let after = taken
            .range(r.first..)
            .next()
            .filter(|(first, _)| **first <= r.last);
        if let Some((_, (_, what))) = before.or(after) {
            skipped.push(SkippedLine {
                line,
                reason: format!(
                    "{} – {} overlaps {what}",
                    address(&r.first),
                    address(&r.last)
                ),
            });
            continue;
        }
        taken.insert(r.first, (r.last, format!("line {line}")));
        kept.push((line, domain, r));
    }
    skipped.sort_by_key(|s| s.line);
    Parsed {
        ranges: kept,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Key {
        key(s.parse().unwrap())
    }

    #[test]
    fn ranges_are_cidr_blocks_or_start_end_pairs_of_either_family() {
        let r = Range::parse(Some("10.1.0.0/16"), None, None).unwrap();
        assert_eq!((r.first, r.last), (ip("10.1.0.0"), ip("10.1.255.255")));
        let r = Range::parse(None, Some("2001:db8::1"), Some("2001:db8::ff")).unwrap();
        assert_eq!(address(&r.last).to_string(), "2001:db8::ff");
        assert_eq!(address(&ip("192.0.2.1")).to_string(), "192.0.2.1");
        for (c, s, e, why) in [
            (
                Some("10.0.0.0/33"),
                None,
                None,
                "10.0.0.0/33 is not a CIDR block",
            ),
            (
                None,
                Some("10.0.0.9"),
                Some("10.0.0.1"),
                "10.0.0.9 comes after 10.0.0.1",
            ),
            (
                None,
                Some("10.0.0.1"),
                Some("2001:db8::1"),
                "10.0.0.1 and 2001:db8::1 are not of the same family",
            ),
            (
                None,
                Some("10.0.0.300"),
                Some("10.0.1.1"),
                "10.0.0.300 is not an IP address",
            ),
            (None, None, None, "give either cidr, or start_ip and end_ip"),
            (
                Some("10.0.0.0/8"),
                Some("10.0.0.1"),
                None,
                "give either cidr, or start_ip and end_ip",
            ),
        ] {
            assert_eq!(Range::parse(c, s, e), Err(why.to_string()));
        }
    }

    #[test]
    fn no_address_belongs_to_two_companies() {
        let file = b"domain,cidr,start_ip,end_ip\n\
            acme.example,10.0.0.0/24,,\n\
            globex.example,,10.0.0.200,10.0.1.5\n\
            initech.example,192.0.2.0/28,,\n\
            acme.example,,2001:db8::,2001:db8::ffff\n\
            hooli.example,,10.0.0.0,10.0.0.0\n\
            bad.example,,10.9.0.0,\n\
            umbrella.example,172.16.0.0/12,,\n";
        let stored = [(
            "stark.example".to_string(),
            Range::parse(Some("172.20.0.0/16"), None, None).unwrap(),
        )];
        let p = without_overlaps(parse(file).unwrap(), &stored);
        let kept: Vec<(u64, &str)> = p.ranges.iter().map(|(l, d, _)| (*l, d.as_str())).collect();
        assert_eq!(
            kept,
            [
                (2, "acme.example"),
                (4, "initech.example"),
                (5, "acme.example")
            ]
        );
        let skipped: Vec<(u64, &str)> = p
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                (3, "10.0.0.200 – 10.0.1.5 overlaps line 2"),
                (6, "10.0.0.0 – 10.0.0.0 overlaps line 2"),
                (7, "give either cidr, or start_ip and end_ip"),
                (
                    8,
                    "172.16.0.0 – 172.31.255.255 overlaps a stored range of stark.example"
                ),
            ]
        );
    }
}
