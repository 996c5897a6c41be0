//! A live campaign's pending change: the values and parts (its ad groups'
//! changes, creatives' new click URLs, reasons to sign off) waiting beside
//! the approved version, who made it, and how it is decided.

use platform::http::problem::{ApiError, Problem};
use tenancy::{Principal, TenantTx};

use super::super::events;
use super::super::store;
use super::super::workflow::{
    Action, CampaignStatus, Flight, Pacing, Refused, check_against_ad_groups, check_against_io,
};
use super::super::{Pending, Row};
use super::{record, refused};
use crate::ids::{AdGroupId, CampaignId, CreativeId};

/// The pending change of live campaign `live` after an edit: `waiting` (the
/// change already pending) with the edit's values, keeping only those that
/// differ from the live ones; `None` when nothing differs. An edit that
/// changes it makes `me` its maker.
pub(super) fn propose(
    live: &Row,
    waiting: Option<&Pending>,
    budget: Option<i64>,
    flight: Option<Flight>,
    daily_cap: Option<i64>,
    pacing: Option<Pacing>,
    me: &str,
) -> Option<Pending> {
    let mut next = waiting.cloned().unwrap_or_else(|| Pending::new(me));
    if let Some(b) = budget {
        next.budget_micros = (b != live.budget_micros).then_some(b);
    }
    if let Some(f) = flight {
        next.flight = (f != live.flight()).then_some(f);
    }
    if let Some(c) = daily_cap {
        next.daily_cap_micros = (Some(c) != live.daily_cap_micros).then_some(c);
    }
    if let Some(p) = pacing {
        next.pacing = (p != live.pacing).then_some(p);
    }
    if next.is_empty() {
        return None;
    }
    let values_changed = waiting.is_none_or(|w| {
        (w.budget_micros, w.daily_cap_micros, w.flight, w.pacing)
            != (
                next.budget_micros,
                next.daily_cap_micros,
                next.flight,
                next.pacing,
            )
    });
    if values_changed {
        next.changed_by(me);
    }
    Some(next)
}

/// Approve or reject the pending change of a live campaign. Approval is by
/// someone who made none of it, and only while the change still fits its
/// insertion order and ad groups (either may have changed since).
pub(super) async fn decide_pending(
    tx: &mut TenantTx,
    by: &Principal,
    before: &Row,
    pending: &Pending,
    action: Action,
    reason: Option<&str>,
) -> Result<Row, ApiError> {
    if action == Action::Reject {
        store::drop_ad_group_changes(tx, before.id).await?;
        for (creative, url) in &pending.creatives {
            store::settle_creative_change(tx, *creative, url, false).await?;
            settled_elsewhere(tx, by, *creative, before.id).await?;
        }
        let after = store::reject_pending(tx, before.id, reason.unwrap_or_default()).await?;
        record(tx, by, "campaign.change_rejected", Some(before), &after).await?;
        return Ok(after);
    }
    // No one who had a hand in it approves it: not its last maker, nor one
    // whose part another's later edit made someone else's.
    let me = by.maker_ref();
    for maker in pending.all_makers() {
        if tenancy::api_keys::maker_as_person(tx, maker).await? == me {
            return Err(refused(Refused::OwnSubmission));
        }
    }
    let io = store::lock_io(tx, before.insertion_order_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let mut errors = Vec::new();
    let budget = pending.budget_micros.unwrap_or(before.budget_micros);
    let flight = pending.flight.unwrap_or(before.flight());
    let used = store::committed(tx, before.insertion_order_id, Some(before.id)).await?;
    check_against_io(&io.terms, &flight, Some(budget), used, &mut errors);
    check_against_ad_groups(
        budget,
        store::ad_groups_budget(tx, before.id, None).await?,
        &mut errors,
    );
    if !errors.is_empty() {
        let why: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        return Err(Problem::conflict(format!(
            "the pending change no longer fits: {}; change or reject it",
            why.join("; ")
        ))
        .into());
    }
    store::apply_ad_group_changes(tx, before.id).await?;
    for (creative, url) in &pending.creatives {
        store::settle_creative_change(tx, *creative, url, true).await?;
        settled_elsewhere(tx, by, *creative, before.id).await?;
    }
    let after = store::approve_pending(tx, before.id, &me).await?;
    record(tx, by, "campaign.change_approved", Some(before), &after).await?;
    Ok(after)
}

/// A part of a live campaign's change made outside the campaign itself.
#[derive(Debug, Clone)]
pub enum ChangePart {
    /// An ad group's change (`create`, `update`, `archive`), or `None` when
    /// the ad group no longer has one.
    AdGroup(AdGroupId, Option<&'static str>),
    /// A change with nothing to apply that needs sign-off.
    Reason(String),
    /// A new click URL proposed for a creative it runs (`None`: withdrawn).
    Creative(CreativeId, Option<String>),
}

/// A change to what campaign `id` spends by, made elsewhere (its ad groups,
/// its insertion order's pricing): for a live campaign it joins the
/// campaign's pending change, with `by` as the maker of the whole change; a
/// campaign waiting for approval gets `by` as its submitter (they changed
/// what is to be approved); a draft is left alone.
pub async fn changed_elsewhere(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    status: CampaignStatus,
    version: i64,
    part: ChangePart,
) -> Result<(), ApiError> {
    if status.is_cleared_to_spend() {
        return join_change(tx, by, id, part).await;
    }
    if status != CampaignStatus::PendingApproval {
        return Ok(());
    }
    let reason = match &part {
        ChangePart::AdGroup(..) => "ad group changed".to_string(),
        ChangePart::Reason(r) => r.clone(),
        ChangePart::Creative(..) => "creative click URL changed".to_string(),
    };
    resubmit(tx, by, id, status, version, &reason).await
}

/// Add `part` to the live campaign's pending change (or take it out).
async fn join_change(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    part: ChangePart,
) -> Result<(), ApiError> {
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    let me = by.maker_ref();
    let mut next = before
        .pending
        .as_ref()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| Pending::new(&me));
    match part {
        ChangePart::AdGroup(group, Some(op)) => {
            next.ad_groups.insert(group, op.to_string());
        }
        ChangePart::AdGroup(group, None) => {
            next.ad_groups.remove(&group);
        }
        ChangePart::Reason(r) => {
            if !next.reasons.contains(&r) {
                next.reasons.push(r);
            }
        }
        ChangePart::Creative(creative, Some(url)) => {
            next.creatives.insert(creative, url);
        }
        ChangePart::Creative(creative, None) => {
            next.creatives.remove(&creative);
        }
    }
    // Whoever changes the waiting change is one of its makers.
    next.changed_by(&me);
    let pending = (!next.is_empty()).then_some(next);
    let after = store::set_pending(tx, id, pending.as_ref()).await?;
    record(tx, by, "campaign.change_submitted", Some(&before), &after).await
}

/// A creative's proposed click URL was decided with campaign `decided`:
/// the other campaigns carrying it no longer wait for it.
async fn settled_elsewhere(
    tx: &mut TenantTx,
    by: &Principal,
    creative: CreativeId,
    decided: CampaignId,
) -> Result<(), ApiError> {
    for other in store::carrying_creative(tx, creative, decided).await? {
        let before = store::lock(tx, other)
            .await?
            .ok_or_else(Problem::not_found)?;
        let Some(mut next) = before.pending.as_ref().map(|p| p.0.clone()) else {
            continue;
        };
        next.creatives.remove(&creative);
        let pending = (!next.is_empty()).then_some(next);
        let after = store::set_pending(tx, other, pending.as_ref()).await?;
        record(tx, by, "campaign.change_settled", Some(&before), &after).await?;
    }
    Ok(())
}

async fn resubmit(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    status: CampaignStatus,
    version: i64,
    reason: &str,
) -> Result<(), ApiError> {
    let Some(new_version) = store::resubmit(tx, id, &by.maker_ref()).await? else {
        return Err(Problem::conflict(format!(
            "campaign {id} has a change waiting for approval; approve or reject it before \
             changing what it runs"
        ))
        .into());
    };
    events::campaign(
        tx,
        "campaign.resubmitted",
        id,
        Some(status),
        CampaignStatus::PendingApproval,
        new_version,
    )
    .await?;
    tenancy::audit::record_change(
        tx,
        by,
        "campaign.resubmitted",
        "campaign",
        id,
        serde_json::json!({
            "before": {"status": status, "version": version},
            "after": {"status": "pending_approval"},
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}
