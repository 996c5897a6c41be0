use std::io::Write;

use super::*;
use crate::generate::{Plan, audience, reds};
use crate::resolve::number;
use crate::schema::IMPRESSIONS;

fn plan() -> Plan {
    let hour = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(23, 0, 0)
        .unwrap();
    Plan {
        impressions: 30_000,
        companies: 300,
        campaigns: 4,
        audience: 40,
        seed: 3,
        ..Plan::at(hour)
    }
}

fn ranges(companies: u64, seed: u64) -> Ranges {
    let mut v = Vec::new();
    accounts::generate::company_ranges(companies, seed, |i, _, nets| {
        for n in nets {
            v.push((number(n.network()), number(n.broadcast()), i as u32));
        }
    });
    Ranges::new(v).unwrap()
}

fn cols() -> ImpressionColumns {
    ImpressionColumns::of(IMPRESSIONS).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn generated() -> (Vec<u8>, crate::generate::Written) {
    let (mut rows, mut clicks) = (Vec::new(), Vec::new());
    let w = reds(&plan(), &mut rows, &mut clicks).unwrap();
    (rows, w)
}

#[test]
fn a_generated_hour_rolls_up_to_what_was_written() {
    let (rows, w) = generated();
    let p = plan();
    let r = impressions(&gzip(&rows)[..], cols(), &ranges(p.companies, p.seed)).unwrap();
    assert_eq!(r.rows, w.impressions);
    assert_eq!(r.unresolved, w.impressions - w.inside);
    let cells: Sums = r.cells.values().fold(Sums::default(), |mut a, s| {
        a.impressions += s.impressions;
        a.advertiser_cost += s.advertiser_cost;
        a.media_cost += s.media_cost;
        a
    });
    assert_eq!(cells.impressions, w.impressions);
    assert_eq!(cells.advertiser_cost, w.advertiser_cost_micros);
    let hours: i64 = r.hours.values().map(|s| s.advertiser_cost).sum();
    assert_eq!(hours, w.advertiser_cost_micros);
    // One hour of one day: 2026-11-30 is day 20,787.
    assert!(r.cells.keys().all(|c| c.day == 20_787));
    assert!(r.hours.keys().all(|(h, _)| *h == 20_787 * 24 + 23));
    // Every resolved impression is a company its campaign targets.
    assert_eq!(r.campaigns.len(), 4);
    for cell in r.cells.keys().filter(|c| c.company != UNRESOLVED) {
        let ttd = r.campaigns.name(cell.campaign);
        let c = (0..4)
            .find(|c| crate::generate::campaign_id(*c) == ttd)
            .unwrap();
        let targeted = audience(c, p.companies, p.audience, p.seed);
        assert!(targeted.contains(&u64::from(cell.company)), "{cell:?}");
    }
    // The same bytes plain read the same.
    let plain = impressions(&rows[..], cols(), &ranges(p.companies, p.seed)).unwrap();
    assert_eq!((plain.rows, plain.cells.len()), (r.rows, r.cells.len()));
}

#[test]
fn ipv6_addresses_resolve() {
    let p = plan();
    let set = ranges(p.companies, p.seed);
    let (rows, _) = generated();
    let text = String::from_utf8(rows).unwrap();
    let row = text
        .lines()
        .find(|l| l.split('\t').nth(19).unwrap().contains(':'))
        .expect("an IPv6 impression");
    let r = impressions(format!("{row}\n").as_bytes(), cols(), &set).unwrap();
    assert_eq!((r.rows, r.unresolved), (1, 0));
}

#[test]
fn a_file_cut_short_or_wrong_anywhere_is_refused_naming_the_line() {
    let (rows, _) = generated();
    let p = plan();
    let set = ranges(p.companies, p.seed);
    let gz = gzip(&rows);
    let cut = impressions(&gz[..gz.len() - 100], cols(), &set).unwrap_err();
    assert_eq!(cut.line, 0);
    assert!(cut.reason.contains("cut short"), "{cut}");

    let text = String::from_utf8(rows).unwrap();
    let lines: Vec<&str> = text.lines().take(5).collect();
    let with = |line: usize, column: &str, value: &str| {
        let at = IMPRESSIONS.iter().position(|c| *c == column).unwrap();
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let mut f: Vec<&str> = l.split('\t').collect();
            if i + 1 == line {
                f[at] = value;
            }
            out.push_str(&f.join("\t"));
            out.push('\n');
        }
        impressions(out.as_bytes(), cols(), &set)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        with(3, "IPAddress", "300.1.2.3"),
        "line 3: IPAddress 300.1.2.3: not an address"
    );
    assert_eq!(
        with(2, "AdvertiserCostInUSDollars", "1,50"),
        "line 2: AdvertiserCostInUSDollars 1,50: not an amount"
    );
    assert_eq!(
        with(4, "LogEntryTime", "2026-13-01T10:00:00Z"),
        "line 4: LogEntryTime 2026-13-01T10:00:00Z: not a time"
    );
    assert_eq!(
        with(5, "CampaignId", ""),
        "line 5: CampaignId: empty or longer than 64 bytes"
    );
    let short = format!("{}\n{}\n", lines[0], "a\tb\tc");
    assert_eq!(
        impressions(short.as_bytes(), cols(), &set)
            .unwrap_err()
            .to_string(),
        "line 2: 3 columns, the feed's layout has 42"
    );
    // A line longer than a piece is refused, by its number once read; one
    // that does not end within two pieces refuses the file as it is read
    // (memory stays bounded).
    let refused = |len: usize| {
        let text = format!("{}\n{}\n", lines[0], "x".repeat(len));
        impressions(text.as_bytes(), cols(), &set)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused(PIECE + PIECE / 2),
        "line 2: longer than 1 MiB: not a REDS row"
    );
    assert_eq!(
        refused(3 * PIECE),
        "a line longer than 1 MiB: not a REDS file of this layout"
    );
    // A line just under a piece is read whole (and is no row).
    let near = format!("{}\n{}\n", lines[0], "x".repeat(PIECE - 10));
    assert_eq!(
        impressions(near.as_bytes(), cols(), &set)
            .unwrap_err()
            .to_string(),
        "line 2: 1 columns, the feed's layout has 42"
    );
}

#[test]
fn amounts_are_micro_dollars_rounded_at_the_seventh_place() {
    for (text, want) in [
        ("0.00215", Ok(2_150)),
        ("12", Ok(12_000_000)),
        (".5", Ok(500_000)),
        ("0.0000005", Ok(1)),
        ("0.0000004999", Ok(0)),
        ("-1.25", Ok(-1_250_000)),
        ("", Ok(0)),
    ] {
        assert_eq!(micros(text.as_bytes()), want, "{text}");
    }
    for text in ["1e-3", "-", ".", "1.2.3", "NaN", "9999999999999.0"] {
        assert!(micros(text.as_bytes()).is_err(), "{text}");
    }
}
