//! Ingesting a REDS impression file: known by its key and the BLAKE3 of
//! its bytes (the same file again changes nothing; another file under the
//! same key replaces the earlier one's rows exactly), read into its rollup
//! off the async threads ([`crate::read`]), and stored in one transaction
//! with TTD's ids mapped to P360's through the activation mapping
//! (`ttd_objects`). A file that does not read whole is recorded as
//! quarantined with the reason; nothing of it is applied. The transaction
//! queues the merge into the tables reports read ([`crate::merge`]).

mod store;

use std::path::Path;

use sqlx::PgPool;
use tenancy::scope::{AllTenants, ScopedTx};
use uuid::Uuid;

use crate::read::{self, Rollup};
use crate::schema::ImpressionColumns;

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

/// One file's ingest.
#[derive(Debug, Clone)]
pub struct Report {
    pub file: Uuid,
    pub outcome: Outcome,
    pub rows: u64,
    pub unresolved: u64,
    pub unknown_campaigns: u64,
    pub cells: u64,
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

/// Ingest the impression file at `path`, known as `key`, laid out as `cols`.
/// The file is hashed before it is read (a tenth of a second for 300 MB),
/// so a file seen before is not parsed again.
pub async fn impressions(
    pool: &PgPool,
    key: &str,
    path: &Path,
    cols: ImpressionColumns,
) -> anyhow::Result<Report> {
    let owned = path.to_path_buf();
    let sum = tokio::task::spawn_blocking(move || checksum(&owned)).await??;
    if let Some(known) = store::file(pool, key, &sum).await? {
        metrics::counter!("p360_delivery_files_total", "outcome" => "unchanged").increment(1);
        return Ok(known);
    }
    let (ranges, domains) = store::ranges(pool).await?;
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let file = std::fs::File::open(&owned)?;
        Ok(read::impressions(file, cols, &ranges))
    })
    .await??;
    let rollup = match read {
        Ok(rollup) => rollup,
        Err(e) => {
            let reason = e.to_string();
            let file = store::quarantine(pool, key, &sum, &reason).await?;
            metrics::counter!("p360_delivery_files_total", "outcome" => "quarantined").increment(1);
            return Ok(Report {
                file,
                outcome: Outcome::Quarantined(reason),
                rows: 0,
                unresolved: 0,
                unknown_campaigns: 0,
                cells: 0,
            });
        }
    };
    let report = apply(pool, key, &sum, &rollup, &domains).await?;
    let outcome = match report.outcome {
        Outcome::Applied => "applied",
        Outcome::Replaced => "replaced",
        _ => "unchanged",
    };
    metrics::counter!("p360_delivery_files_total", "outcome" => outcome).increment(1);
    if outcome != "unchanged" {
        let resolved = report.rows - report.unresolved;
        metrics::counter!("p360_delivery_impressions_total", "resolution" => "resolved")
            .increment(resolved);
        metrics::counter!("p360_delivery_impressions_total", "resolution" => "unresolved")
            .increment(report.unresolved);
    }
    Ok(report)
}

/// Store `rollup` as file `key` (BLAKE3 `sum`), replacing the file before
/// under the key, in one transaction.
async fn apply(
    pool: &PgPool,
    key: &str,
    sum: &str,
    rollup: &Rollup,
    domains: &[String],
) -> anyhow::Result<Report> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    store::lock_key(tx.conn(), key).await?;
    if let Some(known) = store::file(&mut *tx.conn(), key, sum).await? {
        return Ok(known);
    }
    let replaced = store::retire(tx.conn(), key).await?;
    let file = Uuid::now_v7();
    let unknown_campaigns = store::insert_rollup(tx.conn(), file, rollup, domains).await?;
    let report = Report {
        file,
        outcome: if replaced {
            Outcome::Replaced
        } else {
            Outcome::Applied
        },
        rows: rollup.rows,
        unresolved: rollup.unresolved,
        unknown_campaigns,
        cells: rollup.cells.len() as u64,
    };
    let until = rollup
        .hours
        .keys()
        .map(|(h, _)| *h)
        .max()
        .and_then(|h| chrono::DateTime::from_timestamp((h + 1) * 3_600, 0));
    store::insert_file(tx.conn(), key, sum, &report, until).await?;
    crate::merge::MergeFiles::enqueue(tx.conn()).await?;
    tx.commit().await?;
    Ok(report)
}

pub use store::ranges;
