//! Deterministic synthetic data for benchmarks and demos: a company
//! universe, its IP ranges and an account list matched against it, each a
//! function of a count and a seed (the same arguments write the same bytes
//! on every machine). Domains are under `.example`, addresses in
//! 11.0.0.0/8 and 2001:db8::/32 (documentation and unannounced space), so
//! nothing generated names a real company.

use std::fmt::Write;

use crate::companies::SizeBand;

/// SplitMix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SYLLABLES: &[&str] = &[
    "ac", "al", "am", "an", "ar", "ba", "be", "bri", "ca", "cor", "da", "del", "dy", "el", "en",
    "fa", "fi", "ga", "gen", "ha", "in", "ja", "ka", "ki", "la", "lo", "lu", "ma", "mi", "mo",
    "na", "ne", "no", "nu", "o", "pa", "pi", "qu", "ra", "ri", "ro", "sa", "se", "si", "so", "ta",
    "te", "ti", "to", "tri", "u", "va", "ve", "vi", "wa", "xe", "ya", "ze", "zo", "zu",
];
const WORDS: &[&str] = &[
    "Systems",
    "Labs",
    "Logistics",
    "Health",
    "Capital",
    "Foods",
    "Energy",
    "Networks",
    "Media",
    "Robotics",
    "Analytics",
    "Partners",
    "Industries",
    "Software",
    "Bank",
    "Motors",
    "Pharma",
    "Retail",
    "Cloud",
    "Security",
];
const LEGAL: &[&str] = &[
    "Inc.", "LLC", "Ltd", "GmbH", "S.A.", "plc", "Corp.", "BV", "AG", "Pty Ltd", "",
];
pub const INDUSTRIES: &[&str] = &[
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Media",
    "Energy",
    "Logistics",
    "Telecommunications",
    "Government",
    "Insurance",
    "Hospitality",
    "Construction",
    "Agriculture",
    "Automotive",
    "Pharmaceuticals",
    "Real Estate",
    "Legal Services",
    "Consulting",
];
pub const COUNTRIES: &[&str] = &[
    "United States",
    "United Kingdom",
    "Germany",
    "France",
    "Canada",
    "Australia",
    "Netherlands",
    "Sweden",
    "Spain",
    "Japan",
    "India",
    "Brazil",
    "Italy",
    "Ireland",
    "Singapore",
];

/// The distinctive part of company `i`'s name: unique per index (its
/// digits in base `SYLLABLES.len()`, at least three syllables).
fn stem(i: u64) -> String {
    let base = SYLLABLES.len() as u64;
    let mut n = i;
    let mut s = String::new();
    for _ in 0..3 {
        s.push_str(SYLLABLES[(n % base) as usize]);
        n /= base;
    }
    while n > 0 {
        s.push_str(SYLLABLES[(n % base) as usize]);
        n /= base;
    }
    s
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Company `i` of a generated universe: (domain, name without its legal
/// form, legal form).
fn parts(i: u64, seed: u64) -> (String, String, &'static str) {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let stem = stem(i);
    let word = rng.pick(WORDS);
    let legal = rng.pick(LEGAL);
    (
        format!("{stem}{}.example", word.to_lowercase()),
        format!("{} {word}", capitalised(&stem)),
        legal,
    )
}

/// Company `i` of a generated universe: (domain, name).
pub fn company(i: u64, seed: u64) -> (String, String) {
    let (domain, base, legal) = parts(i, seed);
    (domain, format!("{base} {legal}").trim().to_string())
}

/// Company `i`'s size band, industry and country (the same in the company
/// file and in a generated surge week).
pub fn firmographics(i: u64, seed: u64) -> (SizeBand, &'static str, &'static str) {
    let mut rng = Rng::new(seed.wrapping_add(i).wrapping_mul(31));
    (
        *rng.pick(SizeBand::ALL),
        *rng.pick(INDUSTRIES),
        *rng.pick(COUNTRIES),
    )
}

/// A company file of `count` companies (the `p360 companies import` form).
pub fn companies(count: u64, seed: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "domain,name,size,industry,country")?;
    let mut line = String::new();
    for i in 0..count {
        let (domain, name) = company(i, seed);
        let (size, industry, country) = firmographics(i, seed);
        line.clear();
        let _ = writeln!(
            line,
            "{domain},{name},{},{industry},{country}",
            size.as_str()
        );
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// The IP ranges of the first `count` companies, company by company (its
/// number, domain and ranges): one to three IPv4 blocks (/24 to /28) each,
/// from 11.0.0.0 up, and an IPv6 /64 of 2001:db8::/32 (the company's
/// number in its third and fourth groups) for one in four; none
/// overlapping.
pub fn company_ranges(count: u64, seed: u64, mut each: impl FnMut(u64, &str, &[ipnet::IpNet])) {
    let mut rng = Rng::new(seed ^ 0x1b);
    // Blocks are handed out on /24 boundaries, so none overlap.
    let mut next: u32 = u32::from(std::net::Ipv4Addr::new(11, 0, 0, 0));
    let mut nets = Vec::with_capacity(4);
    for i in 0..count {
        let (domain, _) = company(i, seed);
        nets.clear();
        for _ in 0..1 + rng.below(3) {
            let prefix = 24 + rng.below(5) as u8;
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(next), prefix)
                .expect("a prefix of 24 to 28");
            nets.push(ipnet::IpNet::V4(net));
            next += 256;
        }
        if rng.chance(25) {
            let v6 = std::net::Ipv6Addr::new(
                0x2001,
                0xdb8,
                ((i >> 16) & 0xffff) as u16,
                (i & 0xffff) as u16,
                0,
                0,
                0,
                0,
            );
            nets.push(ipnet::IpNet::V6(
                ipnet::Ipv6Net::new(v6, 64).expect("a prefix of 64"),
            ));
        }
        each(i, &domain, &nets);
    }
}

/// An IP-range file (`domain,cidr`) for the first `count` companies: their
/// [`company_ranges`].
pub fn ip_ranges(count: u64, seed: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "domain,cidr")?;
    let mut result = Ok(());
    company_ranges(count, seed, |_, domain, nets| {
        for net in nets {
            if result.is_ok() {
                result = writeln!(out, "{domain},{net}");
            }
        }
    });
    result
}

/// An account list of `rows` rows against a universe of `universe`
/// companies, as a CRM exports it: most rows give a website (in the many
/// forms people type one), some only a name (legal form and case varied),
/// some a company the universe does not have.
pub fn account_list(
    rows: u64,
    universe: u64,
    seed: u64,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "Account Name,Website,Account ID")?;
    let mut rng = Rng::new(seed ^ 0x11);
    for r in 0..rows {
        let i = rng.below(universe);
        let (domain, base, legal) = parts(i, seed);
        let name = format!("{base} {legal}").trim().to_string();
        let id = format!("001{:015}", r);
        let (name, website) = match rng.below(100) {
            0..=29 => (name, domain),
            30..=49 => (name, format!("https://www.{domain}/")),
            50..=59 => (name.to_uppercase(), format!("shop.{domain}")),
            // By name only, with another legal form or none.
            60..=84 => (format!("{base} {}", rng.pick(LEGAL)), String::new()),
            _ => (
                format!("Unknown {} Co", stem(universe + r)),
                format!("unknown-{r}.example"),
            ),
        };
        writeln!(out, "\"{name}\",{website},{id}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_arguments_write_the_same_bytes_and_every_line_imports() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        companies(500, 7, &mut a).unwrap();
        companies(500, 7, &mut b).unwrap();
        assert_eq!(a, b);
        let parsed = crate::companies::import::companies(&a).unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        assert_eq!(parsed.companies.len(), 500);
        let mut r = Vec::new();
        ip_ranges(500, 7, &mut r).unwrap();
        let ranges = crate::ranges::without_overlaps(crate::ranges::parse(&r).unwrap(), &[]);
        assert!(ranges.skipped.is_empty(), "{:?}", ranges.skipped);
        assert!(
            String::from_utf8(r)
                .unwrap()
                .contains("2001:db8:0:1f3::/64")
        );
        let mut l = Vec::new();
        account_list(1000, 500, 7, &mut l).unwrap();
        assert_eq!(crate::lists::parse::rows_of(&l).unwrap().len(), 1000);
    }
}
