//! Campaign operations: create, change, move through the workflow. Each
//! checks the principal's permission, writes in the caller's transaction,
//! audits the change and announces it as a domain event there too.

use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::events;
use super::store::{self, Changes, Filter, New};
use super::workflow::{
    self, Action, CampaignStatus, Flight, Objective, Pacing, Refused, check_against_ad_groups,
    check_against_io,
};
use super::{Campaign, CampaignPatch, NewCampaign, Row};
use crate::ids::CampaignId;
use crate::validate::{check_enum, check_money, check_name};

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "campaigns_io_name_key",
        || "this insertion order has a campaign with that name",
    )
}

/// Create a campaign (as a draft) under an insertion order.
pub async fn create(tx: &mut TenantTx, by: &Principal, new: NewCampaign) -> Result<Row, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let io = store::lock_io(tx, new.insertion_order_id).await?;
    let mut errors = Vec::new();
    check_name(&new.name, &mut errors);
    let objective = check_enum::<Objective>("objective", &new.objective, &mut errors);
    let pacing = check_enum::<Pacing>("pacing", &new.pacing, &mut errors);
    let currency = io.as_ref().map(|io| io.currency.as_str());
    let budget = check_money("budget", &new.budget, currency, &mut errors);
    let daily_cap = new
        .daily_cap
        .as_ref()
        .and_then(|c| check_money("daily_cap", c, currency, &mut errors));
    match &io {
        None => errors.push(FieldError::new(
            "insertion_order_id",
            "not_found",
            "no such insertion order",
        )),
        Some(io) => {
            let used = store::committed(tx, new.insertion_order_id, None).await?;
            check_against_io(&io.terms, &new.flight, budget, used, &mut errors);
        }
    }
    let (Some(io), Some(objective), Some(pacing), Some(budget), true) =
        (io, objective, pacing, budget, errors.is_empty())
    else {
        return Err(Problem::validation(errors).into());
    };
    let row = store::insert(
        tx,
        &New {
            insertion_order_id: new.insertion_order_id,
            advertiser_id: io.advertiser_id,
            currency: &io.currency,
            name: new.name.trim(),
            objective,
            budget_micros: budget,
            daily_cap_micros: daily_cap,
            flight_start: new.flight.start,
            flight_end: new.flight.end,
            pacing,
            kpi_goal: new.kpi_goal.as_ref(),
        },
    )
    .await
    .map_err(name_taken)?;
    record(tx, by, "campaign.created", None, &row).await?;
    Ok(row)
}

pub async fn get(tx: &mut TenantTx, by: &Principal, id: CampaignId) -> Result<Row, ApiError> {
    by.require(Permission::CampaignsRead)?;
    store::get(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

/// Campaigns, newest first, filtered (`filter.name`: a plain substring).
pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    mut filter: Filter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Row>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    filter.name = filter.name.as_deref().map(crate::validate::escape_like);
    Ok(store::list(tx, &filter, after.map(|c| (c.at, c.id)), limit).await?)
}

/// Change a campaign. Budget or flight changes to a campaign cleared to
/// spend send it back to approval, with `by` as its submitter.
pub async fn update(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    expected: &Precondition,
    patch: CampaignPatch,
) -> Result<Row, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    // Lock order: IO, then campaign (as create does), so concurrent budget
    // changes under one IO are serialised without deadlocks.
    let io_id = store::insertion_order_of(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let io = store::lock_io(tx, io_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    // Existence first (404 for another tenant's object), then the precondition.
    expected.check(before.version)?;
    if before.status.is_closed() {
        return Err(
            Problem::conflict(format!("a {} campaign cannot be changed", before.status)).into(),
        );
    }
    let mut errors = Vec::new();
    if let Some(n) = &patch.name {
        check_name(n, &mut errors);
    }
    let objective = patch
        .objective
        .as_deref()
        .and_then(|o| check_enum::<Objective>("objective", o, &mut errors));
    let pacing = patch
        .pacing
        .as_deref()
        .and_then(|p| check_enum::<Pacing>("pacing", p, &mut errors));
    let budget = patch
        .budget
        .as_ref()
        .and_then(|b| check_money("budget", b, Some(&io.currency), &mut errors));
    let daily_cap = patch
        .daily_cap
        .as_ref()
        .and_then(|c| check_money("daily_cap", c, Some(&io.currency), &mut errors));
    let flight: Flight = patch.flight.unwrap_or(before.flight());
    let used = store::committed(tx, io_id, Some(id)).await?;
    check_against_io(
        &io.terms,
        &flight,
        Some(budget.unwrap_or(before.budget_micros)),
        used,
        &mut errors,
    );
    if let Some(b) = budget {
        let held = store::ad_groups_budget(tx, id).await?;
        check_against_ad_groups(b, held, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    // Everything TTD spends by: budget, flight, daily cap and pacing.
    let spend_changed = (budget.is_some() && budget != Some(before.budget_micros))
        || (patch.flight.is_some() && flight != before.flight())
        || (daily_cap.is_some() && daily_cap != before.daily_cap_micros)
        || pacing.is_some_and(|p| p != before.pacing);
    let me = by.maker_ref();
    let after = store::update(
        tx,
        id,
        &Changes {
            name: patch.name.as_deref().map(str::trim),
            objective,
            budget_micros: budget,
            flight_start: flight.start,
            flight_end: flight.end,
            pacing,
            daily_cap_micros: daily_cap,
            kpi_goal: patch.kpi_goal.as_ref(),
            // A pending version that changes is a new submission, with the
            // editor as its maker: an approver who edits can no longer approve.
            back_to_approval: workflow::needs_reapproval(before.status, spend_changed)
                || before.status == CampaignStatus::PendingApproval,
            by: &me,
        },
    )
    .await
    .map_err(name_taken)?;
    record(tx, by, "campaign.updated", Some(&before), &after).await?;
    Ok(after)
}

/// Take a workflow step (`reason`: required to reject).
pub async fn transition(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    action: Action,
    reason: Option<String>,
) -> Result<Row, ApiError> {
    by.require(action.permission())?;
    let reason = reason.map(|r| r.trim().to_string());
    if action == Action::Reject && reason.as_deref().is_none_or(str::is_empty) {
        return Err(refused(Refused::ReasonRequired));
    }
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    if action == Action::Approve && by.person.is_none() {
        return Err(refused(Refused::NoPerson));
    }
    let me = by.maker_ref();
    let maker = match before.submitted_by.as_deref() {
        Some(recorded) => Some(tenancy::api_keys::maker_as_person(tx, recorded).await?),
        None => None,
    };
    workflow::check_transition(before.status, action, maker.as_deref(), &me).map_err(refused)?;
    let after = store::transition(tx, id, action, &me, reason.as_deref()).await?;
    record(tx, by, action.event(), Some(&before), &after).await?;
    Ok(after)
}

fn refused(r: Refused) -> ApiError {
    match r {
        Refused::InvalidTransition {
            action,
            status,
            allowed,
        } => Problem::new(
            axum::http::StatusCode::CONFLICT,
            "invalid-transition",
            "Invalid transition",
        )
        .with_detail(format!(
            "cannot {action} a {status} campaign; allowed: {}",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
        .into(),
        Refused::OwnSubmission => tenancy::principal::forbidden(
            "you cannot approve your own submission (or your last edit of it), \
             whichever credential you use; another approver must",
        )
        .into(),
        Refused::NoPerson => tenancy::principal::forbidden(
            "an API key that acts for no user cannot approve; a person must",
        )
        .into(),
        Refused::ReasonRequired => Problem::validation(vec![FieldError::new(
            "reason",
            "required",
            "say why the campaign is rejected",
        )])
        .into(),
    }
}

/// A change to what a campaign spends, made elsewhere (its ad groups, its
/// insertion order's pricing): a campaign cleared to spend, or waiting for
/// approval, goes (back) to approval with `by` as its maker; `reason` says
/// what changed, in the audit event.
pub async fn resubmit_if_cleared(
    tx: &mut TenantTx,
    by: &Principal,
    id: CampaignId,
    status: CampaignStatus,
    version: i64,
    reason: &str,
) -> Result<(), ApiError> {
    if !workflow::needs_reapproval(status, true) && status != CampaignStatus::PendingApproval {
        return Ok(());
    }
    let new_version = store::resubmit(tx, id, &by.maker_ref()).await?;
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

/// Announce a campaign change as a domain event and audit it, both in the
/// change's transaction.
async fn record(
    tx: &mut TenantTx,
    by: &Principal,
    action: &'static str,
    before: Option<&Row>,
    after: &Row,
) -> Result<(), ApiError> {
    events::campaign(
        tx,
        action,
        after.id,
        before.map(|b| b.status),
        after.status,
        after.version,
    )
    .await?;
    tenancy::audit::record_change(
        tx,
        by,
        action,
        "campaign",
        after.id,
        serde_json::json!({
            "before": before.map(|b| Campaign::new(b, None)),
            "after": Campaign::new(after, None),
        }),
    )
    .await?;
    Ok(())
}
