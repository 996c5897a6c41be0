//! Importing IP ranges: a file's ranges replace the stored ranges of the
//! companies it names, under a lock that serialises imports.

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Range, parse, store, without_overlaps};
use crate::companies::SkippedLine;
use crate::companies::service::ImportError;

/// What an import of ranges did.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct RangeReport {
    pub added: u64,
    /// Stored ranges of the companies the file names that it no longer lists.
    pub removed: u64,
    pub unchanged: u64,
    pub skipped: Vec<SkippedLine>,
}

/// Import an IP-range file in the caller's transaction.
pub async fn import(conn: &mut PgConnection, bytes: &[u8]) -> Result<RangeReport, ImportError> {
    let mut parsed = parse(bytes)?;
    store::lock_imports(conn).await?;
    let named: Vec<String> = parsed
        .ranges
        .iter()
        .map(|(_, d, _)| d.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let known: BTreeSet<String> = store::known(conn, &named).await?.into_iter().collect();
    let (ranges, unknown): (Vec<_>, Vec<_>) = parsed
        .ranges
        .into_iter()
        .partition(|(_, d, _)| known.contains(d));
    for (line, domain, _) in unknown {
        parsed.skipped.push(SkippedLine {
            line,
            reason: format!("no company {domain} in the universe (import it first)"),
        });
    }
    parsed.ranges = ranges;
    let known: Vec<String> = known.into_iter().collect();
    let elsewhere = store::stored(conn, &known, false).await?;
    let checked = without_overlaps(parsed, &elsewhere);
    let before: BTreeSet<(String, Range)> = store::stored(conn, &known, true)
        .await?
        .into_iter()
        .collect();
    let after: BTreeSet<(String, Range)> =
        checked.ranges.into_iter().map(|(_, d, r)| (d, r)).collect();
    let removed: Vec<_> = before.difference(&after).cloned().collect();
    let added: Vec<_> = after.difference(&before).cloned().collect();
    store::delete(conn, &removed).await?;
    store::insert(conn, &added).await?;
    if !removed.is_empty() || !added.is_empty() {
        store::ranges_changed(conn).await?;
    }
    Ok(RangeReport {
        added: added.len() as u64,
        removed: removed.len() as u64,
        unchanged: after.intersection(&before).count() as u64,
        skipped: checked.skipped,
    })
}
