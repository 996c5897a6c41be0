//! The invoice PDF read back by Poppler (`pdftotext`, `pdfinfo`) and
//! rendered to images (`pdftoppm`), as a customer's viewer would: every
//! line's amount and the total are in its text, exactly as the lines say;
//! a long invoice runs onto more pages. Poppler comes from Debian's
//! `poppler-utils` (scripts/lib.sh installs it).

use std::process::Command;

use billing::invoice::{LineKind, OrderPart, lines};
use billing::ledger::{Book, postings};
use billing::pdf::{Document, Party, Row, format_amount, render};
use billing::pricing::{Delivered, Month, Pricing, Terms};
use chrono::NaiveDate;

fn poppler(tool: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} (Debian poppler-utils, scripts/lib.sh installs it): {e}")
    });
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_pdf_says_what_the_lines_say_across_pages() {
    let month = Month::parse("2026-11").unwrap();
    let terms = Terms {
        pricing: Pricing::Cpm {
            rate_micros: 12_500_000,
        },
        budget_micros: 5_000_000_000,
        start: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        end: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
        unit_micros: 10_000,
    };
    // 70 campaigns: more rows than a page holds.
    let campaigns: Vec<(String, Delivered)> = (0..70)
        .map(|i| {
            (
                format!("Campaign {i:02} – Café Müller"),
                Delivered {
                    impressions: 10_001 + 997 * i,
                    ..Delivered::default()
                },
            )
        })
        .collect();
    let total = campaigns
        .iter()
        .fold(Delivered::default(), |a, (_, d)| a + *d);
    let p = postings(&terms, &[(month, total)].into(), &Book::default(), &[month]);
    let part = OrderPart {
        order: "IO 2026-Q4 ABM".to_string(),
        terms,
        campaigns,
        postings: p,
    };
    let (lines, total_micros) = lines(month, &[part]);
    let rows: Vec<Row> = lines
        .iter()
        .map(|l| Row {
            description: l.campaign.clone().unwrap_or_else(|| l.order.clone()),
            detail: l.kind == LineKind::Detail,
            units: format!("{} imps", l.units),
            rate: "12.50 CPM".into(),
            amount: format_amount(l.amount_micros, 10_000),
        })
        .collect();
    let doc = Document {
        title: "Invoice".into(),
        number: "INV-2026-000042".into(),
        period: month.to_string(),
        issued: Some("2026-12-06".into()),
        currency: "EUR".into(),
        from: Party {
            name: "Northwind Agency Ltd".into(),
            lines: vec!["1 Harbour Street".into(), "Dublin D02".into()],
        },
        to: Party {
            name: "Café Müller GmbH".into(),
            lines: vec!["Königsallee 5".into(), "40212 Düsseldorf".into()],
        },
        rows,
        total: format_amount(total_micros, 10_000),
        notes: vec!["Rounded once per line, half to even, to the cent.".into()],
    };
    let dir = std::env::temp_dir().join(format!("p360-invoice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, render(&doc)).unwrap();
    let path = file.to_str().unwrap();

    let info = String::from_utf8(poppler("pdfinfo", &[path]).stdout).unwrap();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 2, "71 rows run onto a second page: {info}");

    let text = String::from_utf8(poppler("pdftotext", &["-layout", path, "-"]).stdout).unwrap();
    for needle in [
        "Invoice",
        "INV-2026-000042",
        "Period 2026-11",
        "Café Müller GmbH",
        "40212 Düsseldorf",
        "Northwind Agency Ltd",
        "Campaign 69 – Café Müller",
        &format!("Page {pages} of {pages}"),
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // Every line's amount, in order, and the total once, as the lines say.
    let mut at = 0;
    for l in &lines {
        let amount = format_amount(l.amount_micros, 10_000);
        let found = text[at..]
            .find(&amount)
            .unwrap_or_else(|| panic!("{amount} (of {:?}) not after {at} in:\n{text}", l.campaign));
        at += found + amount.len();
    }
    let total_line = text
        .lines()
        .find(|l| l.contains("Total EUR"))
        .unwrap_or_else(|| panic!("no total in:\n{text}"));
    assert!(
        total_line
            .trim_end()
            .ends_with(&format_amount(total_micros, 10_000)),
        "{total_line}"
    );
    let detail: i64 = lines
        .iter()
        .filter(|l| l.kind == LineKind::Detail)
        .map(|l| l.amount_micros)
        .sum();
    assert_eq!(detail, total_micros, "the detail shares its line exactly");

    // Rendered: one image per page, each a PNG with something drawn on it.
    let prefix = dir.join("page");
    poppler(
        "pdftoppm",
        &["-png", "-r", "40", path, prefix.to_str().unwrap()],
    );
    let mut images: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    images.sort();
    assert_eq!(images.len(), pages);
    for image in &images {
        let bytes = std::fs::read(image).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", image.display());
        assert!(bytes.len() > 2_000, "{} is blank", image.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
