use std::io::Write;

use chrono::NaiveDate;

use super::format::{decode, encode};
use super::parse::{Counts, read};
use super::*;

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

fn file(rows: &[&str]) -> String {
    let mut f = HEADER.to_string();
    for r in rows {
        f.push_str(r);
        f.push('\n');
    }
    f
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

const ROWS: &[&str] = &[
    "Acme Inc,www.acme.example,Medium (200 - 499 Employees),Software,Security,Firewalls,72,B,London,80,A,United Kingdom",
    "Acme Inc,www.acme.example,Medium (200 - 499 Employees),Software,Cloud,Kubernetes,55,C,London,40,C,United Kingdom",
    "Globex,globex.example,Large (1000 - 4999 Employees),Energy,Security,Firewalls,64,B,,,,Germany",
    "\"Initech, LLC\",shop.initech.example,,,Cloud,Kubernetes,91,A,,,,",
    "Nobody,co.uk,,,Cloud,Kubernetes,99,A,,,,",
];

#[test]
fn a_topic_written_with_spaces_around_it_is_the_same_topic() {
    let spaced = ROWS[2].replace(",Firewalls,", ", Firewalls ,");
    let text = file(&[ROWS[0], ROWS[1], &spaced]);
    let (w, _) = read(week(), text.as_bytes()).unwrap();
    let names: Vec<&str> = w.topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Firewalls", "Kubernetes"]);
    assert_eq!(w.topic("Firewalls").unwrap().scores, [72, 64]);
}

#[test]
fn a_file_becomes_a_week_of_companies_and_topics() {
    let (w, counts) = read(week(), file(ROWS).as_bytes()).unwrap();
    assert_eq!(
        counts,
        Counts {
            rows: 5,
            unusable_domains: 1,
            duplicates: 0
        }
    );
    let domains: Vec<&str> = w.profiles.iter().map(|p| p.domain.as_str()).collect();
    assert_eq!(
        domains,
        ["acme.example", "globex.example", "initech.example"]
    );
    assert_eq!(
        w.profiles[0].size,
        Some(accounts::companies::SizeBand::Medium)
    );
    assert_eq!(w.profiles[2].name.as_deref(), Some("Initech, LLC"));
    assert_eq!(w.profiles[1].country.as_deref(), Some("Germany"));
    let names: Vec<&str> = w.topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Firewalls", "Kubernetes"]);
    let firewalls = w.topic("Firewalls").unwrap();
    assert_eq!(firewalls.category, "Security");
    assert_eq!(
        (&firewalls.companies[..], &firewalls.scores[..]),
        (&[0, 1][..], &[72, 64][..])
    );
    let acme = w.company("acme.example").unwrap();
    let scores: Vec<(&str, u8)> = w
        .scores_of(acme)
        .map(|(t, s)| (t.name.as_str(), s))
        .collect();
    assert_eq!(scores, [("Firewalls", 72), ("Kubernetes", 55)]);
    assert_eq!(w.pairs(), 4);
    // Gzip gives the same week.
    let (gz, _) = read(week(), gzip(&file(ROWS)).as_slice()).unwrap();
    assert_eq!(gz, w);
}

#[test]
fn a_domain_and_topic_given_twice_keep_the_higher_score() {
    let rows = [
        ROWS[0],
        ROWS[2],
        "Acme,acme.example,,,Security,Firewalls,81,A,,,,",
    ];
    let (w, counts) = read(week(), file(&rows).as_bytes()).unwrap();
    assert_eq!(counts.duplicates, 1);
    assert_eq!(w.topic("Firewalls").unwrap().scores, [81, 64]);
}

#[test]
fn broken_files_are_refused_with_the_line_and_byte() {
    let whole = file(ROWS);
    // Cut mid-row: the last row has fewer columns than the header.
    let cut = &whole[..whole.len() - 30];
    let e = read(week(), cut.as_bytes()).unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(e.reason.contains("columns: the file is cut short"), "{e}");
    assert_eq!(e.byte as usize, whole.rfind("Nobody").unwrap(), "{e}");
    // A gzip stream cut short.
    let gz = gzip(&whole);
    let e = read(week(), &gz[..gz.len() - 12]).unwrap_err();
    assert!(
        e.reason.starts_with("the file is cut short or corrupt"),
        "{e}"
    );
    // A damaged gzip stream.
    let mut damaged = gz.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0xff;
    assert!(read(week(), damaged.as_slice()).is_err());
    // A score that is not 0 to 100.
    let bad = file(&[
        ROWS[0],
        "Globex,globex.example,,,Security,Firewalls,101,A,,,,",
    ]);
    let e = read(week(), bad.as_bytes()).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(
        e.reason,
        "Composite Score: not a whole number from 0 to 100"
    );
    // Not a surge file at all.
    let e = read(week(), b"domain,name\nacme.example,Acme\n".as_slice()).unwrap_err();
    assert_eq!(
        (e.line, e.reason.as_str()),
        (1, "the header has no topic column")
    );
    let e = read(week(), b"\x89PNG\r\n\x1a\n\x00".as_slice()).unwrap_err();
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn the_stored_form_gives_back_the_week_and_refuses_damage() {
    let (w, _) = read(week(), file(ROWS).as_bytes()).unwrap();
    let bytes = encode(&w);
    assert_eq!(decode(&bytes).unwrap(), w);
    for cut in [0, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    flipped[40] ^= 1;
    assert_eq!(
        decode(&flipped).unwrap_err().to_string(),
        "not a stored surge week: checksum mismatch"
    );
    // Weeks stored by the version before (FNV-1a) still read, and their
    // damage is still found.
    let mut v1 = b"P360SRG1".to_vec();
    v1.extend_from_slice(&bytes[8..bytes.len() - 4]);
    let sum = v1.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    v1.extend_from_slice(&sum.to_le_bytes());
    assert_eq!(decode(&v1).unwrap(), w);
    v1[40] ^= 1;
    assert!(decode(&v1).is_err());
    assert_eq!(
        decode(b"P360SRG9 and more bytes than a header")
            .unwrap_err()
            .to_string(),
        "not a stored surge week: unknown format"
    );
}

#[test]
fn weeks_are_named_by_their_monday() {
    let thursday = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    assert_eq!(monday_of(thursday), week());
    assert_eq!(monday_of(week()), week());
}

mod parallel_reader {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::surge::parallel::{Text, read_split};

    /// The parallel reader, split after `split` bytes (1: always), on the
    /// bytes and on a file.
    fn both(text: &[u8], split: u64) -> Vec<Option<(Week, Counts)>> {
        let stop = AtomicBool::new(false);
        let path = std::env::temp_dir().join(format!("p360-surge-{}", crate::random_hex(8)));
        std::fs::write(&path, text).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let out = [Text::Bytes(text), Text::File(&f)]
            .into_iter()
            .map(|t| read_split(week(), t, &stop, split).map(Result::unwrap))
            .collect();
        std::fs::remove_file(&path).unwrap();
        out
    }

    #[test]
    fn it_reads_what_the_sequential_reader_reads() {
        let mut generated = Vec::new();
        crate::generate::surge_week(300, 40, 3, &mut generated).unwrap();
        let quoted = file(ROWS);
        let escaped = file(&[
            ROWS[0],
            "\"Initech \"\"West\"\"\",initech.example,\"Large (1,000 - 4,999 Employees)\",,Cloud,Kubernetes,91,A,,,,",
            "Hooli,hooli.example,,,Cloud,Kubernetes,80,A,,,,\"\"",
        ]);
        let crlf = format!("\u{feff}{}", file(ROWS).replace('\n', "\r\n"));
        let spaced = file(&[
            ROWS[0],
            ROWS[1],
            &ROWS[2].replace(",Firewalls,", ", Firewalls ,"),
        ]);
        // Blank lines, a company spread over both halves, a domain and
        // topic given twice (once in each half), no final line break.
        let mut spread = file(&[ROWS[0], "", ROWS[2], ROWS[1], ROWS[3]]);
        spread.push_str(ROWS[0].replace("72", "90").as_str());
        for text in [
            generated.as_slice(),
            quoted.as_bytes(),
            escaped.as_bytes(),
            crlf.as_bytes(),
            spaced.as_bytes(),
            spread.as_bytes(),
        ] {
            let expected = read(week(), text).unwrap();
            for split in [1, 64, 1 << 30] {
                for got in both(text, split) {
                    assert_eq!(got.as_ref(), Some(&expected), "split {split}");
                }
            }
        }
    }

    #[test]
    fn it_steps_aside_for_what_only_the_sequential_reader_explains() {
        let short = file(&[ROWS[0], "Globex,globex.example,,,Security"]);
        let score = file(&[ROWS[2].replace("64", "164").as_str()]);
        let open_quote = file(&["\"Initech\nLLC\",initech.example,,,Cloud,Kubernetes,91,A,,,,"]);
        let after_quote = file(&["\"Initech\" LLC,initech.example,,,Cloud,Kubernetes,91,A,,,,"]);
        let gz = gzip(&file(ROWS));
        for text in [
            short.as_bytes(),
            score.as_bytes(),
            open_quote.as_bytes(),
            after_quote.as_bytes(),
            &gz,
        ] {
            for split in [1, 1 << 30] {
                assert!(both(text, split).iter().all(Option::is_none));
            }
        }
    }
}

#[test]
fn a_files_name_says_its_week() {
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
    assert_eq!(super::date_in("Bombora_Surge_2026-11-30.csv.gz"), d);
    assert_eq!(super::date_in("surge_20261130.csv"), d);
    assert_eq!(
        super::date_in("partner-files/bombora/2026/surge_20261130.csv"),
        d
    );
    assert_eq!(super::date_in("surge.csv"), None);
    assert_eq!(super::date_in("v2_surge_99999999.csv"), None);
    assert_eq!(super::date_in("é_2026-11-30"), d);
}
