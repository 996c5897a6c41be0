//! The recurring job `audiences.rebuild`: every audience not yet built on
//! the latest surge week is built again (trigger `week`), and every one
//! whose account lists changed since (trigger `lists`), each in its
//! tenant's transaction, so a new week or a fixed list row reaches every
//! audience within one run of the job.

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

/// Rebuild every audience not built on the latest week (trigger `week`),
/// and every other one whose lists changed since its last build (trigger
/// `lists`); how many.
pub async fn rebuild_stale(pool: &sqlx::PgPool, storage: &Storage) -> Result<usize> {
    let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
    let latest = intent::surge::store::weeks(all.conn(), None, 1)
        .await?
        .first()
        .map(|w| w.week);
    let mut todo = Vec::new();
    if let Some(week) = latest {
        todo.extend(
            store::stale(all.conn(), week)
                .await?
                .into_iter()
                .map(|(t, id)| (t, id, "week")),
        );
    }
    let definitions = store::definitions(all.conn()).await?;
    let ids: Vec<uuid::Uuid> = definitions.iter().flat_map(|d| d.2.clone()).collect();
    let changed = accounts::read::lists_changed(all.conn(), &ids).await?;
    drop(all);
    for (tenant, id, lists, built_at) in definitions {
        let stale = changed
            .iter()
            .any(|(l, at)| lists.contains(l) && built_at.is_none_or(|b| *at > b));
        if stale && !todo.iter().any(|(_, a, _)| *a == id) {
            todo.push((tenant, id, "lists"));
        }
    }
    for (tenant, id, trigger) in &todo {
        let mut tx = TenantTx::begin(pool, *tenant).await?;
        service::rebuild(&mut tx, storage, *id, trigger)
            .await
            .map_err(|e| anyhow::anyhow!("rebuilding audience {id}: {e}"))?;
        tx.commit().await?;
    }
    Ok(todo.len())
}
