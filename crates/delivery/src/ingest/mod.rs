//! Ingesting a REDS file (impressions or clicks, told apart by their
//! column count against the configured layouts): known by its key and the
//! BLAKE3 of its bytes (the same file again changes nothing; another file
//! under the same key replaces the earlier one's rows exactly), read into
//! its rollup off the async threads ([`crate::read`], [`crate::clicks`]),
//! and stored in one transaction with TTD's ids mapped to P360's through
//! the activation mapping (`ttd_objects`). A file that does not read whole
//! is recorded as quarantined with the reason; nothing of it is applied.
//! The transaction queues the merge into the tables reports read
//! ([`crate::merge`]).
//!
//! A click file's rows are cells with clicks and nothing else, under the
//! click file: its clicks land in the cells of the impressions they were
//! made on, found by reading again the impression files of the hours
//! before the clicks ([`Sources`] says where their bytes are).

mod sources;
mod store;

use std::io::{BufRead, Read};
use std::path::Path;

use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::PgPool;
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

use crate::read::{self, Rollup};
use crate::schema::{ClickColumns, ImpressionColumns};

pub use sources::Sources;
pub use store::{RangeSet, ranges};

/// What became of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its rows were applied.
    Applied,
    /// Its rows replaced those of the earlier file under its key.
    Replaced,
    /// The same file was ingested before: nothing changed.
    Unchanged,
    /// It does not read whole: recorded with the reason, nothing applied.
    Quarantined(String),
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Impressions,
    Clicks,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Impressions => "impressions",
            Kind::Clicks => "clicks",
        }
    }
}

/// The feed's layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layouts {
    pub impressions: ImpressionColumns,
    pub clicks: ClickColumns,
}

/// One file's ingest.
#[derive(Debug, Clone)]
pub struct Report {
    pub file: Uuid,
    pub kind: Kind,
    pub outcome: Outcome,
    /// Impressions, or clicks.
    pub rows: u64,
    pub unresolved: u64,
    pub unknown_campaigns: u64,
    pub cells: u64,
    /// Clicks whose impressions were found.
    pub clicks_joined: u64,
}

impl Report {
    fn quarantined(file: Uuid, kind: Kind, reason: String) -> Report {
        Report {
            file,
            kind,
            outcome: Outcome::Quarantined(reason),
            rows: 0,
            unresolved: 0,
            unknown_campaigns: 0,
            cells: 0,
            clicks_joined: 0,
        }
    }
}

/// The BLAKE3 of the file at `path`, hex.
fn checksum(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().to_hex().to_string());
        }
        hasher.update(&buf[..n]);
    }
}

/// The file ingested before under `key` with the bytes at `path`, or (not
/// seen) the BLAKE3 of those bytes.
async fn seen(pool: &PgPool, key: &str, path: &Path) -> anyhow::Result<Result<Report, String>> {
    let owned = path.to_path_buf();
    let sum = tokio::task::spawn_blocking(move || checksum(&owned)).await??;
    Ok(match store::file(pool, key, &sum).await? {
        Some(known) => {
            metrics::counter!("p360_delivery_files_total", "outcome" => "unchanged").increment(1);
            Ok(known)
        }
        None => Err(sum),
    })
}

/// What the file at `path` holds, by its first line's column count; `Err`
/// with the reason when it is neither layout's.
pub fn kind_of(path: &Path, layouts: &Layouts) -> std::io::Result<Result<Kind, String>> {
    let mut input = std::io::BufReader::new(std::fs::File::open(path)?);
    let gzip = input.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let input: Box<dyn Read> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut first = Vec::new();
    if let Err(e) = std::io::BufReader::new(input.take(1 << 20)).read_until(b'\n', &mut first) {
        return Ok(Err(format!("the file is damaged or cut short: {e}")));
    }
    if first.is_empty() {
        // An hour without impressions is an empty impression file.
        return Ok(Ok(Kind::Impressions));
    }
    let columns = first.iter().filter(|b| **b == b'\t').count() + 1;
    Ok(if columns == layouts.impressions.count {
        Ok(Kind::Impressions)
    } else if columns == layouts.clicks.count {
        Ok(Kind::Clicks)
    } else {
        Err(format!(
            "line 1: {columns} columns, neither the impression layout's {} nor the click layout's {}",
            layouts.impressions.count, layouts.clicks.count
        ))
    })
}

/// Ingest the REDS file at `path`, known as `key`: impressions or clicks.
pub async fn file(
    pool: &PgPool,
    key: &str,
    path: &Path,
    layouts: Layouts,
    sources: &Sources,
) -> anyhow::Result<Report> {
    let owned = path.to_path_buf();
    let kind = tokio::task::spawn_blocking(move || kind_of(&owned, &layouts)).await??;
    file_of_kind(pool, key, path, kind, layouts, sources).await
}

/// As [`file`], its kind already told by [`kind_of`] (`Err`: neither
/// layout's, quarantined with the reason).
pub async fn file_of_kind(
    pool: &PgPool,
    key: &str,
    path: &Path,
    kind: Result<Kind, String>,
    layouts: Layouts,
    sources: &Sources,
) -> anyhow::Result<Report> {
    match kind {
        Ok(Kind::Impressions) => impressions(pool, key, path, layouts.impressions).await,
        Ok(Kind::Clicks) => clicks(pool, key, path, layouts, sources).await,
        Err(reason) => match seen(pool, key, path).await? {
            Ok(known) => Ok(known),
            Err(sum) => quarantine(pool, key, &sum, Kind::Impressions, reason).await,
        },
    }
}

/// Ingest the impression file at `path`, known as `key`, laid out as `cols`.
/// The file is hashed before it is read (a tenth of a second for 300 MB),
/// so a file seen before is not parsed again.
pub async fn impressions(
    pool: &PgPool,
    key: &str,
    path: &Path,
    cols: ImpressionColumns,
) -> anyhow::Result<Report> {
    let sum = match seen(pool, key, path).await? {
        Ok(known) => return Ok(known),
        Err(sum) => sum,
    };
    let set = store::ranges(pool).await?;
    let owned = path.to_path_buf();
    let resolver = set.clone();
    let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let file = std::fs::File::open(&owned)?;
        Ok(read::impressions(file, cols, &resolver.ranges))
    })
    .await??;
    let rollup = match read {
        Ok(rollup) => rollup,
        Err(e) => return quarantine(pool, key, &sum, Kind::Impressions, e.to_string()).await,
    };
    let hours = rollup.hours.keys().map(|(h, _)| *h);
    let span = hours
        .clone()
        .min()
        .zip(hours.max())
        .and_then(|(a, b)| hour(a).zip(hour(b + 1)));
    apply(
        pool,
        Stored {
            key,
            sum: &sum,
            kind: Kind::Impressions,
            hours: span,
            clicks_joined: 0,
        },
        rollup,
        set,
    )
    .await
}

/// How far before a click its impression's file may begin.
const CLICK_LOOKBACK_HOURS: i64 = 2;

/// Ingest the click file at `path`, known as `key`: each click joined to
/// its impression in the impression files of its hour and the hours before
/// ([`CLICK_LOOKBACK_HOURS`]), read again from `sources`.
pub async fn clicks(
    pool: &PgPool,
    key: &str,
    path: &Path,
    layouts: Layouts,
    sources: &Sources,
) -> anyhow::Result<Report> {
    let sum = match seen(pool, key, path).await? {
        Ok(known) => return Ok(known),
        Err(sum) => sum,
    };
    let owned = path.to_path_buf();
    let cols = layouts.clicks;
    let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok(crate::clicks::read(std::fs::File::open(&owned)?, cols))
    })
    .await??;
    let clicks = match read {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => return quarantine(pool, key, &sum, Kind::Clicks, e.to_string()).await,
    };
    let set = store::ranges(pool).await?;
    let mut found: FxHashMap<Box<[u8]>, crate::clicks::Made> = FxHashMap::default();
    let span = clicks
        .iter()
        .map(|c| c.hour)
        .min()
        .zip(clicks.iter().map(|c| c.hour).max());
    if let Some((first, last)) = span
        && let (Some(from), Some(to)) = (hour(first - CLICK_LOOKBACK_HOURS), hour(last + 1))
    {
        let wanted: std::sync::Arc<FxHashSet<Box<[u8]>>> =
            std::sync::Arc::new(clicks.iter().map(|c| c.impression.clone()).collect());
        for source in store::impression_files_between(pool, from, to).await? {
            let Some(local) = sources.fetch(&source).await? else {
                tracing::warn!(
                    file = %source,
                    "an impression file is no longer readable: clicks made on it count on their own campaign and address"
                );
                continue;
            };
            let (w, r) = (wanted.clone(), set.clone());
            let cols = layouts.impressions;
            let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let file = std::fs::File::open(local.path())?;
                Ok(read::impressions_joining(file, cols, &r.ranges, &w))
            })
            .await??;
            match read {
                Ok(rollup) => crate::clicks::made(&rollup, &mut found),
                Err(e) => {
                    tracing::warn!(file = %source, error = %e, "an impression file no longer reads whole: not joined")
                }
            }
        }
    }
    let (c, r) = (clicks.clone(), set.clone());
    let rolled =
        tokio::task::spawn_blocking(move || crate::clicks::roll_up(&c, &found, &r.ranges)).await?;
    let (rollup, joined) = match rolled {
        Ok(x) => x,
        Err(e) => return quarantine(pool, key, &sum, Kind::Clicks, e.to_string()).await,
    };
    let span = span.and_then(|(a, b)| hour(a).zip(hour(b + 1)));
    apply(
        pool,
        Stored {
            key,
            sum: &sum,
            kind: Kind::Clicks,
            hours: span,
            clicks_joined: joined,
        },
        rollup,
        set,
    )
    .await
}

/// The start of hour `h` (from 1970-01-01T00).
fn hour(h: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(h.checked_mul(3_600)?, 0)
}

async fn quarantine(
    pool: &PgPool,
    key: &str,
    sum: &str,
    kind: Kind,
    reason: String,
) -> anyhow::Result<Report> {
    let file = store::quarantine(pool, key, sum, kind, &reason).await?;
    metrics::counter!("p360_delivery_files_total", "outcome" => "quarantined").increment(1);
    Ok(Report::quarantined(file, kind, reason))
}

/// What a file is stored as.
struct Stored<'a> {
    key: &'a str,
    sum: &'a str,
    kind: Kind,
    hours: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    clicks_joined: u64,
}

/// Store `rollup` as file `s.key` (BLAKE3 `s.sum`), replacing the file
/// before under the key, in one transaction.
async fn apply(
    pool: &PgPool,
    s: Stored<'_>,
    rollup: Rollup,
    set: std::sync::Arc<RangeSet>,
) -> anyhow::Result<Report> {
    let rollup = std::sync::Arc::new(rollup);
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    store::lock_key(tx.conn(), s.key).await?;
    if let Some(known) = store::file(&mut *tx.conn(), s.key, s.sum).await? {
        return Ok(known);
    }
    let replaced = store::retire(tx.conn(), s.key).await?;
    let file = Uuid::now_v7();
    let unknown_campaigns =
        store::insert_rollup(tx.conn(), pool, file, rollup.clone(), set).await?;
    let report = Report {
        file,
        kind: s.kind,
        outcome: if replaced {
            Outcome::Replaced
        } else {
            Outcome::Applied
        },
        rows: rollup.rows,
        unresolved: rollup.unresolved,
        unknown_campaigns,
        cells: rollup.cells.len() as u64,
        clicks_joined: s.clicks_joined,
    };
    store::insert_file(tx.conn(), s.key, s.sum, s.kind, &report, s.hours).await?;
    crate::merge::MergeFiles::enqueue(tx.conn()).await?;
    tx.commit().await?;
    let outcome = if replaced { "replaced" } else { "applied" };
    metrics::counter!("p360_delivery_files_total", "outcome" => outcome).increment(1);
    if s.kind == Kind::Impressions {
        metrics::counter!("p360_delivery_impressions_total", "resolution" => "resolved")
            .increment(report.rows - report.unresolved);
        metrics::counter!("p360_delivery_impressions_total", "resolution" => "unresolved")
            .increment(report.unresolved);
    }
    Ok(report)
}
