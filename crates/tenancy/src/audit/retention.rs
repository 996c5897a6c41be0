//! The audit log's hot window: the table is partitioned by month
//! (migration 39); the worker's daily `audit.archive` job keeps partitions
//! two months ahead, archives each month past `audit.archive_after_days`
//! (`super::archive`), and, with `audit.drop_archived_months`, drops each
//! archived month from the table once its archive, read back, holds
//! exactly the table's events. The database does the drop
//! (`audit_drop_month`, as the table's owner): only the oldest month, ended
//! at least 30 days ago, holding as many events as the archive says; it
//! records the month, the archive's checksum and each chain's last link,
//! which `super::verify` and `archive::verify` then hold the table and the
//! archive to.

use std::io::BufRead as _;

use anyhow::{Context, Result, bail};
use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;
use platform::jobs::{Job, JobContext};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::archive::{self, Line, Manifest, month_start, next_month, objects};
use super::{AuditEvent, store};
use crate::credentials::dev::hex;
use crate::scope::{AllTenants, ScopedTx};

/// What one pass did: the months archived (with their events) and the
/// months dropped from the table (with theirs).
#[derive(Debug, Default)]
pub struct Pass {
    pub archived: Vec<(String, usize)>,
    pub dropped: Vec<(String, i64)>,
}

/// One pass at `now`: partitions for every month from the oldest event's
/// to two months ahead (a month's rows that landed in the default partition
/// move to its own), each month past `after_days` archived, and with
/// `drop` each archived month past it dropped from the table, oldest first.
pub async fn run(
    pool: &PgPool,
    storage: &Storage,
    now: DateTime<Utc>,
    after_days: u32,
    drop: bool,
) -> Result<Pass> {
    let oldest = ensure_partitions(pool, now).await?;
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let mut pass = Pass {
        archived: archive::archive_since(&mut tx, storage, oldest, now, after_days).await?,
        ..Pass::default()
    };
    std::mem::drop(tx); // read only
    if drop {
        let cutoff = now - chrono::Duration::days(after_days.into());
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let months = store::partitions(&mut tx).await?;
        std::mem::drop(tx); // read only
        for month in months {
            if month_start(next_month(month)) > cutoff {
                break;
            }
            pass.dropped.push(drop_month(pool, storage, month).await?);
        }
    }
    Ok(pass)
}

/// Make the partitions; when the oldest event occurred (one scan of the
/// table, which the archive needs too).
async fn ensure_partitions(pool: &PgPool, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let oldest = store::oldest(&mut tx).await?;
    let mut month = oldest
        .unwrap_or(now)
        .date_naive()
        .with_day(1)
        .expect("day 1 exists");
    let last = next_month(next_month(now.date_naive()));
    while month <= last {
        store::ensure_partition(&mut tx, month)
            .await
            .with_context(|| format!("cannot make the audit partition of {month}"))?;
        month = next_month(month);
    }
    tx.commit().await?;
    Ok(oldest)
}

/// Drop the month beginning `month` from the table after reading its
/// archive back (archiving it first if it is not: a month without
/// events). Fails, dropping nothing, when the archive is not exactly the
/// table's events.
async fn drop_month(pool: &PgPool, storage: &Storage, month: NaiveDate) -> Result<(String, i64)> {
    let name = month.format("%Y-%m").to_string();
    let (file, manifest_path) = objects(&name);
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    let manifest: Manifest = match storage.store.get(&manifest_path).await {
        Ok(r) => serde_json::from_slice(&r.bytes().await?)
            .with_context(|| format!("{manifest_path} is not an archive manifest"))?,
        Err(object_store::Error::NotFound { .. }) => {
            archive::archive_month(&mut tx, storage, month).await?
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {manifest_path}")),
    };
    let body = storage
        .store
        .get(&file)
        .await
        .with_context(|| format!("cannot read {file}"))?
        .bytes()
        .await?;
    let refuse = |why: String| anyhow::anyhow!("audit month {name} not dropped: {why}");
    if hex(digest(&SHA256, &body).as_ref()) != manifest.sha256 {
        return Err(refuse("its archive file differs from its manifest".into()));
    }
    let from = month_start(month);
    let to = month_start(next_month(month));
    let mut table = store::links_between(&mut tx, from, to);
    let reader =
        std::io::BufReader::with_capacity(1 << 18, flate2::read::GzDecoder::new(&body[..]));
    let mut count: i64 = 0;
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| refuse(format!("its archive is not gzip text: {e}")))?;
        let event: AuditEvent = serde_json::from_str::<Line>(&line)
            .map_err(|e| {
                refuse(format!(
                    "line {} of its archive is not an event: {e}",
                    n + 1
                ))
            })?
            .into();
        if event.compute_hash() != event.hash {
            return Err(refuse(format!(
                "line {} of its archive does not hash to what it says",
                n + 1
            )));
        }
        match table.try_next().await? {
            Some((chain, seq, hash))
                if chain == event.chain_id && seq == event.seq && hash == event.hash => {}
            _ => {
                return Err(refuse(format!(
                    "line {} of its archive is not the table's next event",
                    n + 1
                )));
            }
        }
        count += 1;
    }
    if table.try_next().await?.is_some() {
        bail!("audit month {name} not dropped: the table holds events its archive does not");
    }
    std::mem::drop(table);
    if count != manifest.events as i64 {
        return Err(refuse(format!(
            "its archive holds {count} events, its manifest says {}",
            manifest.events
        )));
    }
    let dropped = store::drop_month(&mut tx, month, &manifest.sha256, count)
        .await
        .map_err(|e| refuse(e.to_string()))?;
    tx.commit().await?;
    Ok((name, dropped))
}

/// Where the archive goes, the hot window, and whether archived months
/// leave the table.
#[derive(Clone)]
pub struct Retention {
    pub storage: Storage,
    pub after_days: u32,
    pub drop: bool,
}

/// The daily job (`audit.archive`): one [`run`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArchiveAudit;

impl Job for ArchiveAudit {
    const KIND: &'static str = "audit.archive";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Retention;

    async fn run(self, ctx: JobContext<Retention>) -> Result<()> {
        let r = &ctx.services;
        let pass = run(&ctx.pool, &r.storage, Utc::now(), r.after_days, r.drop).await?;
        for (month, events) in &pass.archived {
            tracing::info!(month, events, "audit month archived");
        }
        for (month, events) in &pass.dropped {
            tracing::info!(month, events, "archived audit month dropped from the table");
        }
        Ok(())
    }
}
