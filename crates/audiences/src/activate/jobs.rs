//! The jobs that keep activated audiences in step with TTD:
//! `audiences.activate` (one audience's segments, after each build) and the
//! hourly `audiences.refresh_segments`.

use std::sync::Arc;
use std::time::Duration;

use activation::SyncService;
use anyhow::Result;
use chrono::Utc;
use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use tenancy::scope::{AllTenants, ScopedTx};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{store, sync};
use crate::ids::AudienceId;

/// Sync every segment of one audience.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivateAudience {
    pub tenant_id: Uuid,
    pub audience_id: Uuid,
}

impl ActivateAudience {
    /// Queue the sync of `audience` in `tx` if it is activated anywhere.
    pub async fn queue_if_activated(
        tx: &mut TenantTx,
        audience: AudienceId,
    ) -> Result<(), sqlx::Error> {
        if store::activated(tx, audience).await? {
            let job = ActivateAudience {
                tenant_id: tx.tenant().0,
                audience_id: audience.0,
            };
            platform::jobs::enqueue(tx.conn(), &job, None).await?;
        }
        Ok(())
    }
}

impl Job for ActivateAudience {
    const KIND: &'static str = "audiences.activate";
    const QUEUE: &'static str = "activation";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = Arc<SyncService>;

    fn dedup_key(&self) -> Option<String> {
        Some(self.audience_id.to_string())
    }

    fn backoff(attempt: i64) -> Duration {
        activation::sync::backoff(attempt)
    }

    async fn run(self, ctx: JobContext<Arc<SyncService>>) -> Result<()> {
        let tenant = TenantId(self.tenant_id);
        let audience = AudienceId(self.audience_id);
        let mut tx = TenantTx::begin(&ctx.pool, tenant).await?;
        let segments = store::of_audience(&mut tx, audience).await?;
        tx.end_read();
        for s in segments {
            sync::sync_segment(
                &ctx.services,
                &ctx.pool,
                tenant,
                audience,
                &s.ttd_advertiser_id,
            )
            .await?;
        }
        Ok(())
    }
}

/// Every audience whose segments are behind, expiring or not synced for a
/// day gets an `audiences.activate`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RefreshSegments;

impl Job for RefreshSegments {
    const KIND: &'static str = "audiences.refresh_segments";
    const MAX_ATTEMPTS: i64 = 5;
    type Context = Arc<SyncService>;

    fn dedup_key(&self) -> Option<String> {
        Some("refresh".into())
    }

    async fn run(self, ctx: JobContext<Arc<SyncService>>) -> Result<()> {
        let due = queue_due(&ctx.pool, ctx.services.segment_refresh_minutes).await?;
        if due > 0 {
            tracing::info!(audiences = due, "audience segments queued for TTD");
        }
        Ok(())
    }
}

/// Queue `audiences.activate` for every audience whose segments are behind
/// their audience's build, hold blocks expiring within `refresh_minutes`,
/// or were not synced for a day; how many.
pub async fn queue_due(pool: &sqlx::PgPool, refresh_minutes: u32) -> Result<usize> {
    let now = Utc::now();
    let refresh_by = now + chrono::Duration::minutes(i64::from(refresh_minutes));
    let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
    let due = store::due(all.conn(), refresh_by, now - chrono::Duration::days(1)).await?;
    for (tenant, audience) in &due {
        let job = ActivateAudience {
            tenant_id: tenant.0,
            audience_id: audience.0,
        };
        platform::jobs::enqueue(all.conn(), &job, None).await?;
    }
    all.commit().await?;
    Ok(due.len())
}
