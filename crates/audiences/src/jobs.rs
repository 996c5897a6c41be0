//! The recurring job `audiences.rebuild`: every audience not yet built on
//! the latest surge week is built again (trigger `week`), each in its
//! tenant's transaction, so a new week reaches every audience within one
//! run of the job.

use anyhow::Result;
use platform::jobs::{Job, JobContext};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use tenancy::TenantTx;
use tenancy::scope::{AllTenants, ScopedTx};

use crate::audience::{service, store};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RebuildStale;

impl Job for RebuildStale {
    const KIND: &'static str = "audiences.rebuild";
    const MAX_ATTEMPTS: i64 = 5;
    type Context = Storage;

    fn dedup_key(&self) -> Option<String> {
        Some("stale".into())
    }

    async fn run(self, ctx: JobContext<Storage>) -> Result<()> {
        let built = rebuild_stale(&ctx.pool, &ctx.services).await?;
        if built > 0 {
            tracing::info!(
                audiences = built,
                "audiences rebuilt on the latest surge week"
            );
        }
        Ok(())
    }
}

/// Rebuild every audience not built on the latest week; how many.
pub async fn rebuild_stale(pool: &sqlx::PgPool, storage: &Storage) -> Result<usize> {
    let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
    let Some(latest) = intent::surge::store::weeks(all.conn(), None, 1)
        .await?
        .first()
        .map(|w| w.week)
    else {
        return Ok(0);
    };
    let stale = store::stale(all.conn(), latest).await?;
    drop(all);
    for (tenant, id) in &stale {
        let mut tx = TenantTx::begin(pool, *tenant).await?;
        service::rebuild(&mut tx, storage, *id, "week")
            .await
            .map_err(|e| anyhow::anyhow!("rebuilding audience {id}: {e}"))?;
        tx.commit().await?;
    }
    Ok(stale.len())
}
