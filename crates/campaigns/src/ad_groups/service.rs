//! Ad-group operations. Each locks the campaign first (its budget is split
//! among its ad groups). On a live campaign a change waits as the ad group's
//! pending change and joins the campaign's, in the same transaction; on a
//! campaign waiting for approval the editor becomes its submitter.

use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::audiences::{self, AudienceCatalog};
use super::store::{self, CampaignLock, Values};
use super::{
    AdGroup, AdGroupPatch, AdGroupStatus, CampaignTerms, NewAdGroup, PendingOp, ProposedValues,
    Row, check,
};
use crate::campaigns;
use crate::campaigns::service::ChangePart;
use crate::ids::{AdGroupId, AdvertiserId, CampaignId, CreativeId};
use crate::validate::check_name;

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "ad_groups_campaign_name_key",
        || "this campaign has an ad group with that name",
    )
}

/// The creatives must be active creatives of the campaign's advertiser, each once.
async fn check_creatives(
    tx: &mut TenantTx,
    advertiser: AdvertiserId,
    ids: &[CreativeId],
    errors: &mut Vec<FieldError>,
) -> Result<(), sqlx::Error> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Ok(());
    }
    let found = crate::creatives::store::count_active(tx, advertiser, &unique).await?;
    if found != unique.len() as i64 || unique.len() != ids.len() {
        errors.push(FieldError::new(
            "creative_ids",
            "not_found",
            "each creative once, and only active creatives of the campaign's advertiser",
        ));
    }
    Ok(())
}

/// What an ad group must fit: the campaign's budget once its pending
/// change, if any, is approved (the other ad groups are counted the same way).
fn terms(c: &CampaignLock) -> CampaignTerms<'_> {
    CampaignTerms {
        currency: &c.currency,
        budget_micros: c.budget_after_change(),
    }
}

async fn record(
    tx: &mut TenantTx,
    by: &Principal,
    action: &'static str,
    before: Option<&AdGroup>,
    after: &AdGroup,
    campaign: &CampaignLock,
    pending: Option<&'static str>,
) -> Result<(), ApiError> {
    tenancy::audit::record_change(
        tx,
        by,
        action,
        "ad_group",
        after.id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    campaigns::service::changed_elsewhere(
        tx,
        by,
        after.campaign_id,
        campaign.status,
        campaign.version,
        ChangePart::AdGroup(after.id, pending),
    )
    .await
}

/// Add an ad group to a campaign.
pub async fn create(
    tx: &mut TenantTx,
    by: &Principal,
    catalog: &dyn AudienceCatalog,
    campaign_id: CampaignId,
    new: NewAdGroup,
) -> Result<(Row, AdGroup), ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let campaign = store::lock_campaign(tx, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if campaign.status.is_closed() {
        return Err(Problem::conflict(format!(
            "a {} campaign cannot get ad groups",
            campaign.status
        ))
        .into());
    }
    let mut errors = Vec::new();
    check_name(&new.name, &mut errors);
    let used = store::committed(tx, campaign_id, None).await?;
    let checked = check(
        &new.budget,
        &new.base_bid_cpm,
        &new.max_bid_cpm,
        new.frequency_cap.as_ref(),
        new.targeting.clone(),
        &terms(&campaign),
        used,
        &mut errors,
    );
    check_creatives(tx, campaign.advertiser_id, &new.creative_ids, &mut errors).await?;
    audiences::check(tx, catalog, &checked.targeting.audiences, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let row = store::insert(
        tx,
        campaign_id,
        &Values {
            name: Some(new.name.trim()),
            budget_micros: checked.budget,
            base_bid_cpm_micros: checked.base,
            max_bid_cpm_micros: checked.max,
            frequency_impressions: new.frequency_cap.as_ref().map(|f| f.impressions),
            frequency_period_hours: new.frequency_cap.as_ref().map(|f| f.period_hours),
            targeting: serde_json::to_value(&checked.targeting).map_err(anyhow::Error::from)?,
            creative_ids: &new.creative_ids,
        },
        campaign.is_live(),
    )
    .await
    .map_err(name_taken)?;
    let group = AdGroup::new(&row, &campaign.currency);
    let op = row.pending.as_deref().map(PendingOp::name);
    record(tx, by, "ad_group.created", None, &group, &campaign, op).await?;
    Ok((row, group))
}

/// The ad groups of a campaign.
pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    campaign_id: CampaignId,
) -> Result<Vec<AdGroup>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let currency = store::campaign_currency(tx, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let rows = store::of_campaign(tx, campaign_id).await?;
    Ok(rows.iter().map(|r| AdGroup::new(r, &currency)).collect())
}

pub async fn get(
    tx: &mut TenantTx,
    by: &Principal,
    id: AdGroupId,
) -> Result<(Row, AdGroup), ApiError> {
    by.require(Permission::CampaignsRead)?;
    let (row, currency) = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    let group = AdGroup::new(&row, &currency);
    Ok((row, group))
}

/// The campaign (locked) and the ad group, checked against `expected`.
async fn lock_for_change(
    tx: &mut TenantTx,
    id: AdGroupId,
    expected: &Precondition,
) -> Result<(CampaignLock, Row, String), ApiError> {
    let campaign_id = store::campaign_of(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let campaign = store::lock_campaign(tx, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let (before, currency) = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    expected.check(before.version)?;
    Ok((campaign, before, currency))
}

pub async fn update(
    tx: &mut TenantTx,
    by: &Principal,
    catalog: &dyn AudienceCatalog,
    id: AdGroupId,
    expected: &Precondition,
    patch: AdGroupPatch,
) -> Result<(Row, AdGroup), ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let (campaign, before, currency) = lock_for_change(tx, id, expected).await?;
    let pending = before.pending.as_deref().cloned();
    let proposed_new = pending == Some(PendingOp::Create);
    if (before.status == AdGroupStatus::Archived && !proposed_new) || campaign.status.is_closed() {
        return Err(Problem::conflict("this ad group can no longer be changed").into());
    }
    if pending == Some(PendingOp::Archive) {
        return Err(Problem::conflict(
            "this ad group is to be archived with its campaign's pending change; \
             approve or reject that first",
        )
        .into());
    }
    // The version being edited: the live values with any waiting change.
    let current = AdGroup::new(&with_values(&before, &before.proposed()), &currency);
    let mut errors = Vec::new();
    if let Some(n) = &patch.name {
        check_name(n, &mut errors);
    }
    let used = store::committed(tx, before.campaign_id, Some(id)).await?;
    let cap = patch
        .frequency_cap
        .clone()
        .or(current.frequency_cap.clone());
    let checked = check(
        patch.budget.as_ref().unwrap_or(&current.budget),
        patch.base_bid_cpm.as_ref().unwrap_or(&current.base_bid_cpm),
        patch.max_bid_cpm.as_ref().unwrap_or(&current.max_bid_cpm),
        cap.as_ref(),
        patch.targeting.clone().unwrap_or(current.targeting.clone()),
        &terms(&campaign),
        used,
        &mut errors,
    );
    let creatives = patch
        .creative_ids
        .clone()
        .unwrap_or(current.creative_ids.clone());
    check_creatives(tx, campaign.advertiser_id, &creatives, &mut errors).await?;
    audiences::check(tx, catalog, &checked.targeting.audiences, &mut errors).await?;
    let (Some(budget), Some(base), Some(max), true) =
        (checked.budget, checked.base, checked.max, errors.is_empty())
    else {
        return Err(Problem::validation(errors).into());
    };
    let targeting = serde_json::to_value(&checked.targeting).map_err(anyhow::Error::from)?;
    let op = if campaign.is_live() && !proposed_new {
        // The live values stay; the change waits (a rename needs no approval).
        if let Some(name) = patch.name.as_deref() {
            store::rename(tx, id, name.trim())
                .await
                .map_err(name_taken)?;
        }
        let values = ProposedValues {
            budget_micros: budget,
            base_bid_cpm_micros: base,
            max_bid_cpm_micros: max,
            frequency_impressions: cap.as_ref().map(|c| c.impressions),
            frequency_period_hours: cap.as_ref().map(|c| c.period_hours),
            targeting,
            creative_ids: creatives,
        };
        let op = (values != before.live_values()).then_some(PendingOp::Update { values });
        store::set_pending(tx, id, op.as_ref()).await?;
        op.as_ref().map(PendingOp::name)
    } else {
        store::update(
            tx,
            id,
            &Values {
                name: patch.name.as_deref().map(str::trim),
                budget_micros: Some(budget),
                base_bid_cpm_micros: Some(base),
                max_bid_cpm_micros: Some(max),
                frequency_impressions: cap.as_ref().map(|c| c.impressions),
                frequency_period_hours: cap.as_ref().map(|c| c.period_hours),
                targeting,
                creative_ids: &creatives,
            },
        )
        .await
        .map_err(name_taken)?;
        pending.as_ref().map(PendingOp::name)
    };
    let (row, _) = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    let after = AdGroup::new(&row, &currency);
    let before = AdGroup::new(&before, &currency);
    record(
        tx,
        by,
        "ad_group.updated",
        Some(&before),
        &after,
        &campaign,
        op,
    )
    .await?;
    Ok((row, after))
}

/// `row` with `values` in place of its own (to show or compare them).
fn with_values(row: &Row, values: &ProposedValues) -> Row {
    Row {
        budget_micros: values.budget_micros,
        base_bid_cpm_micros: values.base_bid_cpm_micros,
        max_bid_cpm_micros: values.max_bid_cpm_micros,
        frequency_impressions: values.frequency_impressions,
        frequency_period_hours: values.frequency_period_hours,
        targeting: values.targeting.clone(),
        creative_ids: values.creative_ids.clone(),
        ..row.clone()
    }
}

/// Archive an ad group: it stops counting against the campaign budget.
pub async fn archive(
    tx: &mut TenantTx,
    by: &Principal,
    id: AdGroupId,
    expected: &Precondition,
) -> Result<(Row, AdGroup), ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let (campaign, before, currency) = lock_for_change(tx, id, expected).await?;
    let pending = before.pending.as_deref().cloned();
    let proposed_new = pending == Some(PendingOp::Create);
    if (before.status == AdGroupStatus::Archived && !proposed_new)
        || pending == Some(PendingOp::Archive)
    {
        return Err(Problem::conflict("this ad group is already archived").into());
    }
    let op = if proposed_new {
        // A proposal withdrawn: it stays archived, and never ran.
        store::set_pending(tx, id, None).await?;
        None
    } else if campaign.is_live() {
        store::set_pending(tx, id, Some(&PendingOp::Archive)).await?;
        Some(PendingOp::Archive.name())
    } else {
        store::archive(tx, id).await?;
        None
    };
    let (row, _) = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    let after = AdGroup::new(&row, &currency);
    let before = AdGroup::new(&before, &currency);
    record(
        tx,
        by,
        "ad_group.archived",
        Some(&before),
        &after,
        &campaign,
        op,
    )
    .await?;
    Ok((row, after))
}
