//! The invoice as a PDF, rendered in-process with `pdf-writer` (no browser,
//! no font files: Helvetica is one of the base fonts every reader has, its
//! text in WinAnsi encoding). A4; the agency's and the customer's details,
//! the lines (a campaign's detail indented under its order's line), the
//! total, and pages added as the lines need them with the table's header
//! repeated.

use pdf_writer::types::LineCapStyle;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A party's name and address lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub lines: Vec<String>,
}

/// One row of the table, already formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub description: String,
    /// A campaign's share of the row above: drawn indented and lighter.
    pub detail: bool,
    pub units: String,
    pub rate: String,
    pub amount: String,
}

/// What the document shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// "Invoice" or "Credit note".
    pub title: String,
    /// The number, or "DRAFT".
    pub number: String,
    /// `YYYY-MM`.
    pub period: String,
    pub issued: Option<String>,
    pub currency: String,
    pub from: Party,
    pub to: Party,
    pub rows: Vec<Row>,
    pub total: String,
    /// Lines under the total (over-delivery, the rounding rule).
    pub notes: Vec<String>,
}

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const ROW: f32 = 15.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
/// Right edges of the units, rate and amount columns.
const COLUMNS: [f32; 3] = [360.0, 450.0, WIDTH - MARGIN];

/// `doc` as a PDF file.
pub fn render(doc: &Document) -> Vec<u8> {
    let pages = paginate(doc);
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let (regular, bold) = (Ref::new(3), Ref::new(4));
    let page_ref = |i: usize| Ref::new(5 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    for (font, name) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(font)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (i, rows) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .parent(tree)
            .contents(content_ref(i));
        page.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        page.finish();
        let last = i + 1 == pages.len();
        let content = page_content(doc, rows, i + 1, pages.len(), last);
        pdf.stream(content_ref(i), &content);
    }
    pdf.finish()
}

/// The rows of each page: the first below the parties, the others below
/// the header, and the total (with the notes) where the last rows leave
/// room for it, or on a page of its own.
fn paginate(doc: &Document) -> Vec<&[Row]> {
    // Rows start 220 pt below the top on the first page (title, facts,
    // parties, the table's header), 108 pt on the others, and stop 60 pt
    // above the bottom.
    let first = ((HEIGHT - MARGIN - 10.0 - 218.0 - 60.0) / ROW) as usize;
    let other = ((HEIGHT - MARGIN - 10.0 - 68.0 - 60.0) / ROW) as usize;
    let total_rows = (28.0 + 12.0 * doc.notes.len() as f32) / ROW;
    let mut pages = Vec::new();
    let mut rest = &doc.rows[..];
    let mut room = first;
    loop {
        let n = rest.len().min(room);
        pages.push(&rest[..n]);
        rest = &rest[n..];
        if rest.is_empty() {
            if (room - n) as f32 >= total_rows.ceil() {
                return pages;
            }
            pages.push(&[]);
            return pages;
        }
        room = other;
    }
}

fn page_content(doc: &Document, rows: &[Row], page: usize, pages: usize, last: bool) -> Vec<u8> {
    let mut c = Content::new();
    let mut y = HEIGHT - MARGIN - 10.0;
    text(&mut c, BOLD, 20.0, MARGIN, y, &doc.title);
    right(&mut c, BOLD, 12.0, COLUMNS[2], y, &doc.number);
    y -= 18.0;
    let mut facts = vec![
        format!("Period {}", doc.period),
        format!("Currency {}", doc.currency),
    ];
    if let Some(issued) = &doc.issued {
        facts.insert(1, format!("Issued {issued}"));
    }
    text(&mut c, REGULAR, 10.0, MARGIN, y, &facts.join("    "));
    right(
        &mut c,
        REGULAR,
        9.0,
        COLUMNS[2],
        y,
        &format!("Page {page} of {pages}"),
    );
    y -= 30.0;
    if page == 1 {
        for (x, label, party) in [(MARGIN, "From", &doc.from), (320.0, "Bill to", &doc.to)] {
            let mut py = y;
            text(&mut c, BOLD, 9.0, x, py, label);
            py -= 13.0;
            text(&mut c, BOLD, 10.0, x, py, &party.name);
            for l in party.lines.iter().take(6) {
                py -= 12.0;
                text(&mut c, REGULAR, 10.0, x, py, l);
            }
        }
        y -= 110.0;
    }
    text(&mut c, BOLD, 9.0, MARGIN, y, "Description");
    for (edge, label) in COLUMNS.iter().zip(["Units", "Rate", "Amount"]) {
        right(&mut c, BOLD, 9.0, *edge, y, label);
    }
    y -= 5.0;
    rule(&mut c, y, 0.8);
    y -= ROW;
    for r in rows {
        let (font, x, size) = if r.detail {
            (REGULAR, MARGIN + 14.0, 8.5)
        } else {
            (REGULAR, MARGIN, 10.0)
        };
        text(&mut c, font, size, x, y, &clip(&r.description, 52));
        for (edge, v) in COLUMNS.iter().zip([&r.units, &r.rate, &r.amount]) {
            right(&mut c, font, size, *edge, y, v);
        }
        y -= ROW;
    }
    if last {
        rule(&mut c, y + ROW - 5.0, 0.8);
        y -= 4.0;
        text(
            &mut c,
            BOLD,
            11.0,
            320.0,
            y,
            &format!("Total {}", doc.currency),
        );
        right(&mut c, BOLD, 11.0, COLUMNS[2], y, &doc.total);
        y -= 24.0;
        for n in &doc.notes {
            text(&mut c, REGULAR, 8.5, MARGIN, y, n);
            y -= 12.0;
        }
    }
    c.finish().into_vec()
}

fn rule(c: &mut Content, y: f32, width: f32) {
    c.set_line_width(width)
        .set_line_cap(LineCapStyle::ButtCap)
        .move_to(MARGIN, y)
        .line_to(WIDTH - MARGIN, y)
        .stroke();
}

fn text(c: &mut Content, font: Name, size: f32, x: f32, y: f32, s: &str) {
    c.begin_text()
        .set_font(font, size)
        .next_line(x, y)
        .show(Str(&win_ansi(s)))
        .end_text();
}

/// Text ending at `edge`.
fn right(c: &mut Content, font: Name, size: f32, edge: f32, y: f32, s: &str) {
    let bold = font == BOLD;
    text(c, font, size, edge - width(s, bold) * size / 1000.0, y, s);
}

fn clip(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        s.chars().take(chars - 1).chain(['…']).collect()
    }
}

/// `s` in WinAnsi (Latin-1 with the euro and typographic marks); what it
/// cannot show becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|ch| match ch {
            '€' => 0x80,
            '…' => 0x85,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            c if (c as u32) < 0x80 && !c.is_control() => c as u8,
            c if (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// The width of `s` in thousandths of the font size (Helvetica's metrics
/// for ASCII; the bold face is a little wider), for right alignment.
fn width(s: &str, bold: bool) -> f32 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
        556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
        722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
        667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
        556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
        500, 334, 260, 334, 584,
    ];
    let w: u32 = s
        .chars()
        .map(|ch| {
            let i = ch as usize;
            if (32..127).contains(&i) {
                u32::from(ASCII[i - 32])
            } else {
                556
            }
        })
        .sum();
    w as f32 * if bold { 1.05 } else { 1.0 }
}

/// `micros` as an amount of a currency whose minor unit is `unit_micros`:
/// `1,234.56`, `-0.70`, `1,235` (no minor unit).
pub fn format_amount(micros: i64, unit_micros: i64) -> String {
    let decimals = match unit_micros {
        1_000_000 => 0,
        1_000 => 3,
        100 => 4,
        _ => 2,
    };
    let scale = 10i64.pow(6 - decimals);
    let whole_units = micros.unsigned_abs() / scale as u64;
    let (int, frac) = (
        whole_units / 10u64.pow(decimals),
        whole_units % 10u64.pow(decimals),
    );
    let digits = int.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let sign = if micros < 0 { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac:0width$}", width = decimals as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_with_the_currencys_decimals() {
        assert_eq!(format_amount(1_234_567_890_000, 10_000), "1,234,567.89");
        assert_eq!(format_amount(-700_000, 10_000), "-0.70");
        assert_eq!(format_amount(0, 10_000), "0.00");
        assert_eq!(format_amount(1_235_000_000, 1_000_000), "1,235");
        assert_eq!(format_amount(1_500, 1_000), "0.001");
    }

    #[test]
    fn text_outside_win_ansi_is_replaced() {
        assert_eq!(win_ansi("Café €5 – ok"), b"Caf\xe9 \x805 \x96 ok".to_vec());
        assert_eq!(win_ansi("東京"), b"??".to_vec());
    }
}
