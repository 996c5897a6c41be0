//! Campaign operations: create, change, move through the workflow. Each
//! checks the principal's permission, writes in the caller's transaction,
//! audits the change and announces it as a domain event there too.

use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

mod change;

pub use change::{ChangePart, changed_elsewhere};
use change::{decide_pending, propose};

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

/// Change a campaign. On a live campaign (cleared to spend) a change to what
/// TTD spends by (budget, flight, daily cap, pacing) becomes its pending
/// change, with `by` as its maker, while the approved values keep running;
/// an edit of a campaign waiting for approval makes `by` its submitter.
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
    // A live campaign (cleared to spend) keeps its approved values: a change
    // to what TTD spends by waits beside them as its pending change.
    let live = before.status.is_cleared_to_spend();
    let waiting = before
        .pending
        .as_ref()
        .filter(|_| live)
        .map(|p| p.0.clone());
    // The version being edited: the live one with its pending change.
    let edited_budget = waiting
        .as_ref()
        .and_then(|p| p.budget_micros)
        .unwrap_or(before.budget_micros);
    let edited_flight = waiting
        .as_ref()
        .and_then(|p| p.flight)
        .unwrap_or(before.flight());
    let flight: Flight = patch.flight.unwrap_or(edited_flight);
    let used = store::committed(tx, io_id, Some(id)).await?;
    check_against_io(
        &io.terms,
        &flight,
        Some(budget.unwrap_or(edited_budget)),
        used,
        &mut errors,
    );
    if let Some(b) = budget {
        let held = store::ad_groups_budget(tx, id, None).await?;
        check_against_ad_groups(b, held, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let me = by.maker_ref();
    let pending = if live {
        propose(
            &before,
            waiting.as_ref(),
            budget,
            patch.flight.map(|_| flight),
            daily_cap,
            pacing,
            &me,
        )
    } else {
        None
    };
    let submitted = live && pending != waiting;
    let after = store::update(
        tx,
        id,
        &Changes {
            name: patch.name.as_deref().map(str::trim),
            objective,
            // What TTD spends by changes here only before the campaign is live.
            budget_micros: budget.filter(|_| !live),
            flight_start: if live {
                before.flight_start
            } else {
                flight.start
            },
            flight_end: if live { before.flight_end } else { flight.end },
            pacing: pacing.filter(|_| !live),
            daily_cap_micros: daily_cap.filter(|_| !live),
            kpi_goal: patch.kpi_goal.as_ref(),
            pending: pending.as_ref(),
            // A pending version that changes is a new submission, with the
            // editor as its maker: an approver who edits can no longer approve.
            back_to_approval: before.status == CampaignStatus::PendingApproval,
            by: &me,
        },
    )
    .await
    .map_err(name_taken)?;
    let action = if submitted {
        "campaign.change_submitted"
    } else {
        "campaign.updated"
    };
    record(tx, by, action, Some(&before), &after).await?;
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
    // Lock order: IO, then campaign (approving a pending change checks it
    // against the IO again).
    if action == Action::Approve {
        let io_id = store::insertion_order_of(tx, id)
            .await?
            .ok_or_else(Problem::not_found)?;
        store::lock_io(tx, io_id).await?;
    }
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    if action == Action::Approve && by.person.is_none() {
        return Err(refused(Refused::NoPerson));
    }
    let me = by.maker_ref();
    if let Some(pending) = before
        .pending
        .as_ref()
        .filter(|_| before.status.is_cleared_to_spend())
        && matches!(action, Action::Approve | Action::Reject)
    {
        let pending = pending.0.clone();
        return decide_pending(tx, by, &before, &pending, action, reason.as_deref()).await;
    }
    let maker = match before.submitted_by.as_deref() {
        Some(recorded) => Some(tenancy::api_keys::maker_as_person(tx, recorded).await?),
        None => None,
    };
    let waiting = before.pending.is_some() && before.status.is_cleared_to_spend();
    workflow::check_transition(before.status, action, maker.as_deref(), &me).map_err(|r| {
        refused(match r {
            // Its pending change can be decided, too.
            Refused::InvalidTransition {
                action,
                status,
                mut allowed,
            } if waiting => {
                allowed.extend([Action::Approve, Action::Reject]);
                Refused::InvalidTransition {
                    action,
                    status,
                    allowed,
                }
            }
            other => other,
        })
    })?;
    if action == Action::Archive && waiting {
        // Its pending change goes with it; a new click URL it carries stays
        // proposed while another campaign carries it too.
        store::drop_ad_group_changes(tx, id).await?;
        if let Some(p) = &before.pending {
            for (creative, url) in &p.creatives {
                if store::carrying_creative(tx, *creative, id)
                    .await?
                    .is_empty()
                {
                    store::settle_creative_change(tx, *creative, url, false).await?;
                }
            }
        }
    }
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
