//! Reading a REDS click file (gzip or plain, tab-separated, the click
//! layout of [`crate::schema`]) into its clicks, and rolling them up into
//! the cells of the impressions they were made on.
//!
//! A click names its impression (`DisplayImpressionId`); the impression's
//! cell (day, campaign, ad group, creative, company) is found by reading
//! the impression files of the hours before the click again, noting the
//! cells of the impressions asked for ([`crate::read::impressions_joining`]).
//! A click whose impression is in no file read (it came before its
//! impression's file, or that file can no longer be read) is counted on
//! its own campaign and the company of its own address, under the ad group
//! and creative [`UNJOINED`], and the file's count of clicks not joined
//! says how many.

use std::io::{BufRead, Read};
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::read::{Cell, FileError, Rollup, UNRESOLVED, day_hour, shown};
use crate::resolve::Ranges;
use crate::schema::ClickColumns;

/// The ad group and creative of a click whose impression was not found.
pub const UNJOINED: &str = "(not joined)";

/// The most clicks a file may hold (memory stays bounded: a click file is
/// a small fraction of its impressions').
pub const MAX_CLICKS: usize = 5_000_000;

/// One click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub day: i32,
    pub hour: i64,
    pub campaign: Box<str>,
    /// `DisplayImpressionId`.
    pub impression: Box<[u8]>,
    pub ip: IpAddr,
}

/// The clicks of `input`, laid out as `cols`.
pub fn read(input: impl Read, cols: ClickColumns) -> Result<Vec<Click>, FileError> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let gzip = input
        .fill_buf()
        .map_err(|e| err(0, format!("cannot read the file: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let mut lines: Box<dyn BufRead> = if gzip {
        Box::new(std::io::BufReader::new(
            flate2::bufread::MultiGzDecoder::new(input),
        ))
    } else {
        Box::new(input)
    };
    let mut clicks = Vec::new();
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let got = lines
            .by_ref()
            .take(1 << 20)
            .read_until(b'\n', &mut buf)
            .map_err(|e| err(0, format!("the file is damaged or cut short: {e}")))?;
        if got == 0 {
            return Ok(clicks);
        }
        n += 1;
        if buf.last() != Some(&b'\n') && got == 1 << 20 {
            return Err(err(n, "longer than 1 MiB: not a REDS row"));
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if clicks.len() == MAX_CLICKS {
            return Err(err(n, format!("more than {MAX_CLICKS} clicks in one file")));
        }
        clicks.push(click(line, cols).map_err(|reason| err(n, reason))?);
    }
}

fn err(line: u64, reason: impl Into<String>) -> FileError {
    FileError {
        line,
        reason: reason.into(),
    }
}

fn click(line: &[u8], c: ClickColumns) -> Result<Click, String> {
    let f: Vec<&[u8]> = line.split(|b| *b == b'\t').collect();
    if f.len() != c.count {
        return Err(format!(
            "{} columns, the click feed's layout has {}",
            f.len(),
            c.count
        ));
    }
    let (day, hour) = day_hour(f[c.log_entry_time])?;
    let campaign = std::str::from_utf8(f[c.campaign_id])
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .ok_or_else(|| {
            format!(
                "CampaignId {}: empty, too long or not UTF-8",
                shown(f[c.campaign_id])
            )
        })?;
    let impression = f[c.display_impression_id];
    if impression.is_empty() || impression.len() > 64 {
        return Err("DisplayImpressionId: empty or longer than 64 bytes".into());
    }
    let ip = std::str::from_utf8(f[c.ip_address])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("IPAddress {}: not an address", shown(f[c.ip_address])))?;
    Ok(Click {
        day,
        hour,
        campaign: campaign.into(),
        impression: impression.into(),
        ip,
    })
}

/// Where an impression was made: its day, TTD's campaign, ad group and
/// creative, and its company's number in the range set.
pub type Made = (i32, Box<str>, Box<str>, Box<str>, u32);

/// The cells of `joined` (impression id → cell, in `rollup`'s numbering),
/// by name.
pub fn made(rollup: &Rollup, out: &mut FxHashMap<Box<[u8]>, Made>) {
    for (id, cell) in &rollup.joined {
        let Cell {
            day,
            campaign,
            ad_group,
            creative,
            company,
        } = *cell;
        out.insert(
            id.clone(),
            (
                day,
                rollup.campaigns.name(campaign).into(),
                rollup.ad_groups.name(ad_group).into(),
                rollup.creatives.name(creative).into(),
                company,
            ),
        );
    }
}

/// The clicks rolled up: each in its impression's cell where `found` has
/// it, else on its own campaign, day and address. Also how many joined.
pub fn roll_up(
    clicks: &[Click],
    found: &FxHashMap<Box<[u8]>, Made>,
    ranges: &Ranges,
) -> Result<(Rollup, u64), FileError> {
    let mut r = Rollup::default();
    let mut joined = 0;
    for (i, c) in clicks.iter().enumerate() {
        let number = |e: &'static str| err(i as u64 + 1, format!("an id is {e}"));
        let cell = match found.get(&c.impression) {
            Some((day, campaign, ad_group, creative, company)) => {
                joined += 1;
                Cell {
                    day: *day,
                    campaign: r.campaigns.number(campaign.as_bytes()).map_err(number)?,
                    ad_group: r.ad_groups.number(ad_group.as_bytes()).map_err(number)?,
                    creative: r.creatives.number(creative.as_bytes()).map_err(number)?,
                    company: *company,
                }
            }
            None => Cell {
                day: c.day,
                campaign: r.campaigns.number(c.campaign.as_bytes()).map_err(number)?,
                ad_group: r.ad_groups.number(UNJOINED.as_bytes()).map_err(number)?,
                creative: r.creatives.number(UNJOINED.as_bytes()).map_err(number)?,
                company: ranges.company(c.ip).unwrap_or(UNRESOLVED),
            },
        };
        if cell.company == UNRESOLVED {
            r.unresolved += 1;
        }
        r.rows += 1;
        r.cells.entry(cell).or_default().clicks += 1;
    }
    Ok((r, joined))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CLICKS;

    fn cols() -> ClickColumns {
        ClickColumns::of(CLICKS).unwrap()
    }

    #[test]
    fn clicks_are_read_and_a_bad_one_named() {
        let row = |id: &str, ip: &str| {
            format!(
                "2026-11-30T13:05:00.000Z\tk1\t{ip}\thttps://a/\thttps://b/\tc1\t\tadv\t{id}\t\t\t\t\ttdid\t\t2026-11-30T13:06:00.000Z\t\n"
            )
        };
        let text = row("imp1", "10.0.0.1") + &row("imp2", "2001:db8::1");
        let clicks = read(text.as_bytes(), cols()).unwrap();
        assert_eq!(clicks.len(), 2);
        assert_eq!(&*clicks[1].impression, b"imp2");
        assert_eq!(clicks[0].hour % 24, 13);
        let bad = row("imp1", "10.0.0.1") + &row("imp2", "not-an-ip");
        let e = read(bad.as_bytes(), cols()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("IPAddress"), "{e}");
        let short = "2026-11-30T13:05:00.000Z\tk1\n";
        assert_eq!(read(short.as_bytes(), cols()).unwrap_err().line, 1);
    }
}
