//! Reading a Company Surge file: Bombora's weekly "all domains, all topics"
//! CSV (`Company Name, Domain, Size, Industry, Category, Topic, Composite
//! Score, Bucket Code, Metro Area, Metro Composite Score, Metro Bucket
//! Code, Domain Origin Country`; columns found by name), gzip or plain,
//! streamed from any reader: one pass, memory for the week's scores only.
//!
//! A file is taken whole or not at all. A row with another number of
//! columns than the header (a file cut mid-row), a score that is not 0 to
//! 100, a gzip stream cut short or corrupt: the file is refused with the
//! line and byte (of the decompressed text) where it broke. A domain with
//! no registrable part is not an error (such rows are counted); a domain
//! and topic given twice keep the higher score (counted too).

use std::io::{BufRead, BufReader, Read};
use std::ops::Index;

use accounts::companies::SizeBand;
use accounts::domain::registrable;

use super::topic_ids::TopicIds;
use super::{Profile, Week};

/// A file refused whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (byte {byte}): {reason}")]
pub struct SurgeError {
    pub line: u64,
    pub byte: u64,
    pub reason: String,
}

/// What a file held besides its scores.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Data rows read.
    pub rows: u64,
    /// Rows whose domain has no registrable part (skipped).
    pub unusable_domains: u64,
    /// Rows repeating a domain and topic (the higher score kept).
    pub duplicates: u64,
}

/// A reader of the file's text: gzip is recognised by its magic number.
pub fn decompressed<'a>(mut input: impl BufRead + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
    let gzip = input.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    })
}

/// Where the columns P360 reads are.
pub(super) struct Columns {
    domain: usize,
    topic: usize,
    score: usize,
    name: Option<usize>,
    size: Option<usize>,
    industry: Option<usize>,
    category: Option<usize>,
    country: Option<usize>,
    /// How many columns the header has.
    pub(super) count: usize,
}

impl Columns {
    /// How many leading columns describe only the company, its domain among
    /// them (Bombora's layout: name, domain, size, industry): the rows of a
    /// company repeat them byte for byte, so a reader may skip them when a
    /// row starts as the one before did. 0 when the layout does not allow it.
    pub(super) fn company_prefix(&self) -> usize {
        let k = self
            .topic
            .min(self.score)
            .min(self.category.unwrap_or(usize::MAX));
        if self.domain < k { k } else { 0 }
    }

    /// How many leading fields a row needs for the columns read (the
    /// others are only counted).
    pub(super) fn used(&self) -> usize {
        [self.domain, self.topic, self.score]
            .into_iter()
            .chain(
                [
                    self.name,
                    self.size,
                    self.industry,
                    self.category,
                    self.country,
                ]
                .into_iter()
                .flatten(),
            )
            .filter(|i| *i != usize::MAX)
            .max()
            .map_or(0, |i| i + 1)
    }

    /// The per-row columns as seen from column `k` on (`k` at most
    /// [`Columns::company_prefix`]).
    pub(super) fn after(&self, k: usize) -> Columns {
        Columns {
            domain: usize::MAX,
            topic: self.topic - k,
            score: self.score - k,
            name: None,
            size: None,
            industry: None,
            category: self.category.map(|i| i - k),
            country: None,
            count: self.count - k,
        }
    }
}

pub(super) fn columns(header: &csv::ByteRecord) -> Result<Columns, String> {
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect();
    let at = |n: &str| names.iter().position(|h| h == n);
    let need = |n: &str| at(n).ok_or_else(|| format!("the header has no {n} column"));
    Ok(Columns {
        domain: need("domain")?,
        topic: need("topic")?,
        score: need("composite score")?,
        name: at("company name"),
        size: at("size"),
        industry: at("industry"),
        category: at("category"),
        country: at("domain origin country"),
        count: names.len(),
    })
}

/// Read a surge file of week `week` from `input` (gzip or plain).
pub fn read(week: chrono::NaiveDate, input: impl Read) -> Result<(Week, Counts), SurgeError> {
    let text = decompressed(BufReader::with_capacity(1 << 20, input)).map_err(|e| SurgeError {
        line: 1,
        byte: 0,
        reason: format!("cannot read: {e}"),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(text);
    let broke = |pos: Option<&csv::Position>, reason: String| SurgeError {
        line: pos.map_or(0, |p| p.line()),
        byte: pos.map_or(0, |p| p.byte()),
        reason,
    };
    let header = reader
        .byte_headers()
        .map_err(|e| broke(e.position(), format!("not a surge file: {e}")))?
        .clone();
    let cols = columns(&header)
        .map_err(|r| broke(None, r))
        .map_err(|mut e| {
            e.line = 1;
            e
        })?;

    let mut counts = Counts::default();
    let mut builder = Builder::default();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let reason = match e.kind() {
                    csv::ErrorKind::Io(io) => format!("the file is cut short or corrupt: {io}"),
                    _ => format!("not CSV: {e}"),
                };
                return Err(broke(e.position(), reason));
            }
        }
        let pos = record.position();
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if record.len() != cols.count {
            return Err(broke(
                pos,
                format!(
                    "{} of the header's {} columns: the file is cut short or malformed",
                    record.len(),
                    cols.count
                ),
            ));
        }
        counts.rows += 1;
        match builder.row(&record, &cols) {
            Ok(true) => {}
            Ok(false) => counts.unusable_domains += 1,
            Err(reason) => return Err(broke(pos, reason)),
        }
    }
    let (week, duplicates) = builder.finish(None, week).map_err(|r| broke(None, r))?;
    counts.duplicates = duplicates;
    Ok((week, counts))
}

fn parse_score(field: &[u8]) -> Option<u8> {
    // The common case, one to three digits, without going through text.
    if let [a @ b'0'..=b'9', rest @ ..] = field
        && rest.len() <= 2
        && rest.iter().all(u8::is_ascii_digit)
    {
        let v = rest
            .iter()
            .fold(u16::from(a - b'0'), |v, d| v * 10 + u16::from(d - b'0'));
        return u8::try_from(v).ok().filter(|v| *v <= 100);
    }
    let s = std::str::from_utf8(field).ok()?.trim();
    // Whole numbers, possibly written `72.0`.
    let s = s.strip_suffix(".0").unwrap_or(s);
    s.parse::<u8>().ok().filter(|v| *v <= 100)
}

fn text(field: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(field);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[derive(Default)]
pub(super) struct TopicBuilder {
    pub(super) name: String,
    pub(super) category: String,
    /// The rows taken of it.
    pub(super) rows: u32,
}

/// A company's rows taken one after the other: `Builder::entries` from the
/// previous run's end to `end`.
#[derive(Clone, Copy)]
pub(super) struct Run {
    pub(super) company: u32,
    pub(super) end: u32,
}

/// The week being read: companies and topics numbered as they come.
#[derive(Default)]
pub(super) struct Builder {
    /// The raw domain field of the previous row and what it resolved to:
    /// rows come grouped by company, so a domain is normalised about once
    /// per company (again only if its rows are not together).
    last_raw: Vec<u8>,
    last: Option<u32>,
    /// Companies by domain: their numbers, hashed by the domain they hold
    /// in `profiles` (no second copy of each domain).
    pub(super) by_domain: hashbrown::HashTable<u32>,
    pub(super) profiles: Vec<Profile>,
    /// The block of the file being read ([`super::parallel`]), and the
    /// block each company was first read in: a company two threads read is
    /// described as the earlier block described it.
    pub(super) block: u32,
    pub(super) first_block: Vec<u32>,
    pub(super) topic_ids: TopicIds,
    pub(super) topics: Vec<TopicBuilder>,
    /// Every row taken, in the order read, as `topic << 8 | score`: the
    /// scores are put in their topics' lists once the companies have their
    /// numbers ([`Builder::finish`]), already in order, with no sorting.
    pub(super) entries: Vec<u32>,
    /// The runs of `entries` by company (mostly one per company: a file
    /// gives a company's rows together).
    pub(super) runs: Vec<Run>,
}

impl Builder {
    /// Take one data row: `false` when its domain has no registrable part
    /// (skipped); an error when its score or topic is unusable.
    pub(super) fn row<R: Index<usize, Output = [u8]> + ?Sized>(
        &mut self,
        r: &R,
        c: &Columns,
    ) -> Result<bool, String> {
        let score =
            parse_score(&r[c.score]).ok_or("Composite Score: not a whole number from 0 to 100")?;
        let Some(company) = self.company(r, c) else {
            return Ok(false);
        };
        let topic = self.topic(r, c)?;
        self.push(company, topic, score)?;
        Ok(true)
    }

    fn push(&mut self, company: u32, topic: u16, score: u8) -> Result<(), String> {
        self.topics[usize::from(topic)].rows += 1;
        self.entries
            .push((u32::from(topic) << 8) | u32::from(score));
        let end = u32::try_from(self.entries.len()).map_err(|_| "more than 4 billion rows")?;
        match self.runs.last_mut() {
            Some(run) if run.company == company => run.end = end,
            _ => self.runs.push(Run { company, end }),
        }
        Ok(())
    }

    /// A row of the same company as the row before (its company columns
    /// were the same bytes): `tail` holds its columns from the company
    /// prefix on, `c` as seen from there ([`Columns::after`]).
    pub(super) fn row_again<R: Index<usize, Output = [u8]> + ?Sized>(
        &mut self,
        tail: &R,
        c: &Columns,
    ) -> Result<bool, String> {
        let score = parse_score(&tail[c.score])
            .ok_or("Composite Score: not a whole number from 0 to 100")?;
        let Some(company) = self.last else {
            return Ok(false);
        };
        let topic = self.topic(tail, c)?;
        self.push(company, topic, score)?;
        Ok(true)
    }

    fn company<R: Index<usize, Output = [u8]> + ?Sized>(
        &mut self,
        r: &R,
        c: &Columns,
    ) -> Option<u32> {
        let raw = &r[c.domain];
        if raw == self.last_raw.as_slice() && !self.last_raw.is_empty() {
            return self.last;
        }
        let found = std::str::from_utf8(raw)
            .ok()
            .and_then(|d| registrable(d).ok())
            .map(|domain| {
                let Builder {
                    by_domain,
                    profiles,
                    first_block,
                    block,
                    ..
                } = self;
                let hash = domain_hash(&domain);
                if let Some(known) =
                    by_domain.find(hash, |i| profiles[*i as usize].domain == domain)
                {
                    return *known;
                }
                let next = profiles.len() as u32;
                let field = |i: Option<usize>| i.and_then(|i| text(&r[i]));
                let size = c
                    .size
                    .and_then(|i| std::str::from_utf8(&r[i]).ok())
                    .and_then(|s| SizeBand::from_label(s.trim()));
                profiles.push(Profile {
                    domain,
                    name: field(c.name),
                    size,
                    industry: field(c.industry),
                    country: field(c.country),
                });
                first_block.push(*block);
                by_domain.insert_unique(hash, next, |i| domain_hash(&profiles[*i as usize].domain));
                next
            });
        self.last_raw.clear();
        self.last_raw.extend_from_slice(raw);
        self.last = found;
        found
    }

    fn topic<R: Index<usize, Output = [u8]> + ?Sized>(
        &mut self,
        r: &R,
        c: &Columns,
    ) -> Result<u16, String> {
        let raw = &r[c.topic];
        let idx = match self.topic_ids.get(raw) {
            Some(i) => i,
            None => {
                let name = text(raw).ok_or("Topic: empty")?;
                if name.chars().count() > 200 {
                    return Err("Topic: longer than 200 characters".into());
                }
                // The same topic written otherwise (spaces around it).
                if let Some(same) = self.topics.iter().position(|t| t.name == name) {
                    self.topic_ids.insert(raw, same as u16);
                    return Ok(same as u16);
                }
                let idx = u16::try_from(self.topics.len())
                    .map_err(|_| "more than 65,535 topics".to_string())?;
                self.topics.push(TopicBuilder {
                    name,
                    category: c.category.and_then(|i| text(&r[i])).unwrap_or_default(),
                    ..TopicBuilder::default()
                });
                self.topic_ids.insert(raw, idx);
                idx
            }
        };
        Ok(idx)
    }
}

fn domain_hash(domain: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(domain)
}
