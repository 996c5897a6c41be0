//! Campaign sync: one job per campaign reads a consistent snapshot of it
//! (`campaigns::read`, one REPEATABLE READ transaction) and pushes it to
//! TTD ([`push`]); the outcome lands in activation's own state, unless a
//! newer change has asked for another sync meanwhile.

mod audiences;
mod duplicates;
mod push;

pub use audiences::{AudienceSegments, SegmentFuture, Segments};
pub use duplicates::CheckDuplicates;
pub use push::{ensure_object, marker};

use std::sync::Arc;
use std::time::Duration;

use campaigns::CampaignId;
use chrono::Utc;
use platform::jobs::{Job, JobContext, Permanent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use crate::store;
use crate::ttd::TtdClient;
use crate::view::syncable;

/// What the sync jobs need besides the database.
pub struct SyncService {
    pub client: TtdClient,
    pub partner_id: String,
    /// Where TTD fetches creative files from (the CDN in front of the bucket).
    pub creative_base_url: String,
    pub failure_webhook: Option<String>,
    /// When to count the objects of a create whose answer never came.
    pub duplicate_check_after: Duration,
    pub http: reqwest::Client,
    /// Who keeps audiences' segments and data groups in TTD.
    pub audiences: Segments,
    /// Lifetime of the IP ranges sent for an audience, and how long before
    /// expiry they are sent again (`[ttd] segment_*`).
    pub segment_ttl_minutes: u32,
    pub segment_refresh_minutes: u32,
}

/// The retry delay of a job that calls TTD: from half a second, doubling to
/// two minutes, with up to 50 % jitter (TTD's throttling clears in seconds,
/// outages in minutes).
pub fn backoff(attempt: i64) -> Duration {
    let base = (500u64 << attempt.clamp(0, 8)).min(120_000);
    let jitter = (Uuid::now_v7().as_u128() % 500) as u64;
    Duration::from_millis(base + base * jitter / 1000)
}

/// Push one campaign and everything it runs to TTD.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncCampaign {
    pub tenant_id: Uuid,
    pub campaign_id: Uuid,
    /// The domain event that asked for it (the first one, when several
    /// changes fold into one waiting sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
}

impl Job for SyncCampaign {
    const KIND: &'static str = "ttd.sync_campaign";
    const QUEUE: &'static str = "activation";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = Arc<SyncService>;

    fn dedup_key(&self) -> Option<String> {
        Some(self.campaign_id.to_string())
    }

    fn backoff(attempt: i64) -> Duration {
        backoff(attempt)
    }

    async fn run(self, ctx: JobContext<Arc<SyncService>>) -> anyhow::Result<()> {
        let svc = &ctx.services;
        let tenant = TenantId(self.tenant_id);
        let id = CampaignId(self.campaign_id);
        // The generation this sync works for and the campaign, on one snapshot.
        let mut tx = TenantTx::begin_snapshot(&ctx.pool, tenant).await?;
        let generation = store::generation(&mut tx, id).await?.unwrap_or(0);
        let snap = campaigns::read::snapshot(&mut tx, id).await?;
        tx.end_read();
        let Some(snap) = snap else {
            tracing::info!(campaign = %id, "campaign gone; nothing to sync");
            return Ok(());
        };
        if !syncable(snap.campaign.status) {
            return Ok(());
        }
        match push::push(svc, &ctx.pool, tenant, &snap, ctx.is_last_attempt()).await {
            Ok(ttd) => {
                outcome(
                    &ctx.pool,
                    tenant,
                    id,
                    generation,
                    "synced",
                    Some(&ttd),
                    None,
                )
                .await?;
                metrics::counter!("p360_ttd_campaign_syncs_total", "outcome" => "synced")
                    .increment(1);
                tracing::info!(campaign = %id, attempt = ctx.attempt, "campaign synced to TTD");
                Ok(())
            }
            Err(e) => {
                let message = format!("{e:#}");
                let permanent = push::is_permanent(&e);
                let last = permanent || ctx.is_last_attempt();
                let status = if last { "failed" } else { "pending" };
                outcome(
                    &ctx.pool,
                    tenant,
                    id,
                    generation,
                    status,
                    None,
                    Some(&message),
                )
                .await?;
                metrics::counter!("p360_ttd_campaign_syncs_total", "outcome" => if last { "failed" } else { "retried" })
                    .increment(1);
                if last {
                    notify_failure(svc, tenant, id, &message).await;
                }
                if permanent {
                    return Err(Permanent(message).into());
                }
                Err(e)
            }
        }
    }
}

/// Record the outcome; when a newer change moved the generation on, make
/// sure a sync runs for it: that change's job may have been folded into this
/// one while it waited, and it read the campaign before the change committed.
async fn outcome(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    campaign: CampaignId,
    generation: i64,
    status: &str,
    ttd: Option<&serde_json::Value>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    if !store::set_outcome(&mut tx, campaign, generation, status, ttd, error).await?
        && store::generation(&mut tx, campaign)
            .await?
            .is_some_and(|current| current > generation)
    {
        let again = SyncCampaign {
            tenant_id: tenant.0,
            campaign_id: campaign.0,
            event_id: None,
        };
        platform::jobs::enqueue(tx.conn(), &again, None).await?;
    }
    tx.commit().await
}

/// A sync that failed for good: an error log line for the alerting on logs,
/// and a webhook when one is configured.
async fn notify_failure(svc: &SyncService, tenant: TenantId, campaign: CampaignId, message: &str) {
    tracing::error!(
        event = "activation.sync_failed",
        tenant = %tenant,
        campaign = %campaign,
        error = %message,
        "TTD sync failed after every retry"
    );
    if let Some(url) = &svc.failure_webhook {
        let body = json!({
            "event": "activation.sync_failed",
            "tenant_id": tenant.0,
            "campaign_id": campaign,
            "error": message,
            "at": Utc::now(),
        });
        let sent = svc
            .http
            .post(url)
            .timeout(Duration::from_secs(5))
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), "the failure webhook refused the notification")
            }
            Err(e) => tracing::warn!(error = %e, "the failure webhook is unreachable"),
        }
    }
}
