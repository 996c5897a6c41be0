//! Campaign sync: one job per campaign pushes the advertiser, the campaign,
//! the creatives its ad groups run and the ad groups to TTD, in that order
//! (an ad group names its creatives by their TTD ids, so they go first).
//!
//! Exactly one TTD object per P360 object, whatever fails:
//! - each object is written under a per-object advisory lock, so two syncs
//!   touching a shared advertiser or creative take turns;
//! - an object not yet mapped is first looked up in TTD by its marker
//!   (`Description: p360:<type>:<id>`): if an earlier create succeeded but its
//!   answer was lost, the object is adopted instead of created twice (one
//!   listing call per object, once in its life);
//! - the lock is a transaction-level advisory lock, so a worker killed
//!   mid-call releases it with its connection;
//! - the hash of what TTD last accepted is kept, so unchanged objects are not
//!   sent again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use platform::jobs::{Job, JobContext, Permanent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use tenancy::scope::{self, TenantId, Visibility};
use uuid::Uuid;

use crate::ttd::model::{
    AdGroup, Advertiser, BudgetSettings, Campaign, Creative, FrequencySettings, Html5Attributes,
    ImageAttributes, Money, RtbAttributes, TtdObject,
};
use crate::ttd::{TtdClient, TtdError};

/// What the sync jobs need besides the database.
pub struct SyncService {
    pub client: TtdClient,
    pub partner_id: String,
    /// Where TTD fetches creative files from (the CDN in front of the bucket).
    pub creative_base_url: String,
    pub failure_webhook: Option<String>,
    pub http: reqwest::Client,
}

/// Statuses in which a campaign is pushed to TTD.
fn syncable(status: &str) -> bool {
    matches!(
        status,
        "approved" | "active" | "paused" | "archived" | "completed"
    )
}

/// TTD's `Availability` for a campaign status.
fn availability(status: &str) -> &'static str {
    match status {
        "paused" => "Paused",
        "archived" | "completed" => "Archived",
        _ => "Available",
    }
}

/// Called in the transaction of every campaign change (the outbox): once a
/// campaign is approved, this and every later change queue a sync, and the
/// campaign's activation shows `pending`. Returns the new activation value.
pub async fn campaign_changed(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    campaign_id: Uuid,
    status: &str,
) -> Result<Option<Value>, sqlx::Error> {
    if !syncable(status) {
        return Ok(None);
    }
    // Archiving or completing a campaign that never reached TTD needs no sync.
    let first_time = matches!(status, "approved" | "active" | "paused");
    let activation: Option<Value> = sqlx::query_scalar(
        "UPDATE campaigns SET activation = jsonb_build_object( \
           'status', 'pending', \
           'generation', coalesce((activation->>'generation')::bigint, 0) + 1, \
           'ttd', coalesce(activation->'ttd', '{}'::jsonb), \
           'last_error', NULL, \
           'synced_at', activation->'synced_at', \
           'requested_at', now()) \
         WHERE id = $1 AND tenant_id = $2 AND ($3 OR activation IS NOT NULL) \
         RETURNING activation",
    )
    .bind(campaign_id)
    .bind(tenant.0)
    .bind(first_time)
    .fetch_optional(&mut **tx)
    .await?;
    if activation.is_some() {
        platform::jobs::enqueue(
            tx,
            &SyncCampaign {
                tenant_id: tenant.0,
                campaign_id,
            },
            None,
        )
        .await?;
    }
    Ok(activation)
}

/// Push one campaign and everything it runs to TTD.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncCampaign {
    pub tenant_id: Uuid,
    pub campaign_id: Uuid,
}

impl Job for SyncCampaign {
    const KIND: &'static str = "ttd.sync_campaign";
    const QUEUE: &'static str = "activation";
    const MAX_ATTEMPTS: i64 = 12;

    fn dedup_key(&self) -> Option<String> {
        Some(self.campaign_id.to_string())
    }

    /// From half a second, doubling to two minutes, with up to 50 % jitter:
    /// TTD's throttling clears in seconds, outages in minutes.
    fn backoff(attempt: i64) -> Duration {
        let base = (500u64 << attempt.clamp(0, 8)).min(120_000);
        let jitter = (Uuid::now_v7().as_u128() % 500) as u64;
        Duration::from_millis(base + base * jitter / 1000)
    }

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let svc = ctx.service::<Arc<SyncService>>()?;
        let tenant = TenantId(self.tenant_id);
        let Some(snap) = load(&ctx.pool, tenant, self.campaign_id).await? else {
            tracing::info!(campaign = %self.campaign_id, "campaign gone; nothing to sync");
            return Ok(());
        };
        if !syncable(&snap.campaign.status) {
            return Ok(());
        }
        let generation = snap
            .campaign
            .activation
            .as_ref()
            .and_then(|a| a.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match push(&svc, &ctx.pool, tenant, &snap, ctx.is_last_attempt()).await {
            Ok(ttd) => {
                set_activation(
                    &ctx.pool,
                    tenant,
                    self.campaign_id,
                    generation,
                    "synced",
                    Some(ttd),
                    None,
                )
                .await?;
                metrics::counter!("p360_ttd_campaign_syncs_total", "outcome" => "synced")
                    .increment(1);
                tracing::info!(campaign = %self.campaign_id, attempt = ctx.attempt, "campaign synced to TTD");
                Ok(())
            }
            Err(e) => {
                let message = format!("{e:#}");
                let permanent = is_permanent(&e);
                let last = permanent || ctx.is_last_attempt();
                let status = if last { "failed" } else { "pending" };
                set_activation(
                    &ctx.pool,
                    tenant,
                    self.campaign_id,
                    generation,
                    status,
                    None,
                    Some(&message),
                )
                .await?;
                metrics::counter!("p360_ttd_campaign_syncs_total", "outcome" => if last { "failed" } else { "retried" })
                    .increment(1);
                if last {
                    notify_failure(&svc, tenant, self.campaign_id, &message).await;
                }
                if permanent {
                    return Err(Permanent(message).into());
                }
                Err(e)
            }
        }
    }
}

/// A sync that failed for good: an error log line for the alerting on logs,
/// and a webhook when one is configured.
async fn notify_failure(svc: &SyncService, tenant: TenantId, campaign: Uuid, message: &str) {
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

/// Record the outcome, unless a newer change has queued another sync since
/// this one read the campaign (its generation moved on): that sync reports.
async fn set_activation(
    pool: &PgPool,
    tenant: TenantId,
    campaign: Uuid,
    generation: i64,
    status: &str,
    ttd: Option<Value>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = scope::begin(pool, &Visibility::one(tenant)).await?;
    sqlx::query(
        "UPDATE campaigns SET activation = activation \
           || jsonb_build_object('status', $4::text, 'last_error', $6::text) \
           || CASE WHEN $5::jsonb IS NULL THEN '{}'::jsonb \
              ELSE jsonb_build_object('ttd', $5::jsonb, 'synced_at', now()) END \
         WHERE id = $1 AND tenant_id = $2 AND (activation->>'generation')::bigint = $3",
    )
    .bind(campaign)
    .bind(tenant.0)
    .bind(generation)
    .bind(status)
    .bind(ttd)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[derive(Debug, sqlx::FromRow)]
struct CampaignRow {
    id: Uuid,
    advertiser_id: Uuid,
    name: String,
    currency: String,
    budget_micros: i64,
    daily_cap_micros: Option<i64>,
    flight_start: NaiveDate,
    flight_end: NaiveDate,
    pacing: String,
    status: String,
    activation: Option<Value>,
}

#[derive(Debug, sqlx::FromRow)]
struct AdvertiserRow {
    id: Uuid,
    name: String,
    domain: String,
    currency: String,
    click_lookback_days: i64,
    view_lookback_days: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct AdGroupRow {
    id: Uuid,
    name: String,
    budget_micros: i64,
    base_bid_cpm_micros: i64,
    max_bid_cpm_micros: i64,
    frequency_impressions: Option<i64>,
    frequency_period_hours: Option<i64>,
    creative_ids: Vec<Uuid>,
    status: String,
}

#[derive(Debug, sqlx::FromRow)]
struct CreativeRow {
    id: Uuid,
    name: String,
    click_url: String,
    kind: String,
    width: i64,
    height: i64,
}

/// The campaign and everything it runs.
struct Snapshot {
    campaign: CampaignRow,
    advertiser: AdvertiserRow,
    ad_groups: Vec<AdGroupRow>,
    /// Active creatives named by the active ad groups.
    creatives: Vec<CreativeRow>,
}

async fn load(pool: &PgPool, tenant: TenantId, id: Uuid) -> anyhow::Result<Option<Snapshot>> {
    // Read committed: a change committed between these reads queues another
    // sync, which reads it again.
    let mut tx = scope::begin(pool, &Visibility::one(tenant)).await?;
    let Some(campaign) = sqlx::query_as::<_, CampaignRow>(
        "SELECT id, advertiser_id, name, currency, budget_micros, daily_cap_micros, flight_start, \
         flight_end, pacing, status, activation FROM campaigns WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant.0)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let advertiser: AdvertiserRow = sqlx::query_as(
        "SELECT id, name, domain, currency, click_lookback_days, view_lookback_days \
         FROM advertisers WHERE id = $1 AND tenant_id = $2",
    )
    .bind(campaign.advertiser_id)
    .bind(tenant.0)
    .fetch_one(&mut *tx)
    .await?;
    let ad_groups: Vec<AdGroupRow> = sqlx::query_as(
        "SELECT id, name, budget_micros, base_bid_cpm_micros, max_bid_cpm_micros, \
         frequency_impressions, frequency_period_hours, creative_ids, status \
         FROM ad_groups WHERE campaign_id = $1 AND tenant_id = $2 ORDER BY created_at, id",
    )
    .bind(id)
    .bind(tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    let wanted: Vec<Uuid> = ad_groups
        .iter()
        .filter(|g| g.status == "active")
        .flat_map(|g| g.creative_ids.iter().copied())
        .collect();
    let creatives: Vec<CreativeRow> = sqlx::query_as(
        "SELECT id, name, click_url, kind, width, height FROM creatives \
         WHERE id = ANY($1) AND tenant_id = $2 AND status = 'active' ORDER BY created_at, id",
    )
    .bind(&wanted)
    .bind(tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    scope::end_read(tx);
    Ok(Some(Snapshot {
        campaign,
        advertiser,
        ad_groups,
        creatives,
    }))
}

fn marker(object: &str, id: Uuid) -> String {
    format!("p360:{object}:{id}")
}

fn pacing(p: &str) -> &'static str {
    match p {
        "ahead" => "PaceAhead",
        "asap" => "PaceAsSoonAsPossible",
        _ => "PaceEvenly",
    }
}

fn day_start(d: NaiveDate) -> String {
    format!("{d}T00:00:00Z")
}

fn day_end(d: NaiveDate) -> String {
    format!("{d}T23:59:59Z")
}

/// Push the tree; returns the TTD ids for the campaign's activation.
async fn push(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    snap: &Snapshot,
    last: bool,
) -> anyhow::Result<Value> {
    let w = Writer {
        svc,
        pool,
        tenant,
        last,
    };
    let a = &snap.advertiser;
    let advertiser_id = w
        .ensure(
            "advertiser",
            a.id,
            &svc.partner_id,
            Advertiser {
                advertiser_id: None,
                partner_id: svc.partner_id.clone(),
                advertiser_name: a.name.clone(),
                description: Some(marker("advertiser", a.id)),
                currency_code: a.currency.clone(),
                domain_address: a.domain.clone(),
                attribution_click_lookback_window_in_seconds: a.click_lookback_days * 86_400,
                attribution_impression_lookback_window_in_seconds: a.view_lookback_days * 86_400,
                click_dedup_window_in_seconds: 7 * 86_400,
                conversion_dedup_window_in_seconds: 7 * 86_400,
                availability: None,
            },
        )
        .await?;
    let c = &snap.campaign;
    let campaign_id = w
        .ensure(
            "campaign",
            c.id,
            &advertiser_id,
            Campaign {
                campaign_id: None,
                advertiser_id: advertiser_id.clone(),
                campaign_name: c.name.clone(),
                description: Some(marker("campaign", c.id)),
                budget: Money::from_micros(c.budget_micros, &c.currency),
                daily_budget: c
                    .daily_cap_micros
                    .map(|m| Money::from_micros(m, &c.currency)),
                start_date: day_start(c.flight_start),
                end_date: Some(day_end(c.flight_end)),
                pacing_mode: pacing(&c.pacing).into(),
                availability: availability(&c.status).into(),
            },
        )
        .await?;
    let mut creative_ids = BTreeMap::new();
    for cr in &snap.creatives {
        let base = svc.creative_base_url.trim_end_matches('/');
        let (image, html5) = if cr.kind == "html5" {
            (
                None,
                Some(Html5Attributes {
                    html5_zip_url: format!("{base}/{}.zip", cr.id),
                    clickthrough_url: cr.click_url.clone(),
                    landing_page_url: cr.click_url.clone(),
                    width: cr.width,
                    height: cr.height,
                }),
            )
        } else {
            (
                Some(ImageAttributes {
                    image_url: format!("{base}/{}", cr.id),
                    clickthrough_url: cr.click_url.clone(),
                    landing_page_url: cr.click_url.clone(),
                }),
                None,
            )
        };
        let id = w
            .ensure(
                "creative",
                cr.id,
                &advertiser_id,
                Creative {
                    creative_id: None,
                    advertiser_id: advertiser_id.clone(),
                    creative_name: cr.name.clone(),
                    description: Some(marker("creative", cr.id)),
                    image_attributes: image,
                    html5_attributes: html5,
                    availability: None,
                },
            )
            .await?;
        creative_ids.insert(cr.id, id);
    }
    let mut ad_group_ids = BTreeMap::new();
    for g in &snap.ad_groups {
        if g.status == "archived" && !w.mapped("ad_group", g.id).await? {
            continue; // never reached TTD; nothing to archive there
        }
        let money = |m: i64| Money::from_micros(m, &c.currency);
        let desired = AdGroup {
            ad_group_id: None,
            campaign_id: campaign_id.clone(),
            ad_group_name: g.name.clone(),
            description: Some(marker("ad_group", g.id)),
            is_enabled: g.status == "active",
            availability: if g.status == "active" {
                "Available"
            } else {
                "Archived"
            }
            .into(),
            rtb_attributes: RtbAttributes {
                budget_settings: BudgetSettings {
                    budget: money(g.budget_micros),
                    daily_budget: None,
                    pacing_mode: Some(pacing(&c.pacing).into()),
                },
                base_bid_cpm: money(g.base_bid_cpm_micros),
                max_bid_cpm: money(g.max_bid_cpm_micros),
                frequency_settings: match (g.frequency_impressions, g.frequency_period_hours) {
                    (Some(n), Some(h)) => Some(FrequencySettings {
                        frequency_cap: n,
                        frequency_period_in_minutes: h * 60,
                    }),
                    _ => None,
                },
                creative_ids: g
                    .creative_ids
                    .iter()
                    .filter_map(|id| creative_ids.get(id).cloned())
                    .collect(),
                audience_targeting: None,
            },
        };
        let id = w.ensure("ad_group", g.id, &campaign_id, desired).await?;
        ad_group_ids.insert(g.id, id);
    }
    Ok(json!({
        "advertiser_id": advertiser_id,
        "campaign_id": campaign_id,
        "ad_group_ids": ad_group_ids,
        "creative_ids": creative_ids,
    }))
}

struct Writer<'a> {
    svc: &'a SyncService,
    pool: &'a PgPool,
    tenant: TenantId,
    last: bool,
}

impl Writer<'_> {
    async fn mapped(&self, object: &str, id: Uuid) -> Result<bool, sqlx::Error> {
        let mut tx = scope::begin(self.pool, &Visibility::one(self.tenant)).await?;
        let found: Option<bool> = sqlx::query_scalar(
            "SELECT ttd_id IS NOT NULL FROM ttd_objects WHERE object_type = $1 AND p360_id = $2",
        )
        .bind(object)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        scope::end_read(tx);
        Ok(found == Some(true))
    }

    /// Make TTD hold `desired` as the one object for (`object`, `id`);
    /// returns its TTD id.
    async fn ensure<T: TtdObject>(
        &self,
        object: &'static str,
        id: Uuid,
        parent: &str,
        desired: T,
    ) -> anyhow::Result<String> {
        let result = self.ensure_inner(object, id, parent, desired).await;
        let outcome = match &result {
            Ok(_) => "synced",
            Err(e) if self.last || is_permanent(e) => "failed",
            Err(_) => "retried",
        };
        metrics::counter!("p360_ttd_sync_total", "object" => object, "outcome" => outcome)
            .increment(1);
        result
    }

    async fn ensure_inner<T: TtdObject>(
        &self,
        object: &'static str,
        id: Uuid,
        parent: &str,
        desired: T,
    ) -> anyhow::Result<String> {
        let client = &self.svc.client;
        let body = serde_json::to_vec(&desired)?;
        let hash = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref());
        let mut tx = scope::begin(self.pool, &Visibility::one(self.tenant)).await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("ttd:{object}:{id}"))
            .execute(&mut *tx)
            .await?;
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT ttd_id, synced_hash FROM ttd_objects WHERE object_type = $1 AND p360_id = $2",
        )
        .bind(object)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let (ttd_id, action) = match row {
            Some((Some(ttd_id), Some(h))) if h == hash => {
                tx.commit().await?;
                count(object, "unchanged");
                return Ok(ttd_id);
            }
            Some((Some(ttd_id), _)) => {
                client.update(&ttd_id, &desired).await?;
                (ttd_id, "updated")
            }
            _ => {
                // Never mapped, but an earlier attempt may have created it and
                // lost the answer: look before creating.
                let marker = desired.description().unwrap_or_default().to_owned();
                let found = client.find_by_description::<T>(parent, &marker).await?;
                match found.as_ref().and_then(|o| o.id()) {
                    Some(existing) => {
                        let existing = existing.to_owned();
                        client.update(&existing, &desired).await?;
                        tracing::info!(object, p360_id = %id, ttd_id = %existing, "adopted a TTD object whose create answer was lost");
                        (existing, "adopted")
                    }
                    None => {
                        let created = client.create(&desired).await.map_err(|e| match e {
                            TtdError::Ambiguous { .. } => anyhow::Error::new(e).context(
                                "the next attempt looks for the object before creating it",
                            ),
                            e => e.into(),
                        })?;
                        let Some(new_id) = created.id() else {
                            anyhow::bail!("TTD created a {object} but answered without its id");
                        };
                        (new_id.to_owned(), "created")
                    }
                }
            }
        };
        sqlx::query(
            "INSERT INTO ttd_objects (object_type, p360_id, tenant_id, ttd_id, synced_hash, synced_at) \
             VALUES ($1, $2, $3, $4, $5, now()) \
             ON CONFLICT (object_type, p360_id) DO UPDATE \
             SET ttd_id = EXCLUDED.ttd_id, synced_hash = EXCLUDED.synced_hash, synced_at = now()",
        )
        .bind(object)
        .bind(id)
        .bind(self.tenant.0)
        .bind(&ttd_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        count(object, action);
        Ok(ttd_id)
    }
}

/// TTD refused the request itself (validation, credentials, a missing
/// object): sending it again cannot succeed until someone changes something.
fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<TtdError>(),
            Some(TtdError::Rejected { .. } | TtdError::Auth(_))
        )
    })
}

fn count(object: &'static str, action: &'static str) {
    metrics::counter!("p360_ttd_objects_total", "object" => object, "action" => action)
        .increment(1);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
