//! The delivery watch (`delivery.watch`, every `delivery.watch_every_secs`):
//! the plan's business alerts on delivery. For every tenant's live
//! campaigns (approved or active, not paused) in flight it raises
//! - `under_pacing` / `over_pacing`: spend further from the pacing plan
//!   than the tenant's tolerance ([`crate::pacing`]);
//! - `no_delivery`: no spend in the 24 hours before the data's end, a day
//!   or more into the flight;
//!
//! and for the platform `feed_late`: no applied REDS file reaches within
//! `delivery.feed_late_hours` of now while campaigns are live. An alert
//! is opened once (one open per tenant, campaign and kind), logged, posted
//! to `delivery.alert_webhook_url` when set (until the webhook takes it),
//! and resolved when its condition clears. The gauges it sets are what the
//! Prometheus rules in `deploy/monitoring` alert on.

pub mod api;
mod store;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tenancy::scope::{AllTenants, ScopedTx};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use crate::pacing::{self, CampaignPacing, State};

pub use store::Alert;

/// What the watch needs.
#[derive(Clone)]
pub struct Watcher {
    pub webhook: Option<url::Url>,
    pub feed_late: TimeDelta,
    pub http: reqwest::Client,
}

impl Watcher {
    pub fn from_config(c: &crate::DeliveryConfig) -> anyhow::Result<Watcher> {
        Ok(Watcher {
            webhook: c
                .alert_webhook_url
                .as_deref()
                .map(url::Url::parse)
                .transpose()?,
            feed_late: TimeDelta::hours(i64::from(c.feed_late_hours)),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
        })
    }
}

/// What one run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    pub on_track: u64,
    pub under: u64,
    pub over: u64,
    pub without_delivery: u64,
    pub feed_late: bool,
    /// Alerts opened this run.
    pub opened: Vec<(Option<Uuid>, String)>,
    pub notified: u64,
}

/// Cleared to spend and not paused: approved (running as approved) or
/// active (resumed).
fn live(c: &CampaignPacing) -> bool {
    matches!(c.status.as_str(), "approved" | "active")
}

/// The alerts a campaign's pacing calls for.
fn wanted(c: &CampaignPacing) -> Vec<&'static str> {
    let in_flight = !matches!(
        c.pace.state,
        State::NotStarted | State::Ended | State::NotComparable
    );
    if !live(c) || !in_flight {
        return Vec::new();
    }
    let mut kinds = Vec::new();
    match c.pace.state {
        State::UnderPacing => kinds.push("under_pacing"),
        State::OverPacing => kinds.push("over_pacing"),
        _ => {}
    }
    let started = c
        .flight_start
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    if c.pace.as_of - started >= TimeDelta::hours(24) && c.pace.spent_last_24_hours_usd_micros == 0
    {
        kinds.push("no_delivery");
    }
    kinds
}

/// One run at `now`.
pub async fn run(pool: &PgPool, w: &Watcher, now: DateTime<Utc>) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    let mut active = false;
    // Where the feed's data ends (the platform's, so every tenant's moment).
    let until = {
        let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
        let until = pacing::data_until(all.conn()).await?;
        all.commit().await?;
        until
    };
    let moment = pacing::moment(until);
    for t in tenancy::tenants::store::list(pool, None).await? {
        if t.status != tenancy::tenants::TenantStatus::Active {
            continue;
        }
        let mut tx = TenantTx::begin(pool, t.id).await?;
        let paces = pacing::live(&mut tx, None, Some(moment))
            .await
            .map_err(|e| anyhow::anyhow!("pacing of tenant {}: {e:?}", t.slug))?;
        let mut want: BTreeSet<(Option<Uuid>, String)> = BTreeSet::new();
        for c in &paces {
            active |= live(c);
            match c.pace.state {
                State::OnTrack => seen.on_track += 1,
                State::UnderPacing => seen.under += 1,
                State::OverPacing => seen.over += 1,
                _ => {}
            }
            for kind in wanted(c) {
                seen.without_delivery += u64::from(kind == "no_delivery");
                want.insert((Some(c.campaign_id), kind.to_string()));
                let detail = serde_json::json!({
                    "campaign_name": c.name,
                    "as_of": c.pace.as_of,
                    "planned_to_date_micros": c.pace.planned_to_date_micros,
                    "spent_to_date_usd_micros": c.pace.spent_to_date_usd_micros,
                    "pace_ratio": c.pace.pace_ratio,
                    "spent_last_24_hours_usd_micros": c.pace.spent_last_24_hours_usd_micros,
                });
                if store::raise(tx.conn(), Some(t.id.0), Some(c.campaign_id), kind, &detail).await?
                {
                    tracing::warn!(
                        tenant = %t.slug,
                        campaign = %c.campaign_id,
                        campaign_name = %c.name,
                        alert = kind,
                        pace_ratio = ?c.pace.pace_ratio,
                        "delivery alert opened"
                    );
                    seen.opened.push((Some(c.campaign_id), kind.to_string()));
                }
            }
        }
        for (campaign, kind) in store::open(tx.conn(), Some(t.id.0)).await? {
            if !want.contains(&(campaign, kind.clone())) {
                store::resolve(tx.conn(), Some(t.id.0), campaign, &kind).await?;
                tracing::info!(tenant = %t.slug, campaign = ?campaign, alert = %kind, "delivery alert resolved");
            }
        }
        tx.commit().await?;
    }
    let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
    if let Some(u) = until {
        metrics::gauge!("p360_delivery_data_until_timestamp_seconds").set(u.timestamp() as f64);
    }
    seen.feed_late = active && until.is_none_or(|u| now - u > w.feed_late);
    if seen.feed_late {
        let detail =
            serde_json::json!({"data_until": until, "late_after_hours": w.feed_late.num_hours()});
        if store::raise(all.conn(), None, None, "feed_late", &detail).await? {
            tracing::warn!(data_until = ?until, "delivery alert opened: the REDS feed is late");
            seen.opened.push((None, "feed_late".into()));
        }
    } else {
        store::resolve(all.conn(), None, None, "feed_late").await?;
    }
    let counts = store::counts(all.conn()).await?;
    all.commit().await?;
    for kind in ["under_pacing", "over_pacing", "no_delivery", "feed_late"] {
        let n = counts
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("p360_delivery_alerts_open", "kind" => kind).set(n as f64);
    }
    for (state, n) in [
        ("on_track", seen.on_track),
        ("under_pacing", seen.under),
        ("over_pacing", seen.over),
    ] {
        metrics::gauge!("p360_campaigns_pacing", "state" => state).set(n as f64);
    }
    metrics::gauge!("p360_campaigns_without_delivery").set(seen.without_delivery as f64);
    seen.notified = notify(pool, w).await?;
    Ok(seen)
}

/// Post the alerts the webhook has not taken; how many it took. A failed
/// post is logged and tried again next run.
async fn notify(pool: &PgPool, w: &Watcher) -> anyhow::Result<u64> {
    let Some(url) = &w.webhook else {
        return Ok(0);
    };
    let mut all = ScopedTx::all(pool, AllTenants::system()).await?;
    let unsent = store::unsent(all.conn(), 100).await?;
    let mut taken = 0;
    for a in unsent {
        let body = serde_json::json!({
            "alert": a.kind,
            "id": a.id,
            "tenant_id": a.tenant_id,
            "campaign_id": a.campaign_id,
            "opened_at": a.opened_at,
            "detail": a.detail,
        });
        match w.http.post(url.clone()).json(&body).send().await {
            Ok(res) if res.status().is_success() => {
                store::sent(all.conn(), a.id).await?;
                taken += 1;
            }
            Ok(res) => {
                tracing::warn!(status = %res.status(), alert = %a.kind, "the alert webhook refused an alert; next run tries again");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, alert = %a.kind, "the alert webhook is unreachable; next run tries again");
                break;
            }
        }
    }
    all.commit().await?;
    Ok(taken)
}

/// The tenant's open alerts, newest first.
pub async fn open_alerts(tx: &mut TenantTx) -> Result<Vec<Alert>, sqlx::Error> {
    let tenant: TenantId = tx.tenant();
    store::of_tenant(tx.conn(), tenant.0).await
}

/// Run the watch (`delivery.watch`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WatchDelivery {}

impl Job for WatchDelivery {
    const KIND: &'static str = "delivery.watch";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Watcher;

    fn dedup_key(&self) -> Option<String> {
        Some("watch".into())
    }

    async fn run(self, ctx: JobContext<Watcher>) -> anyhow::Result<()> {
        let seen = run(&ctx.pool, &ctx.services, Utc::now()).await?;
        tracing::info!(
            on_track = seen.on_track,
            under = seen.under,
            over = seen.over,
            without_delivery = seen.without_delivery,
            feed_late = seen.feed_late,
            opened = seen.opened.len(),
            notified = seen.notified,
            "delivery watched"
        );
        Ok(())
    }
}
