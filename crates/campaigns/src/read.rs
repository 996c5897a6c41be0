//! What other capabilities may read of campaigns: a consistent snapshot of
//! a campaign and everything it runs (for the TTD sync). Read it in a
//! `TenantTx::begin_snapshot` transaction, so that a concurrent change
//! cannot give a half-old, half-new picture.

use tenancy::TenantTx;

use crate::ad_groups::{self, AdGroupStatus};
use crate::advertisers::{self, Advertiser};
use crate::campaigns;
use crate::creatives::{self, Creative};
use crate::ids::CampaignId;

/// A campaign, its advertiser, its ad groups (all, oldest first) and the
/// active creatives its active ad groups run.
#[derive(Debug, Clone)]
pub struct CampaignSnapshot {
    pub campaign: campaigns::Row,
    pub advertiser: Advertiser,
    pub ad_groups: Vec<ad_groups::Row>,
    pub creatives: Vec<Creative>,
}

/// The snapshot of campaign `id`, if it exists.
pub async fn snapshot(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<CampaignSnapshot>, sqlx::Error> {
    let Some(campaign) = campaigns::store::get(tx, id).await? else {
        return Ok(None);
    };
    let advertiser = advertisers::store::get(tx, campaign.advertiser_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let ad_groups = ad_groups::store::of_campaign(tx, id).await?;
    let wanted: Vec<_> = ad_groups
        .iter()
        .filter(|g| g.status == AdGroupStatus::Active)
        .flat_map(|g| g.creative_ids.iter().copied())
        .collect();
    let creatives = creatives::store::active_among(tx, &wanted).await?;
    Ok(Some(CampaignSnapshot {
        campaign,
        advertiser,
        ad_groups,
        creatives,
    }))
}
