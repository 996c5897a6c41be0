//! P360's compact form of a surge week, as stored in the object store:
//! little-endian, length-prefixed, checked as it is read (a truncated or
//! damaged object is an error, never a wrong week).
//!
//! ```text
//! "P360SRG2" | week: i32 days from 1970-01-01 | companies: u32 | topics: u32
//! companies × { domain | name | size (u8, 255 = none) | industry | country }
//! topics × { name | category | n: u32 | n × company: u32 | n × score: u8 }
//! crc: u32 (CRC-32 of everything before it)
//! ```
//! Strings are `u16 length | UTF-8`; an absent string has length 0xFFFF.
//! Version 1 (`P360SRG1`) ended with a u64 FNV-1a instead, a byte at a time
//! (a tenth of a second on a 36 MB week): still read, no longer written.

use accounts::companies::SizeBand;

use super::{Profile, TopicScores, Week};

const MAGIC: &[u8; 8] = b"P360SRG2";
const MAGIC_V1: &[u8; 8] = b"P360SRG1";
const NONE: u16 = u16::MAX;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        // Names are limited well below 64 KiB where they are read.
        Some(s) => {
            let s = &s.as_bytes()[..s.len().min(usize::from(NONE) - 1)];
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s);
        }
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// The bytes `put_str` writes for `s`.
fn str_len(s: Option<&str>) -> usize {
    2 + s.map_or(0, |s| s.len().min(usize::from(NONE) - 1))
}

fn put_profile(out: &mut Vec<u8>, p: &Profile) {
    put_str(out, Some(&p.domain));
    put_str(out, p.name.as_deref());
    let size = p
        .size
        .and_then(|s| SizeBand::ALL.iter().position(|b| *b == s))
        .map_or(255, |i| i as u8);
    out.push(size);
    put_str(out, p.industry.as_deref());
    put_str(out, p.country.as_deref());
}

fn profile_len(p: &Profile) -> usize {
    str_len(Some(&p.domain))
        + str_len(p.name.as_deref())
        + 1
        + str_len(p.industry.as_deref())
        + str_len(p.country.as_deref())
}

fn put_topic(out: &mut Vec<u8>, t: &TopicScores) {
    put_str(out, Some(&t.name));
    put_str(out, Some(&t.category));
    out.extend_from_slice(&(t.companies.len() as u32).to_le_bytes());
    let at = out.len();
    out.resize(at + 4 * t.companies.len(), 0);
    for (slot, c) in out[at..].chunks_exact_mut(4).zip(&t.companies) {
        slot.copy_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&t.scores);
}

fn topic_len(t: &TopicScores) -> usize {
    str_len(Some(&t.name)) + str_len(Some(&t.category)) + 4 + 5 * t.companies.len()
}

/// The week in its stored form.
pub fn encode(w: &Week) -> Vec<u8> {
    encode_parts(w).concat()
}

/// The week in its stored form as three parts to be written one after
/// the other, put together on two cores: the header, the companies and the
/// first topics; the other topics (about half the bytes each); the CRC,
/// combined from the two parts' (the form is 36 MB for 200,000 companies
/// and 4.5 million scores, a tenth of a second on one core).
pub fn encode_parts(w: &Week) -> [Vec<u8>; 3] {
    let head = 20 + w.profiles.iter().map(profile_len).sum::<usize>();
    let sizes: Vec<usize> = w.topics.iter().map(topic_len).collect();
    let total = head + sizes.iter().sum::<usize>();
    let (mut split, mut first) = (0, head);
    while split < sizes.len() && first + sizes[split] <= total / 2 {
        first += sizes[split];
        split += 1;
    }
    let ((a, mut crc), (b, theirs)) = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let mut out = Vec::with_capacity(total - first);
            for t in &w.topics[split..] {
                put_topic(&mut out, t);
            }
            let mut crc = crc32fast::Hasher::new();
            crc.update(&out);
            (out, crc)
        });
        let mut out = Vec::with_capacity(first);
        out.extend(MAGIC);
        let days = (w.week - chrono::NaiveDate::default()).num_days() as i32;
        out.extend(days.to_le_bytes());
        out.extend((w.profiles.len() as u32).to_le_bytes());
        out.extend((w.topics.len() as u32).to_le_bytes());
        for p in &w.profiles {
            put_profile(&mut out, p);
        }
        for t in &w.topics[..split] {
            put_topic(&mut out, t);
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&out);
        (
            (out, crc),
            second
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    crc.combine(&theirs);
    [a, b, crc.finalize().to_le_bytes().to_vec()]
}

/// Why stored bytes are not a week.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stored surge week: {0}")]
pub struct Damaged(&'static str);

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(Damaged("cut short"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn opt_str(&mut self) -> Result<Option<String>, Damaged> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().unwrap_or_default());
        if len == NONE {
            return Ok(None);
        }
        let s =
            std::str::from_utf8(self.take(usize::from(len))?).map_err(|_| Damaged("not UTF-8"))?;
        Ok(Some(s.to_string()))
    }
    fn str(&mut self) -> Result<String, Damaged> {
        self.opt_str()?
            .ok_or(Damaged("a required string is absent"))
    }
}

/// A week from its stored form.
pub fn decode(bytes: &[u8]) -> Result<Week, Damaged> {
    let v1 = bytes.starts_with(MAGIC_V1);
    if !v1 && !bytes.starts_with(MAGIC) {
        return Err(Damaged("unknown format"));
    }
    let (body, crc) = bytes
        .split_at_checked(bytes.len().saturating_sub(if v1 { 8 } else { 4 }))
        .filter(|(b, _)| b.len() >= MAGIC.len() + 12)
        .ok_or(Damaged("cut short"))?;
    let intact = if v1 {
        u64::from_le_bytes(crc.try_into().unwrap_or_default()) == fnv(body)
    } else {
        u32::from_le_bytes(crc.try_into().unwrap_or_default()) == crc32fast::hash(body)
    };
    if !intact {
        return Err(Damaged("checksum mismatch"));
    }
    let mut c = Cursor { bytes: body, at: 8 };
    let days = c.u32()? as i32;
    let week = chrono::NaiveDate::default()
        .checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
        .ok_or(Damaged("week out of range"))?;
    let companies = c.u32()? as usize;
    let topics = c.u32()? as usize;
    let mut profiles = Vec::with_capacity(companies.min(body.len() / 8));
    for _ in 0..companies {
        let domain = c.str()?;
        let name = c.opt_str()?;
        let size = SizeBand::ALL.get(usize::from(c.take(1)?[0])).copied();
        profiles.push(Profile {
            domain,
            name,
            size,
            industry: c.opt_str()?,
            country: c.opt_str()?,
        });
    }
    let mut out = Vec::with_capacity(topics.min(body.len() / 8));
    for _ in 0..topics {
        let name = c.str()?;
        let category = c.str()?;
        let n = c.u32()? as usize;
        let ids = c.take(n.checked_mul(4).ok_or(Damaged("cut short"))?)?;
        let companies: Vec<u32> = ids
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if companies.iter().any(|x| *x as usize >= profiles.len())
            || companies.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(Damaged("a topic names companies out of order or range"));
        }
        out.push(TopicScores {
            name,
            category,
            companies,
            scores: c.take(n)?.to_vec(),
        });
    }
    if c.at != body.len() {
        return Err(Damaged("trailing bytes"));
    }
    Ok(Week {
        week,
        profiles,
        topics: out,
    })
}
