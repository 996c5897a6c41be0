//! The restore test's results. Each run of `p360 restore-check --record`
//! (monthly, against a scratch restore of the latest backup) writes its
//! result to the object store as `restore-checks/<UTC time>.json`, passed
//! or not; the worker's hourly `backup.restore_check_metrics` reads the
//! newest and exports them, so an alert says when the last test failed and
//! when none has passed for 35 days (`P360RestoreTestFailed`,
//! `P360RestoreTestOverdue`).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use crate::jobs::{Job, JobContext};
use crate::storage::Storage;

/// Where results are kept in the object store.
pub const PREFIX: &str = "restore-checks/";

/// What one run of the restore check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreCheckResult {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The newest migration applied to the restore.
    pub migration: i64,
    pub chains: usize,
    pub events: usize,
    pub creatives_checked: usize,
    pub creatives_missing: usize,
    /// Each problem, in a line.
    pub problems: Vec<String>,
}

/// Keep `result` in `storage`: its key.
pub async fn record(storage: &Storage, result: &RestoreCheckResult) -> Result<String> {
    let key = format!("{PREFIX}{}.json", result.at.format("%Y%m%dT%H%M%S%.6fZ"));
    storage
        .store
        .put(
            &ObjectPath::from(key.as_str()),
            serde_json::to_vec(result)?.into(),
        )
        .await
        .with_context(|| format!("cannot write {key} to {}", storage.describe))?;
    Ok(key)
}

/// The newest result, and the newest that passed.
pub async fn newest(
    storage: &Storage,
) -> Result<(Option<RestoreCheckResult>, Option<RestoreCheckResult>)> {
    let mut keys: Vec<ObjectPath> = storage
        .store
        .list(Some(&ObjectPath::from(PREFIX)))
        .map_ok(|o| o.location)
        .try_collect()
        .await
        .with_context(|| format!("cannot list {PREFIX} in {}", storage.describe))?;
    keys.sort();
    let mut last = None;
    for key in keys.iter().rev() {
        let bytes = storage.store.get(key).await?.bytes().await?;
        let Ok(result) = serde_json::from_slice::<RestoreCheckResult>(&bytes) else {
            tracing::warn!(%key, "not a restore check result; skipped");
            continue;
        };
        if result.ok {
            return Ok((last.or(Some(result.clone())), Some(result)));
        }
        last = last.or(Some(result));
    }
    Ok((last, None))
}

/// Export the newest results (`backup.restore_check_metrics`, hourly):
/// `p360_restore_check_ok` (1 when the newest run passed),
/// `p360_restore_check_last_run_timestamp_seconds` and
/// `p360_restore_check_last_success_timestamp_seconds`; nothing before the
/// first run.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RestoreCheckMetrics;

impl Job for RestoreCheckMetrics {
    const KIND: &'static str = "backup.restore_check_metrics";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Storage;

    async fn run(self, ctx: JobContext<Storage>) -> Result<()> {
        let (last, passed) = newest(&ctx.services).await?;
        if let Some(last) = last {
            metrics::gauge!("p360_restore_check_ok").set(if last.ok { 1.0 } else { 0.0 });
            metrics::gauge!("p360_restore_check_last_run_timestamp_seconds")
                .set(last.at.timestamp() as f64);
        }
        if let Some(passed) = passed {
            metrics::gauge!("p360_restore_check_last_success_timestamp_seconds")
                .set(passed.at.timestamp() as f64);
        }
        Ok(())
    }
}
