//! Reading one REDS impression file into its rollup, on two threads: one
//! decompresses (the file is gzip, as TTD writes it, or plain) into 1 MiB
//! pieces cut at line ends, the other splits the lines, resolves each
//! impression's address to a company ([`Ranges`]) and adds it to its cell
//! (day × campaign × ad group × creative × company, with its TDID in the
//! cell's people) and to its campaign's hour. Memory is bounded whatever the file's size: four pieces in flight
//! (a line longer than a piece refuses the file) and one cell per distinct
//! key.
//!
//! A file that does not read whole — a gzip stream cut short, a row with
//! another number of columns than the layout, a time, address or cost that
//! is not one — is an error naming the line, and nothing of it counts.

use std::io::Read;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::people::Sketch;
use crate::resolve::Ranges;
use crate::schema::ImpressionColumns;

/// The company of an impression whose address is in no company's range.
pub const UNRESOLVED: u32 = u32::MAX;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    /// 0 when the file broke outside a line (its compression, a line
    /// without an end).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => f.write_str(&self.reason),
            n => write!(f, "line {n}: {}", self.reason),
        }
    }
}

fn bad(line: u64, reason: impl Into<String>) -> FileError {
    FileError {
        line,
        reason: reason.into(),
    }
}

/// Ids as the feed writes them, numbered in order of first sight.
#[derive(Debug, Default)]
pub struct Ids {
    numbers: FxHashMap<Box<[u8]>, u32>,
    names: Vec<Box<str>>,
}

impl Ids {
    /// The number of `id`, numbering it if it is new.
    pub fn number(&mut self, id: &[u8]) -> Result<u32, &'static str> {
        if let Some(n) = self.numbers.get(id) {
            return Ok(*n);
        }
        let name = std::str::from_utf8(id).map_err(|_| "not UTF-8")?;
        if name.is_empty() || name.len() > 64 {
            return Err("empty or longer than 64 bytes");
        }
        let n = self.names.len() as u32;
        self.numbers.insert(id.into(), n);
        self.names.push(name.into());
        Ok(n)
    }

    /// The id numbered `n`.
    pub fn name(&self, n: u32) -> &str {
        &self.names[n as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A rollup cell's key. `day` counts days from 1970-01-01 (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub day: i32,
    pub campaign: u32,
    pub ad_group: u32,
    pub creative: u32,
    /// The company's number in the range set, or [`UNRESOLVED`].
    pub company: u32,
}

/// What a cell (or an hour) adds up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub impressions: u64,
    pub clicks: u64,
    /// Micro-dollars.
    pub advertiser_cost: i64,
    pub media_cost: i64,
    /// The cell's TDIDs ([`crate::people`]); none kept for an hour.
    pub people: Sketch,
}

impl Sums {
    fn add(&mut self, advertiser_cost: i64, media_cost: i64) {
        self.impressions += 1;
        self.advertiser_cost += advertiser_cost;
        self.media_cost += media_cost;
    }
}

/// One file's impressions rolled up.
#[derive(Debug, Default)]
pub struct Rollup {
    pub campaigns: Ids,
    pub ad_groups: Ids,
    pub creatives: Ids,
    /// Advertiser of each campaign number (as the feed says).
    pub advertisers: Ids,
    pub campaign_advertiser: Vec<u32>,
    pub cells: FxHashMap<Cell, Sums>,
    /// Campaign totals per hour (hours from 1970-01-01T00, UTC), for pacing.
    pub hours: FxHashMap<(i64, u32), Sums>,
    pub rows: u64,
    pub unresolved: u64,
    /// The impressions asked for ([`impressions_joining`]) and their cells.
    pub joined: Vec<(Box<[u8]>, Cell)>,
}

/// Pieces handed from the decompressing thread to the parsing one.
const PIECE: usize = 1 << 20;

/// Roll up the impression file `input` (gzip or plain) laid out as `cols`,
/// resolving addresses by `ranges`.
pub fn impressions(
    input: impl Read + Send,
    cols: ImpressionColumns,
    ranges: &Ranges,
) -> Result<Rollup, FileError> {
    read(input, cols, ranges, None)
}

/// As [`impressions`], also noting the cell of each impression whose
/// `ImpressionId` is in `wanted` ([`Rollup::joined`]): how clicks find the
/// impressions they were made on.
pub fn impressions_joining(
    input: impl Read + Send,
    cols: ImpressionColumns,
    ranges: &Ranges,
    wanted: &FxHashSet<Box<[u8]>>,
) -> Result<Rollup, FileError> {
    read(input, cols, ranges, Some(wanted))
}

fn read(
    input: impl Read + Send,
    cols: ImpressionColumns,
    ranges: &Ranges,
    wanted: Option<&FxHashSet<Box<[u8]>>>,
) -> Result<Rollup, FileError> {
    let (full, pieces) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let (empty, spares) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let reader = s.spawn(move || pieces_of(input, &full, &spares));
        let mut state = Parser::new(cols, ranges, wanted);
        let mut parsed = Ok(());
        for piece in pieces {
            if parsed.is_ok() {
                parsed = state.piece(&piece);
            }
            // Once a line is bad the rest is only drained.
            let _ = empty.send(piece);
        }
        drop(empty);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(bad(0, "the reading thread failed")));
        // A broken stream explains a bad last line: report it first.
        read.and(parsed).map(|()| {
            let mut rollup = state.rollup;
            for s in rollup.cells.values_mut() {
                s.people.finish();
            }
            rollup
        })
    })
}

/// Read `input` (decompressing gzip) into pieces ending at a line end.
fn pieces_of(
    input: impl Read,
    full: &std::sync::mpsc::SyncSender<Vec<u8>>,
    spares: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<(), FileError> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let gzip = std::io::BufRead::fill_buf(&mut input)
        .map_err(|e| bad(0, format!("cannot read the file: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let mut input: Box<dyn Read> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut piece = spares.try_recv().unwrap_or_default();
        piece.clear();
        piece.reserve(PIECE + carry.len());
        piece.extend_from_slice(&carry);
        carry.clear();
        let start = piece.len();
        piece.resize(start + PIECE, 0);
        let mut filled = start;
        while filled < piece.len() {
            match input.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let what = if gzip { "the gzip stream" } else { "the file" };
                    return Err(bad(0, format!("{what} is damaged or cut short: {e}")));
                }
            }
        }
        piece.truncate(filled);
        let done = filled < start + PIECE;
        if !done {
            match memchr::memrchr(b'\n', &piece) {
                Some(end) => {
                    carry.extend_from_slice(&piece[end + 1..]);
                    piece.truncate(end + 1);
                }
                // No REDS row comes near a piece's size: memory stays
                // bounded by refusing the file rather than growing a line.
                None => {
                    return Err(bad(
                        0,
                        "a line longer than 1 MiB: not a REDS file of this layout",
                    ));
                }
            }
        }
        if !piece.is_empty() && full.send(piece).is_err() {
            return Ok(()); // the parser stopped
        }
        if done {
            return Ok(());
        }
    }
}

/// The parsing thread's state.
struct Parser<'a> {
    cols: ImpressionColumns,
    ranges: &'a Ranges,
    wanted: Option<&'a FxHashSet<Box<[u8]>>>,
    rollup: Rollup,
    line: u64,
    /// The last date seen (`YYYY-MM-DD`) and its day number.
    last: ([u8; 10], i32),
}

impl<'a> Parser<'a> {
    fn new(
        cols: ImpressionColumns,
        ranges: &'a Ranges,
        wanted: Option<&'a FxHashSet<Box<[u8]>>>,
    ) -> Parser<'a> {
        Parser {
            cols,
            ranges,
            wanted,
            rollup: Rollup::default(),
            line: 0,
            last: ([0; 10], 0),
        }
    }

    fn piece(&mut self, piece: &[u8]) -> Result<(), FileError> {
        let mut fields: Vec<&[u8]> = Vec::with_capacity(self.cols.count + 1);
        let mut at = 0;
        while at < piece.len() {
            let end = memchr::memchr(b'\n', &piece[at..]).map_or(piece.len(), |e| at + e);
            let mut line = &piece[at..end];
            at = end + 1;
            self.line += 1;
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                continue;
            }
            if line.len() > PIECE {
                return Err(bad(self.line, "longer than 1 MiB: not a REDS row"));
            }
            fields.clear();
            fields.extend(line.split(|b| *b == b'\t'));
            self.row(&fields).map_err(|reason| bad(self.line, reason))?;
        }
        Ok(())
    }

    fn row(&mut self, f: &[&[u8]]) -> Result<(), String> {
        let c = self.cols;
        if f.len() != c.count {
            return Err(format!(
                "{} columns, the feed's layout has {}",
                f.len(),
                c.count
            ));
        }
        let (day, hour) = self.time(f[c.log_entry_time])?;
        let r = &mut self.rollup;
        let campaign = r
            .campaigns
            .number(f[c.campaign_id])
            .map_err(|e| format!("CampaignId: {e}"))?;
        if campaign as usize == r.campaign_advertiser.len() {
            let advertiser = r
                .advertisers
                .number(f[c.advertiser_id])
                .map_err(|e| format!("AdvertiserId: {e}"))?;
            r.campaign_advertiser.push(advertiser);
        }
        let ad_group = r
            .ad_groups
            .number(f[c.ad_group_id])
            .map_err(|e| format!("AdGroupId: {e}"))?;
        let creative = r
            .creatives
            .number(f[c.creative_id])
            .map_err(|e| format!("CreativeId: {e}"))?;
        let ip = std::str::from_utf8(f[c.ip_address])
            .ok()
            .and_then(|s| s.parse::<std::net::IpAddr>().ok())
            .ok_or_else(|| format!("IPAddress {}: not an address", shown(f[c.ip_address])))?;
        let advertiser_cost =
            micros(f[c.advertiser_cost]).map_err(|e| format!("AdvertiserCostInUSDollars {e}"))?;
        let media_cost = micros(f[c.media_cost]).map_err(|e| format!("MediaCostInBucks {e}"))?;
        let company = self.ranges.company(ip).unwrap_or(UNRESOLVED);
        if company == UNRESOLVED {
            r.unresolved += 1;
        }
        r.rows += 1;
        let cell = Cell {
            day,
            campaign,
            ad_group,
            creative,
            company,
        };
        let sums = r.cells.entry(cell).or_default();
        sums.add(advertiser_cost, media_cost);
        if let Some(h) = crate::people::hash(f[c.tdid]) {
            sums.people.push(h);
        }
        r.hours
            .entry((hour, campaign))
            .or_default()
            .add(advertiser_cost, media_cost);
        if let Some(wanted) = self.wanted
            && wanted.contains(f[c.impression_id])
        {
            r.joined.push((f[c.impression_id].into(), cell));
        }
        Ok(())
    }

    /// The day and hour of a `LogEntryTime` (`2026-11-30T13:04:05.123Z`, or
    /// with a space for the `T`; taken as UTC).
    fn time(&mut self, t: &[u8]) -> Result<(i32, i64), String> {
        time_of(t, &mut self.last)
    }
}

/// The day (from 1970-01-01) and hour (from 1970-01-01T00) of a
/// `LogEntryTime`, UTC.
pub fn day_hour(t: &[u8]) -> Result<(i32, i64), String> {
    time_of(t, &mut ([0; 10], 0))
}

/// As [`day_hour`], with the last date seen and its day number kept in
/// `last` (a file's rows share a few dates).
fn time_of(t: &[u8], last: &mut ([u8; 10], i32)) -> Result<(i32, i64), String> {
    let wrong = || format!("LogEntryTime {}: not a time", shown(t));
    if t.len() < 13 || !matches!(t[10], b'T' | b' ') {
        return Err(wrong());
    }
    let date: [u8; 10] = t[..10].try_into().map_err(|_| wrong())?;
    if date != last.0 || last.0 == [0; 10] {
        let d = std::str::from_utf8(&date)
            .ok()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(wrong)?;
        *last = (date, (d - chrono::NaiveDate::default()).num_days() as i32);
    }
    let hour = match (t[11], t[12]) {
        (a @ b'0'..=b'2', b @ b'0'..=b'9') => (a - b'0') * 10 + (b - b'0'),
        _ => return Err(wrong()),
    };
    if hour > 23 {
        return Err(wrong());
    }
    Ok((last.1, i64::from(last.1) * 24 + i64::from(hour)))
}

/// A field as shown in an error: at most 40 bytes, lossy.
pub(crate) fn shown(f: &[u8]) -> String {
    String::from_utf8_lossy(&f[..f.len().min(40)]).into_owned()
}

/// Dollars (`0.00215`, `-1.5`, empty for none) as micro-dollars, rounded
/// half away from zero at the seventh decimal place.
pub fn micros(f: &[u8]) -> Result<i64, String> {
    let wrong = || format!("{}: not an amount", shown(f));
    let (negative, digits) = match f {
        [] => return Ok(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, f),
    };
    let (whole, fraction) = match memchr::memchr(b'.', digits) {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
        || whole.len() > 12
    {
        return Err(wrong());
    }
    let mut v: i64 = 0;
    for d in whole {
        v = v * 10 + i64::from(d - b'0');
    }
    for i in 0..6 {
        v = v * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    if fraction.get(6).is_some_and(|d| *d >= b'5') {
        v += 1;
    }
    Ok(if negative { -v } else { v })
}

#[cfg(test)]
mod tests;
