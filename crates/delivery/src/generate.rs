//! Deterministic REDS files for benchmarks, tests and the demo: an hour of
//! impressions in TTD's impression layout and its clicks in the click
//! layout (tab-separated, no header, as the feed writes them), a function
//! of the arguments alone (the same arguments write the same bytes on every
//! machine).
//!
//! Traffic: each campaign targets an audience of `audience` of the first
//! `companies` companies ([`audience`]); `inside_percent` of the
//! impressions come from an address in the IP ranges of a company of the
//! campaign's audience (`accounts::generate::company_ranges`, the ranges
//! `p360 generate ip-ranges` writes for the same seed), IPv4 or, for a
//! company that has one, IPv6 in one in ten of its impressions; the rest
//! from addresses no company has (100.64.0.0/10, shared address space).
//! Campaigns have ad groups with two creatives each; each impression costs the advertiser
//! a CPM of $1.50 to $12 (in the cost columns as dollars with six decimal
//! places, as TTD writes them); one impression in 400 is clicked (a CTR of
//! 0.25 %), a few seconds later.

use std::fmt::Write as _;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use accounts::generate::{Rng, company_ranges};
use chrono::{NaiveDateTime, TimeDelta};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub impressions: u64,
    /// The universe's first `companies` companies get traffic.
    pub companies: u64,
    pub campaigns: u32,
    pub ad_groups_per_campaign: u32,
    /// Companies each campaign targets.
    pub audience: u64,
    /// Percent of impressions from inside a company's ranges.
    pub inside_percent: u64,
    /// The hour the impressions are logged in.
    pub hour: NaiveDateTime,
    pub seed: u64,
}

impl Plan {
    /// The benchmark's hour at `hour` (docs/benchmarks.md): 2,000,000
    /// impressions, 20,000 companies, 40 campaigns of 5 ad groups each
    /// targeting 1,000 companies, 55 % from their ranges, seed 1.
    pub fn at(hour: NaiveDateTime) -> Plan {
        Plan {
            impressions: 2_000_000,
            companies: 20_000,
            campaigns: 40,
            ad_groups_per_campaign: 5,
            audience: 1_000,
            inside_percent: 55,
            hour,
            seed: 1,
        }
    }
}

/// What was written, to check an ingest against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub impressions: u64,
    pub clicks: u64,
    /// Impressions from inside a company's ranges.
    pub inside: u64,
    /// The advertiser's cost of all impressions, in micro-dollars.
    pub advertiser_cost_micros: i64,
}

/// TTD-style ids: a letter for the kind and seven characters of base 36.
pub fn ttd_id(kind: char, n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut x = (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let mut s = String::with_capacity(8);
    s.push(kind);
    for _ in 0..7 {
        s.push(DIGITS[(x % 36) as usize] as char);
        x /= 36;
    }
    s
}

/// Campaign `c`'s TTD id.
pub fn campaign_id(c: u32) -> String {
    ttd_id('c', u64::from(c))
}

/// Ad group `g` of campaign `c`'s TTD id.
pub fn ad_group_id(c: u32, g: u32) -> String {
    ttd_id('g', u64::from(c) * 1_000 + u64::from(g))
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
];
const SITES: &[&str] = &[
    "news.example",
    "finance.example",
    "techreview.example",
    "weather.example",
    "sports.example",
    "b2bweekly.example",
];
const VENDORS: &[&str] = &["google", "rubicon", "pubmatic", "openx", "indexexchange"];
const FORMATS: &[&str] = &["300x250", "728x90", "160x600", "320x50", "300x600"];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("New York", "New York", "501", "10001"),
    ("California", "San Francisco", "807", "94105"),
    ("Illinois", "Chicago", "602", "60601"),
    ("Texas", "Austin", "635", "73301"),
    ("Massachusetts", "Boston", "506", "02108"),
];

/// The companies (their numbers) campaign `c` targets: `size` of the
/// first `companies`, drawn without repeats.
pub fn audience(c: u32, companies: u64, size: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed ^ (u64::from(c) + 1).wrapping_mul(0xA076_1D64_78BD_642F));
    let size = size.min(companies);
    let mut picked = std::collections::BTreeSet::new();
    while (picked.len() as u64) < size {
        picked.insert(rng.below(companies));
    }
    picked.into_iter().collect()
}

/// A company's addresses to draw from.
struct Target {
    v4: Vec<(u32, u32)>,
    v6: Option<u128>,
}

/// Write `plan`'s impressions to `impressions` and its clicks to `clicks`.
pub fn reds(
    plan: &Plan,
    impressions: &mut impl Write,
    clicks: &mut impl Write,
) -> std::io::Result<Written> {
    let mut targets = Vec::with_capacity(plan.companies as usize);
    company_ranges(plan.companies, plan.seed, |_, _, nets| {
        let mut t = Target {
            v4: Vec::new(),
            v6: None,
        };
        for net in nets {
            match net {
                ipnet::IpNet::V4(n) => t.v4.push((n.network().into(), n.broadcast().into())),
                ipnet::IpNet::V6(n) => t.v6 = Some(n.network().into()),
            }
        }
        targets.push(t);
    });
    let mut rng = Rng::new(plan.seed ^ 0x4e_d5);
    let mut written = Written::default();
    let mut line = String::with_capacity(1024);
    let mut click = String::with_capacity(512);
    let audiences: Vec<Vec<u64>> = (0..plan.campaigns)
        .map(|c| audience(c, plan.companies, plan.audience, plan.seed))
        .collect();
    let cpms: Vec<u64> = (0..plan.campaigns)
        .map(|_| 1_500_000 + rng.below(10_500_001))
        .collect();
    let hour_ms = 3_600_000u64;
    for n in 0..plan.impressions {
        let at =
            plan.hour + TimeDelta::milliseconds((n * hour_ms / plan.impressions.max(1)) as i64);
        let campaign = rng.below(u64::from(plan.campaigns.max(1))) as u32;
        let group = rng.below(u64::from(plan.ad_groups_per_campaign.max(1))) as u32;
        let creative = ttd_id(
            'r',
            (u64::from(campaign) * 1_000 + u64::from(group)) * 10 + rng.below(2),
        );
        let targeted = &audiences[campaign as usize];
        let inside = !targeted.is_empty() && rng.chance(plan.inside_percent);
        let (ip, user) = if inside {
            written.inside += 1;
            let c = *rng.pick(targeted);
            let t = &targets[c as usize];
            let ip = match t.v6 {
                Some(net) if rng.chance(10) => {
                    IpAddr::V6(Ipv6Addr::from(net + u128::from(rng.below(1 << 20))))
                }
                _ => {
                    let (first, last) = *rng.pick(&t.v4);
                    let span = u64::from(last - first) + 1;
                    IpAddr::V4(Ipv4Addr::from(first + rng.below(span) as u32))
                }
            };
            // A few hundred people per company.
            (ip, c * 1_000 + rng.below(300))
        } else {
            let ip = 0x6440_0000u32 + rng.below(1 << 22) as u32;
            (
                IpAddr::V4(Ipv4Addr::from(ip)),
                (1 << 40) | rng.below(5_000_000),
            )
        };
        // Cost per impression in micro-dollars: the CPM / 1000, varied.
        let cpm = cpms[campaign as usize] * (80 + rng.below(41)) / 100;
        let advertiser = (cpm / 1_000) as i64;
        written.advertiser_cost_micros += advertiser;
        let impression_id = format!("{:016x}{:016x}", rng.next_u64(), n);
        let advertiser_id = ttd_id('a', u64::from(campaign / 10));
        let campaign_id = campaign_id(campaign);
        let tdid = impression_line(
            &mut line,
            &mut rng,
            &Impression {
                at,
                id: &impression_id,
                advertiser: &advertiser_id,
                campaign: &campaign_id,
                ad_group: &ad_group_id(campaign, group),
                creative: &creative,
                ip,
                user,
                advertiser_cost: advertiser,
            },
        );
        impressions.write_all(line.as_bytes())?;
        written.impressions += 1;
        if rng.below(400) == 0 {
            click_line(
                &mut click,
                &mut rng,
                at,
                ip,
                (&campaign_id, &advertiser_id),
                &impression_id,
                &tdid,
            );
            clicks.write_all(click.as_bytes())?;
            written.clicks += 1;
        }
    }
    Ok(written)
}

/// One impression's own values; the rest of its row is drawn.
pub(crate) struct Impression<'a> {
    pub at: NaiveDateTime,
    pub id: &'a str,
    pub advertiser: &'a str,
    pub campaign: &'a str,
    pub ad_group: &'a str,
    pub creative: &'a str,
    pub ip: IpAddr,
    /// Who saw it (its TDID is made from this).
    pub user: u64,
    /// Micro-dollars; TTD's other costs are shares of it.
    pub advertiser_cost: i64,
}

/// Write impression `i` as a REDS row (TTD's impression layout) into
/// `line`; its TDID.
pub(crate) fn impression_line(line: &mut String, rng: &mut Rng, i: &Impression) -> String {
    let user = i.user;
    let advertiser = i.advertiser_cost;
    let media = advertiser * 70 / 100;
    let ttd = advertiser * 12 / 100;
    let partner = advertiser * 95 / 100;
    let tdid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (user >> 16) as u32 ^ 0x5eed,
        user & 0xffff,
        (user >> 7) & 0xfff,
        user & 0xfff,
        user.wrapping_mul(0x9E37_79B9) & 0xffff_ffff_ffff
    );
    let (region, city, metro, zip) = *rng.pick(CITIES);
    let logged = i.at.format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let processed =
        (i.at + TimeDelta::seconds(40 + rng.below(60) as i64)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    line.clear();
    let _ = writeln!(
        line,
        "{logged}\t{impression_id}\tp360prt\t{advertiser_id}\t{campaign_id}\t{ad_group_id}\t\t\t\
         {creative}\t{format}\t{frequency}\t{vendor}\t{publisher}\t\t{site}\t\t{fold}\t{how}\t\
         {ua}\t{ip}\t{tdid}\tUnited States\t{region}\t{metro}\t{city}\t{device}\t{osf}\t{os}\t\
         {browser}\t{recency}\ten\t{media}\t{fee}\t{data}\t{ttd}\t{partner}\t{advertiser}\t\
         {lat}\t{lon}\t\t{zip}\t{processed}",
        impression_id = i.id,
        advertiser_id = i.advertiser,
        campaign_id = i.campaign,
        ad_group_id = i.ad_group,
        creative = i.creative,
        ip = i.ip,
        format = rng.pick(FORMATS),
        frequency = 1 + rng.below(8),
        vendor = rng.pick(VENDORS),
        publisher = 10_000 + rng.below(90_000),
        site = rng.pick(SITES),
        fold = rng.below(3),
        how = rng.below(168),
        ua = rng.pick(USER_AGENTS),
        device = 2 + rng.below(3),
        osf = 1 + rng.below(5),
        os = 10 + rng.below(40),
        browser = 1 + rng.below(8),
        recency = rng.below(10_000),
        media = Dollars(media),
        fee = Dollars(advertiser / 50),
        data = Dollars(advertiser / 25),
        ttd = Dollars(ttd),
        partner = Dollars(partner),
        advertiser = Dollars(advertiser),
        lat = 30 + rng.below(15),
        lon = -(75 + rng.below(45) as i64),
    );
    tdid
}

/// Write a click on impression `impression` (made at `at` from `ip`, for
/// (campaign, advertiser)) as a REDS row (TTD's click layout) into `click`.
pub(crate) fn click_line(
    click: &mut String,
    rng: &mut Rng,
    at: NaiveDateTime,
    ip: IpAddr,
    (campaign, advertiser): (&str, &str),
    impression: &str,
    tdid: &str,
) {
    let when = at + TimeDelta::seconds(2 + rng.below(120) as i64);
    click.clear();
    let _ = writeln!(
        click,
        "{}\t{:016x}\t{ip}\thttps://{}/\thttps://landing.example/c\t{campaign}\t\t{advertiser}\t{impression}\t\t\t\t\t{tdid}\t\t{}\t",
        when.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        rng.next_u64(),
        rng.pick(SITES),
        (when + TimeDelta::seconds(30)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
}

/// Write `plan`'s hour into the folder `out`, a file per kind named by it
/// and the hour (`impressions_<hour>.log.gz`, `clicks_<hour>.log.gz`; gzip
/// at its fastest level).
pub fn files(plan: &Plan, out: &std::path::Path) -> std::io::Result<Written> {
    std::fs::create_dir_all(out)?;
    let hour = plan.hour.format("%Y-%m-%dT%H");
    let gz = |name: String| -> std::io::Result<_> {
        let file = std::fs::File::create(out.join(name))?;
        Ok(flate2::write::GzEncoder::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            flate2::Compression::fast(),
        ))
    };
    let mut impressions = gz(format!("impressions_{hour}.log.gz"))?;
    let mut clicks = gz(format!("clicks_{hour}.log.gz"))?;
    let written = reds(plan, &mut impressions, &mut clicks)?;
    impressions.finish()?.flush()?;
    clicks.finish()?.flush()?;
    Ok(written)
}

/// Micro-dollars as dollars with six decimal places.
struct Dollars(i64);

impl std::fmt::Display for Dollars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let v = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:06}", v / 1_000_000, v % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CLICKS, IMPRESSIONS};

    fn plan() -> Plan {
        let hour = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(13, 0, 0)
            .unwrap();
        Plan {
            impressions: 20_000,
            companies: 200,
            campaigns: 4,
            audience: 50,
            ..Plan::at(hour)
        }
    }

    #[test]
    fn rows_have_the_feeds_layout_and_the_same_arguments_the_same_bytes() {
        let (mut a, mut ac) = (Vec::new(), Vec::new());
        let w = reds(&plan(), &mut a, &mut ac).unwrap();
        let (mut b, mut bc) = (Vec::new(), Vec::new());
        assert_eq!(reds(&plan(), &mut b, &mut bc).unwrap(), w);
        assert!(a == b && ac == bc, "deterministic");
        let text = String::from_utf8(a).unwrap();
        let ip_at = IMPRESSIONS.iter().position(|c| *c == "IPAddress").unwrap();
        let cost_at = IMPRESSIONS
            .iter()
            .position(|c| *c == "AdvertiserCostInUSDollars")
            .unwrap();
        let mut cost = 0i64;
        let mut v6 = 0;
        for row in text.lines() {
            let f: Vec<&str> = row.split('\t').collect();
            assert_eq!(f.len(), IMPRESSIONS.len(), "{row}");
            assert!(f[0].starts_with("2026-11-30T13:"), "{row}");
            let ip: IpAddr = f[ip_at].parse().unwrap();
            v6 += usize::from(ip.is_ipv6());
            let (d, m) = f[cost_at].split_once('.').unwrap();
            cost += d.parse::<i64>().unwrap() * 1_000_000 + m.parse::<i64>().unwrap();
        }
        assert_eq!(text.lines().count() as u64, w.impressions);
        assert_eq!(cost, w.advertiser_cost_micros);
        assert!(v6 > 0, "some IPv6 traffic");
        // About 55 % inside, about 0.25 % clicked.
        assert!((10_000..12_000).contains(&w.inside), "{w:?}");
        assert!((20..90).contains(&w.clicks), "{w:?}");
        let clicks = String::from_utf8(ac).unwrap();
        let joins = CLICKS
            .iter()
            .position(|c| *c == "DisplayImpressionId")
            .unwrap();
        for row in clicks.lines() {
            let f: Vec<&str> = row.split('\t').collect();
            assert_eq!(f.len(), CLICKS.len(), "{row}");
            assert!(text.contains(f[joins]), "a click joins an impression");
        }
    }

    #[test]
    fn ids_look_like_ttds_and_differ() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|n| ttd_id('c', n)).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| i.len() == 8 && i.is_ascii()));
        assert_eq!(Dollars(2_150).to_string(), "0.002150");
        assert_eq!(Dollars(-12_000_001).to_string(), "-12.000001");
    }
}
