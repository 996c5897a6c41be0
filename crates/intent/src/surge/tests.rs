use std::io::Write;

use chrono::NaiveDate;

use super::format::{decode, encode, encode_parts};
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
fn the_stored_form_is_put_together_in_parts_that_make_one_whole() {
    // Companies and the first topics in one part, the other topics in the
    // next (about half the bytes each), the CRC of both last; a week with
    // one topic or none too.
    let mut generated = Vec::new();
    crate::generate::surge_week(300, 40, 3, &mut generated).unwrap();
    let (w, _) = read(week(), generated.as_slice()).unwrap();
    let mut one = w.clone();
    one.topics.truncate(1);
    let mut none = w.clone();
    none.topics.clear();
    for w in [w, one, none] {
        let [a, b, crc] = encode_parts(&w);
        let body = [a.as_slice(), b.as_slice()].concat();
        assert_eq!(crc, crc32fast::hash(&body).to_le_bytes());
        assert_eq!(decode(&[body, crc].concat()).unwrap(), w);
    }
    let (w, _) = read(week(), generated.as_slice()).unwrap();
    let [a, b, _] = encode_parts(&w);
    let (a, b) = (a.len() as f64, b.len() as f64);
    assert!((a - b).abs() / (a + b) < 0.1, "{a} and {b} bytes");
}

#[test]
fn weeks_are_named_by_their_monday() {
    let thursday = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    assert_eq!(monday_of(thursday), week());
    assert_eq!(monday_of(week()), week());
}

mod parallel_reader {
    use super::*;
    use crate::surge::parallel::{Text, read_blocks};

    /// Block sizes: one BLAKE3 chunk (many blocks, a deep tree), a few,
    /// and one block for the whole file.
    const BLOCKS: [u64; 3] = [1024, 4096, 1 << 30];

    /// The parallel reader in blocks of `block` bytes, on the bytes and on
    /// a file (copied as it is read); its checksum is always BLAKE3's, and
    /// the copy of a file it reads is the file.
    fn both(text: &[u8], block: u64) -> Vec<Option<(Week, Counts)>> {
        let path = std::env::temp_dir().join(format!("p360-surge-{}", crate::random_hex(8)));
        // The copy on another filesystem when there is one (the kernel
        // does not copy across: blocks are written from the buffer); the
        // command-line test has both on one.
        let shm = std::path::Path::new("/dev/shm");
        let copy_path = if shm.is_dir() {
            shm
        } else {
            path.parent().unwrap()
        }
        .join(format!("p360-surge-{}.copy", crate::random_hex(8)));
        std::fs::write(&path, text).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let copy = std::fs::File::create(&copy_path).unwrap();
        let out = [(Text::Bytes(text), None), (Text::File(&f), Some(&copy))]
            .into_iter()
            .map(|(t, copy)| {
                let r = read_blocks(week(), t, copy, block).unwrap()?;
                assert_eq!(r.checksum, blake3::hash(text), "block {block}");
                if copy.is_some() {
                    assert!(std::fs::read(&copy_path).unwrap() == text, "block {block}");
                }
                Some((r.week, r.counts))
            })
            .collect();
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&copy_path).unwrap();
        out
    }

    fn same_as_sequential(text: &[u8]) {
        let expected = read(week(), text).unwrap();
        for block in BLOCKS {
            for got in both(text, block) {
                assert_eq!(got.as_ref(), Some(&expected), "block {block}");
            }
        }
    }

    #[test]
    fn it_reads_what_the_sequential_reader_reads() {
        let mut generated = Vec::new();
        crate::generate::surge_week(300, 40, 3, &mut generated).unwrap();
        let generated_crlf = String::from_utf8(generated.clone())
            .unwrap()
            .replace('\n', "\r\n");
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
        // Blank lines, a company spread over the file, a domain and topic
        // given twice, no final line break.
        let mut spread = file(&[ROWS[0], "", ROWS[2], ROWS[1], ROWS[3]]);
        spread.push_str(ROWS[0].replace("72", "90").as_str());
        for text in [
            generated.as_slice(),
            generated_crlf.as_bytes(),
            quoted.as_bytes(),
            escaped.as_bytes(),
            crlf.as_bytes(),
            spaced.as_bytes(),
            spread.as_bytes(),
        ] {
            same_as_sequential(text);
        }
    }

    #[test]
    fn a_block_may_end_anywhere_in_a_line() {
        // Rows of one length, the first shifted a byte at a time: every
        // place in a line (its break among them) meets a block's end.
        let row = |i: usize| {
            format!(
                "Co {i:04},co{i:04}.example,,,Cloud,Topic {},{},A,,,,",
                i % 7,
                i % 101
            )
        };
        for pad in 0..row(0).len() + 2 {
            let mut rows = vec![format!("{}{}", "X".repeat(pad), row(0))];
            rows.extend((1..40).map(row));
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            same_as_sequential(file(&rows).as_bytes());
        }
    }

    #[test]
    fn a_company_is_described_as_the_file_first_describes_it() {
        // Acme described again, otherwise, blocks later: whichever thread
        // reads which block, the first description stands.
        let mut rows: Vec<String> = (0..200)
            .map(|i| format!("Co {i},co{i}.example,,,Cloud,Kubernetes,{},A,,,,", i % 100))
            .collect();
        rows.insert(0, ROWS[0].to_string());
        rows.push(
            ROWS[1]
                .replace("Acme Inc", "Acme Holdings")
                .replace("Software", "Retail"),
        );
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let text = file(&rows);
        let (w, _) = read(week(), text.as_bytes()).unwrap();
        let acme = &w.profiles[w.company("acme.example").unwrap() as usize];
        assert_eq!(acme.name.as_deref(), Some("Acme Inc"));
        for _ in 0..20 {
            same_as_sequential(text.as_bytes());
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
            for block in BLOCKS {
                assert!(both(text, block).iter().all(Option::is_none));
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
