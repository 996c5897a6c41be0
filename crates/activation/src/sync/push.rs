//! Pushing one campaign's snapshot to TTD: the advertiser, the campaign,
//! the creatives its ad groups run and the ad groups, in that order (an ad
//! group names its creatives by their TTD ids, so they go first).
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
use std::fmt::Display;

use campaigns::ad_groups::AdGroupStatus;
use campaigns::campaigns::{CampaignStatus, Pacing};
use campaigns::creatives::{CreativeKind, public_name};
use campaigns::read::CampaignSnapshot;
use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::PgPool;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::audiences::{data_groups, targeted};
use super::{CheckDuplicates, SyncService};
use crate::store;
use crate::ttd::TtdError;
use crate::ttd::model::{
    AdGroup, Advertiser, AudienceTargeting, BudgetSettings, Campaign, Creative, FrequencySettings,
    Html5Attributes, ImageAttributes, Money, RtbAttributes, TtdAudience, TtdObject,
};

/// TTD's `Availability` for a campaign status.
fn availability(status: CampaignStatus) -> &'static str {
    match status {
        CampaignStatus::Paused => "Paused",
        CampaignStatus::Archived | CampaignStatus::Completed => "Archived",
        _ => "Available",
    }
}

/// The `Description` that names the P360 object a TTD object stands for.
pub fn marker(object: &str, id: impl Display) -> String {
    format!("p360:{object}:{id}")
}

fn pacing(p: Pacing) -> &'static str {
    match p {
        Pacing::Ahead => "PaceAhead",
        Pacing::Asap => "PaceAsSoonAsPossible",
        Pacing::Even => "PaceEvenly",
    }
}

fn day_start(d: NaiveDate) -> String {
    format!("{d}T00:00:00Z")
}

fn day_end(d: NaiveDate) -> String {
    format!("{d}T23:59:59Z")
}

/// Push the tree; returns the TTD ids for the campaign's activation.
pub(super) async fn push(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    snap: &CampaignSnapshot,
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
            a.id.0,
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
            c.id.0,
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
                pacing_mode: pacing(c.pacing).into(),
                availability: availability(c.status).into(),
            },
        )
        .await?;
    let mut creative_ids = BTreeMap::new();
    for cr in &snap.creatives {
        let base = svc.creative_base_url.trim_end_matches('/');
        let (image, html5) = if cr.kind == CreativeKind::Html5 {
            (
                None,
                Some(Html5Attributes {
                    html5_zip_url: format!("{base}/{}", public_name(cr.id, cr.kind)),
                    clickthrough_url: cr.click_url.clone(),
                    landing_page_url: cr.click_url.clone(),
                    width: cr.width,
                    height: cr.height,
                }),
            )
        } else {
            (
                Some(ImageAttributes {
                    image_url: format!("{base}/{}", public_name(cr.id, cr.kind)),
                    clickthrough_url: cr.click_url.clone(),
                    landing_page_url: cr.click_url.clone(),
                }),
                None,
            )
        };
        let id = w
            .ensure(
                "creative",
                cr.id.0,
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
        creative_ids.insert(cr.id.0, id);
    }
    let mut ad_group_ids = BTreeMap::new();
    for g in &snap.ad_groups {
        if g.status == AdGroupStatus::Archived && !w.mapped("ad_group", g.id.0).await? {
            continue; // never reached TTD; nothing to archive there
        }
        let money = |m: i64| Money::from_micros(m, &c.currency);
        let targeted = targeted(&g.targeting);
        let audience_targeting = if (targeted.include.is_empty() && targeted.exclude.is_empty())
            || g.status != AdGroupStatus::Active
        {
            None
        } else {
            let include = data_groups(svc, pool, tenant, &targeted.include, &advertiser_id).await?;
            let exclude = data_groups(svc, pool, tenant, &targeted.exclude, &advertiser_id).await?;
            let audience = TtdAudience {
                audience_id: None,
                advertiser_id: advertiser_id.clone(),
                audience_name: format!("{} (P360 ad group)", g.name),
                description: Some(marker("audience", g.id)),
                included_data_group_ids: include,
                excluded_data_group_ids: exclude,
            };
            let id = w
                .ensure("audience", g.id.0, &advertiser_id, audience)
                .await?;
            Some(AudienceTargeting {
                audience_id: Some(id),
            })
        };
        let desired = AdGroup {
            ad_group_id: None,
            campaign_id: campaign_id.clone(),
            ad_group_name: g.name.clone(),
            description: Some(marker("ad_group", g.id)),
            is_enabled: g.status == AdGroupStatus::Active,
            availability: if g.status == AdGroupStatus::Active {
                "Available"
            } else {
                "Archived"
            }
            .into(),
            rtb_attributes: RtbAttributes {
                budget_settings: BudgetSettings {
                    budget: money(g.budget_micros),
                    daily_budget: None,
                    pacing_mode: Some(pacing(c.pacing).into()),
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
                    .filter_map(|id| creative_ids.get(&id.0).cloned())
                    .collect(),
                audience_targeting,
            },
        };
        let id = w.ensure("ad_group", g.id.0, &campaign_id, desired).await?;
        ad_group_ids.insert(g.id.0, id);
    }
    Ok(json!({
        "advertiser_id": advertiser_id,
        "campaign_id": campaign_id,
        "ad_group_ids": ad_group_ids,
        "creative_ids": creative_ids,
    }))
}

/// Make TTD hold `desired` as the one object for (`object`, `id`) under
/// `parent`, created once whatever fails (see the module docs); its TTD id.
/// For other capabilities' TTD objects (an audience's data group).
pub async fn ensure_object<T: TtdObject>(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    object: &'static str,
    id: Uuid,
    parent: &str,
    desired: T,
) -> anyhow::Result<String> {
    let w = Writer {
        svc,
        pool,
        tenant,
        last: false,
    };
    w.ensure(object, id, parent, desired).await
}

struct Writer<'a> {
    svc: &'a SyncService,
    pool: &'a PgPool,
    tenant: TenantId,
    last: bool,
}

impl Writer<'_> {
    async fn mapped(&self, object: &str, id: Uuid) -> Result<bool, sqlx::Error> {
        let mut tx = TenantTx::begin(self.pool, self.tenant).await?;
        let found = store::ttd_object(&mut tx, object, id).await?;
        tx.end_read();
        Ok(found.is_some())
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
        let mut tx = TenantTx::begin(self.pool, self.tenant).await?;
        store::lock_object(&mut tx, object, id).await?;
        let row = store::ttd_object(&mut tx, object, id).await?;
        let (ttd_id, action) = match row {
            Some((ttd_id, Some(h))) if h == hash => {
                tx.commit().await?;
                count(object, "unchanged");
                return Ok(ttd_id);
            }
            Some((ttd_id, _)) => {
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
                        let created = match client.create(&desired).await {
                            Ok(created) => created,
                            Err(e @ TtdError::Ambiguous { .. }) => {
                                // TTD may still apply it, even after the
                                // next attempt's look-up: count later.
                                let check = CheckDuplicates::new(self.tenant, object, id, parent);
                                check.schedule(tx.conn(), self.svc).await?;
                                tx.commit().await?;
                                return Err(anyhow::Error::new(e).context(
                                    "the next attempt looks for the object before creating it",
                                ));
                            }
                            Err(e) => return Err(e.into()),
                        };
                        let Some(new_id) = created.id() else {
                            anyhow::bail!("TTD created a {object} but answered without its id");
                        };
                        (new_id.to_owned(), "created")
                    }
                }
            }
        };
        store::save_ttd_object(&mut tx, object, id, &ttd_id, &hash).await?;
        tx.commit().await?;
        count(object, action);
        Ok(ttd_id)
    }
}

/// TTD refused the request itself (validation, credentials, a missing
/// object): sending it again cannot succeed until someone changes something.
pub(super) fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<platform::jobs::Permanent>().is_some()
            || matches!(
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
