//! IP address → company. The universe's ranges (IPv4 and IPv6 in one
//! ordering, IPv4 as its IPv4-mapped IPv6 form, as `accounts::ranges` keeps
//! them; no address belongs to two companies) sorted by their first
//! address, and an address found by binary search: built once per version
//! of the range set and shared by every file read meanwhile.

use std::net::IpAddr;

/// Ranges sorted by their first address, as three columns.
#[derive(Debug, Clone, Default)]
pub struct Ranges {
    first: Vec<u128>,
    last: Vec<u128>,
    company: Vec<u32>,
}

/// Two ranges share addresses: the set cannot say whose they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ranges of companies {0} and {1} overlap at {2}")]
pub struct Overlap(pub u32, pub u32, pub IpAddr);

/// An address as a number in the shared ordering.
pub fn number(ip: IpAddr) -> u128 {
    u128::from_be_bytes(accounts::ranges::key(ip))
}

impl Ranges {
    /// The set of `(first, last, company)` ranges (both ends included, any
    /// order); an error if two overlap.
    pub fn new(mut ranges: Vec<(u128, u128, u32)>) -> Result<Ranges, Overlap> {
        ranges.retain(|(first, last, _)| first <= last);
        ranges.sort_unstable_by_key(|(first, _, _)| *first);
        for pair in ranges.windows(2) {
            if pair[1].0 <= pair[0].1 {
                let at = accounts::ranges::address(&pair[1].0.to_be_bytes());
                return Err(Overlap(pair[0].2, pair[1].2, at));
            }
        }
        Ok(Ranges {
            first: ranges.iter().map(|r| r.0).collect(),
            last: ranges.iter().map(|r| r.1).collect(),
            company: ranges.iter().map(|r| r.2).collect(),
        })
    }

    /// How many ranges the set holds.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    /// The company whose range holds `ip`.
    pub fn company(&self, ip: IpAddr) -> Option<u32> {
        let n = number(ip);
        // Ranges starting at or before the address: the last of them is the
        // only one that can hold it.
        let i = self.first.partition_point(|f| *f <= n).checked_sub(1)?;
        (n <= self.last[i]).then(|| self.company[i])
    }

    /// As [`Ranges::company`], for an address as the feed writes it
    /// (`203.0.113.7`, `2001:db8::1`); `None` for text that is no address.
    pub fn company_of(&self, text: &[u8]) -> Option<u32> {
        let ip: IpAddr = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
        self.company(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> u128 {
        number(s.parse().unwrap())
    }

    fn set() -> Ranges {
        Ranges::new(vec![
            (v4("10.0.1.0"), v4("10.0.1.255"), 2),
            (v4("10.0.0.0"), v4("10.0.0.255"), 1),
            (
                number("2001:db8::".parse().unwrap()),
                number("2001:db8::ffff:ffff:ffff:ffff".parse().unwrap()),
                3,
            ),
            (v4("192.0.2.7"), v4("192.0.2.7"), 4),
        ])
        .unwrap()
    }

    #[test]
    fn an_address_is_its_ranges_company() {
        let r = set();
        for (ip, want) in [
            ("10.0.0.0", Some(1)),
            ("10.0.0.255", Some(1)),
            ("10.0.1.0", Some(2)),
            ("10.0.1.128", Some(2)),
            ("10.0.2.0", None),
            ("9.255.255.255", None),
            ("192.0.2.7", Some(4)),
            ("192.0.2.8", None),
            ("2001:db8::1", Some(3)),
            ("2001:db8:0:0:ffff:ffff:ffff:ffff", Some(3)),
            ("2001:db8:0:1::", None),
            // IPv4 written as IPv4-mapped IPv6 is the same address.
            ("::ffff:10.0.1.9", Some(2)),
            ("::", None),
        ] {
            assert_eq!(r.company(ip.parse().unwrap()), want, "{ip}");
            assert_eq!(r.company_of(ip.as_bytes()), want, "{ip}");
        }
        assert_eq!(r.company_of(b"not an address"), None);
        assert_eq!(r.company_of(b""), None);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let e = Ranges::new(vec![
            (v4("10.0.0.0"), v4("10.0.0.255"), 1),
            (v4("10.0.0.128"), v4("10.0.1.0"), 2),
        ])
        .unwrap_err();
        assert_eq!(e, Overlap(1, 2, "10.0.0.128".parse().unwrap()));
        assert!(
            Ranges::new(vec![(5, 9, 1), (9, 12, 2)]).is_err(),
            "a shared end"
        );
        assert!(Ranges::new(vec![(5, 9, 1), (10, 12, 2)]).is_ok());
    }

    proptest! {
        /// Binary search finds what a scan of every range finds.
        #[test]
        fn the_search_agrees_with_a_scan(
            starts in proptest::collection::btree_set(0u128..10_000, 1..60),
            widths in proptest::collection::vec(0u128..40, 60),
            probes in proptest::collection::vec(0u128..10_100, 50),
        ) {
            // Non-overlapping ranges: each ends before the next starts.
            let starts: Vec<u128> = starts.into_iter().collect();
            let ranges: Vec<(u128, u128, u32)> = starts
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let next = starts.get(i + 1).copied().unwrap_or(u128::MAX);
                    (*s, (*s + widths[i]).min(next - 1), i as u32)
                })
                .collect();
            let set = Ranges::new(ranges.iter().rev().copied().collect()).unwrap();
            for p in probes {
                let ip = accounts::ranges::address(&p.to_be_bytes());
                let scan = ranges.iter().find(|(f, l, _)| *f <= p && p <= *l).map(|r| r.2);
                prop_assert_eq!(set.company(ip), scan, "{}", p);
            }
        }
    }
}
