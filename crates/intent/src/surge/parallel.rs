//! The fast path for a plain (not gzip) file, in memory or on disk: the
//! text is cut at a line boundary near its middle and each half read on its
//! own core by a byte-level splitter (commas found with `memchr`; a line
//! with a quote goes through the `csv` crate), then the two halves' companies
//! and topics are merged. It only takes files that read cleanly: anything
//! unusual (a gzip file, a short or long row, a bad score or topic, a quote
//! left open, which may hide a line break) makes it step aside, and the
//! sequential reader ([`super::parse`]) reads the file and says exactly
//! where it broke.

use std::fs::File;
use std::ops::Index;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Week;
use super::parse::{Builder, Columns, Counts, SurgeError, columns};

/// Where the text is.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    Bytes(&'a [u8]),
    File(&'a File),
}

/// Below this the file is read by one thread.
const SPLIT_FROM: u64 = 8 << 20;
/// What a thread reads at once.
const BUFFER: usize = 4 << 20;
/// The most columns a line may have on the fast path.
const MAX_COLUMNS: usize = 32;

/// The week in `text`, or `None` when the file needs the sequential reader.
pub fn read(
    week: chrono::NaiveDate,
    text: Text,
    stop: &AtomicBool,
) -> Option<Result<(Week, Counts), SurgeError>> {
    read_split(week, text, stop, SPLIT_FROM)
}

/// As [`read`], splitting texts of `split_from` bytes and more.
pub(super) fn read_split(
    week: chrono::NaiveDate,
    text: Text,
    stop: &AtomicBool,
    split_from: u64,
) -> Option<Result<(Week, Counts), SurgeError>> {
    let len = match text {
        Text::Bytes(b) => b.len() as u64,
        Text::File(f) => f.metadata().ok()?.len(),
    };
    let head = window(text, 0, 64 << 10)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return None; // gzip
    }
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let eol = memchr::memchr(b'\n', &head[bom..])?;
    let header = record(trim_cr(&head[bom..bom + eol]))?;
    let cols = columns(&header).ok()?;
    let start = (bom + eol + 1) as u64;
    let mid = if len.saturating_sub(start) >= split_from {
        let at = start + (len - start) / 2;
        let near = window(text, at, 64 << 10)?;
        at + memchr::memchr(b'\n', &near)? as u64 + 1
    } else {
        len
    };
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| part(text, mid, len, &cols, stop));
        let first = part(text, start, mid, &cols, stop);
        (
            first,
            second
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let (builder, mut counts) = first?;
    let (other, more) = second?;
    if stop.load(Ordering::Relaxed) {
        return Some(Err(SurgeError {
            line: 0,
            byte: 0,
            reason: "stopped".into(),
        }));
    }
    counts.rows += more.rows;
    counts.unusable_domains += more.unusable_domains;
    let (week, duplicates) = builder.finish(Some(other), week).ok()?;
    counts.duplicates = duplicates;
    Some(Ok((week, counts)))
}

/// Up to `n` bytes of the text from `at`.
fn window(text: Text, at: u64, n: usize) -> Option<Vec<u8>> {
    match text {
        Text::Bytes(b) => {
            let from = (at as usize).min(b.len());
            Some(b[from..(from + n).min(b.len())].to_vec())
        }
        Text::File(f) => {
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                match f.read_at(&mut buf[got..], at + got as u64) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(_) => return None,
                }
            }
            buf.truncate(got);
            Some(buf)
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One line as the `csv` crate reads it (quotes and all).
fn record(line: &[u8]) -> Option<csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut r = csv::ByteRecord::new();
    reader.read_byte_record(&mut r).ok()?.then_some(r)
}

/// A line's fields, split at its commas.
struct Fields<'a> {
    at: [&'a [u8]; MAX_COLUMNS],
    n: usize,
}

impl Index<usize> for Fields<'_> {
    type Output = [u8];
    fn index(&self, i: usize) -> &[u8] {
        self.at[i]
    }
}

/// The lines of `[from, to)`: a line break ends each, the last may lack it.
fn part(
    text: Text,
    from: u64,
    to: u64,
    cols: &Columns,
    stop: &AtomicBool,
) -> Option<(Builder, Counts)> {
    let skip = cols.company_prefix();
    let mut reader = Reader {
        builder: Builder::default(),
        counts: Counts::default(),
        cols,
        skip,
        tail: cols.after(skip),
        prefix: Vec::new(),
        stop,
    };
    match text {
        Text::Bytes(b) => reader.lines(&b[from as usize..to as usize], true)?,
        Text::File(f) => {
            let mut buf = vec![0u8; BUFFER];
            let (mut at, mut kept) = (from, 0usize);
            while at < to {
                let want = ((to - at) as usize).min(BUFFER - kept);
                let n = f.read_at(&mut buf[kept..kept + want], at).ok()?;
                if n == 0 {
                    return None; // the file shrank
                }
                at += n as u64;
                let filled = kept + n;
                let whole = if at >= to {
                    filled
                } else {
                    // Up to the last line break; the rest waits for more.
                    memchr::memrchr(b'\n', &buf[..filled]).map(|i| i + 1)?
                };
                reader.lines(&buf[..whole], at >= to)?;
                buf.copy_within(whole..filled, 0);
                kept = filled - whole;
            }
        }
    }
    Some((reader.builder, reader.counts))
}

struct Reader<'a> {
    builder: Builder,
    counts: Counts,
    cols: &'a Columns,
    /// How many leading columns are the company's ([`Columns::company_prefix`]).
    skip: usize,
    /// The per-row columns as seen from there.
    tail: Columns,
    /// The previous row up to and including the comma after its company
    /// columns (empty: none to compare with).
    prefix: Vec<u8>,
    stop: &'a AtomicBool,
}

impl Reader<'_> {
    /// Every line of `text` (`last`: the final piece, which may end without
    /// a line break).
    fn lines(&mut self, text: &[u8], last: bool) -> Option<()> {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', text) {
            self.line(trim_cr(&text[start..end]))?;
            start = end + 1;
        }
        if start < text.len() {
            if !last {
                return None;
            }
            self.line(trim_cr(&text[start..]))?;
        }
        Some(())
    }

    fn line(&mut self, line: &[u8]) -> Option<()> {
        if line.is_empty() {
            return Some(());
        }
        self.counts.rows += 1;
        if self.counts.rows.is_multiple_of(65_536) && self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let mut f = Fields {
            at: [&[]; MAX_COLUMNS],
            n: 0,
        };
        // Another row of the company before: its company columns are the
        // same bytes, and only the rest is split.
        if !self.prefix.is_empty() && line.starts_with(&self.prefix) {
            let rest = &line[self.prefix.len()..];
            let usable = match split(rest, &mut f) {
                Split::Fields if f.n == self.tail.count => {
                    self.builder.row_again(&f, &self.tail).ok()?
                }
                Split::Fields => return None,
                Split::Escaped => {
                    let r = record(rest)?;
                    if r.len() != self.tail.count {
                        return None;
                    }
                    self.builder.row_again(&r, &self.tail).ok()?
                }
                Split::Unusual => return None,
            };
            if !usable {
                self.counts.unusable_domains += 1;
            }
            return Some(());
        }
        self.prefix.clear();
        let usable = match split(line, &mut f) {
            Split::Fields if f.n == self.cols.count => {
                let usable = self.builder.row(&f, self.cols).ok()?;
                if let Some(end) = company_end(line, &f, self.skip) {
                    self.prefix.extend_from_slice(&line[..end]);
                }
                usable
            }
            Split::Fields => return None,
            Split::Escaped => {
                // A quote written twice inside quotes: the csv crate unescapes.
                let r = record(line)?;
                if r.len() != self.cols.count {
                    return None;
                }
                self.builder.row(&r, self.cols).ok()?
            }
            Split::Unusual => return None,
        };
        if !usable {
            self.counts.unusable_domains += 1;
        }
        Some(())
    }
}

/// Where the company columns of `line` end (after the comma that follows
/// them), from its fields as [`split`] gave them: `None` without any.
fn company_end(line: &[u8], f: &Fields, skip: usize) -> Option<usize> {
    let last = f.at[..f.n].get(skip.checked_sub(1)?)?;
    // The field is a part of the line (without its quotes, if quoted).
    let mut end = (last.as_ptr() as usize).checked_sub(line.as_ptr() as usize)? + last.len();
    if line.get(end) == Some(&b'"') {
        end += 1;
    }
    (line.get(end) == Some(&b',')).then_some(end + 1)
}

enum Split {
    /// The fields are in the `Fields` given.
    Fields,
    /// A quoted field holds an escaped quote (`""`).
    Escaped,
    /// A quote left open (perhaps around a line break), text after a
    /// closing quote, or too many columns.
    Unusual,
}

/// A line's fields: split at commas, a field in quotes taken without them
/// (so `"Large (1,000 - 4,999 Employees)"` is one field).
fn split<'a>(line: &'a [u8], f: &mut Fields<'a>) -> Split {
    let mut i = 0;
    loop {
        if f.n == MAX_COLUMNS {
            return Split::Unusual;
        }
        if line.get(i) == Some(&b'"') {
            let Some(close) = memchr::memchr(b'"', &line[i + 1..]).map(|c| i + 1 + c) else {
                return Split::Unusual;
            };
            match line.get(close + 1) {
                None => {
                    f.at[f.n] = &line[i + 1..close];
                    f.n += 1;
                    return Split::Fields;
                }
                Some(b',') => {
                    f.at[f.n] = &line[i + 1..close];
                    f.n += 1;
                    i = close + 2;
                }
                Some(b'"') => return Split::Escaped,
                Some(_) => return Split::Unusual,
            }
        } else {
            match memchr::memchr(b',', &line[i..]) {
                Some(c) => {
                    f.at[f.n] = &line[i..i + c];
                    f.n += 1;
                    i += c + 1;
                }
                None => {
                    f.at[f.n] = &line[i..];
                    f.n += 1;
                    return Split::Fields;
                }
            }
        }
    }
}
