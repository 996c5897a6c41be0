//! Files no creative owns: an upload writes its files before its row
//! commits, so a request that fails after the writes (a duplicate name, a
//! lost connection, a crash) leaves them behind. [`CollectOrphanedFiles`]
//! runs every hour and deletes the files of creative ids that have no row,
//! once all of them are older than a grace period (an upload still in
//! flight is never touched).

use std::time::Duration;

use chrono::Utc;
use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use platform::jobs::{Job, JobContext};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tenancy::scope::{AllTenants, ScopedTx};

use super::store;

/// How old an owner-less creative's newest file must be before it goes.
pub const GRACE: Duration = Duration::from_secs(3600);

/// The recurring job (`creatives.collect_orphans`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CollectOrphanedFiles;

impl Job for CollectOrphanedFiles {
    const KIND: &'static str = "creatives.collect_orphans";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Storage;

    async fn run(self, ctx: JobContext<Storage>) -> anyhow::Result<()> {
        let c = collect(&ctx.pool, &ctx.services, GRACE).await?;
        tracing::info!(
            creatives = c.creatives,
            files = c.files,
            young = c.young,
            "collected files no creative owns"
        );
        metrics::counter!("p360_creative_orphan_files_deleted_total").increment(c.files as u64);
        Ok(())
    }
}

/// What a collection removed and left.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Creative ids whose files were deleted.
    pub creatives: usize,
    pub files: usize,
    /// Owner-less creative ids left for a later run: a file is younger than
    /// the grace period.
    pub young: usize,
}

/// Delete the files of creatives that have no row and whose files are all
/// older than `grace`.
pub async fn collect(
    pool: &PgPool,
    storage: &Storage,
    grace: Duration,
) -> anyhow::Result<Collected> {
    let mut collected = Collected::default();
    let cutoff = Utc::now() - chrono::Duration::from_std(grace)?;
    for tenant in children(storage, &ObjectPath::from("tenants")).await? {
        let prefixes: Vec<String> = children(storage, &tenant.clone().join("creatives"))
            .await?
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        if prefixes.is_empty() {
            continue;
        }
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let known: std::collections::HashSet<String> = store::known_prefixes(&mut tx, &prefixes)
            .await?
            .into_iter()
            .collect();
        drop(tx); // read only
        for prefix in prefixes.into_iter().filter(|p| !known.contains(p)) {
            let path = ObjectPath::from(prefix.as_str());
            let files: Vec<_> = storage.store.list(Some(&path)).try_collect().await?;
            if files.is_empty() {
                // A directory a local store left behind.
                continue;
            }
            if files.iter().any(|f| f.last_modified > cutoff) {
                collected.young += 1;
                continue;
            }
            for f in &files {
                storage.store.delete(&f.location).await?;
            }
            collected.creatives += 1;
            collected.files += files.len();
        }
    }
    Ok(collected)
}

/// The "directories" directly under `prefix`.
async fn children(storage: &Storage, prefix: &ObjectPath) -> anyhow::Result<Vec<ObjectPath>> {
    Ok(storage
        .store
        .list_with_delimiter(Some(prefix))
        .await?
        .common_prefixes)
}
