//! Insertion-order operations, with the permission check and the audit
//! record in the caller's transaction.

use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::store::{self, Values};
use super::{InsertionOrder, InsertionOrderPatch, NewInsertionOrder, Row, pricing_rate};
use crate::advertisers;
use crate::ids::{AdvertiserId, InsertionOrderId};
use crate::validate::{check_money, check_name, format};

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "insertion_orders_advertiser_name_key",
        || "this advertiser has an insertion order with that name",
    )
}

/// Create an insertion order for an advertiser, in the advertiser's
/// currency. Its terms (pricing, rate, budget) are the customer's contract,
/// what billing charges by: creating one takes `commercial_terms.manage`
/// (finance, account managers, platform admins), as changing its terms does.
pub async fn create(
    tx: &mut TenantTx,
    by: &Principal,
    new: NewInsertionOrder,
) -> Result<Row, ApiError> {
    by.require(Permission::CommercialTermsManage)?;
    let currency = advertisers::store::currency(tx, new.advertiser_id).await?;
    let mut errors = Vec::new();
    if currency.is_none() {
        errors.push(FieldError::new(
            "advertiser_id",
            "not_found",
            "no such advertiser",
        ));
    }
    check_name(&new.name, &mut errors);
    let budget = check_money("budget", &new.budget, currency.as_deref(), &mut errors);
    if new.end_date <= new.start_date {
        errors.push(FieldError::new(
            "end_date",
            "before_start",
            "must be after start_date",
        ));
    }
    let pricing = pricing_rate(&new.pricing, currency.as_deref(), &mut errors);
    let (Some(currency), Some(budget), Some((model, rate)), true) =
        (currency, budget, pricing, errors.is_empty())
    else {
        return Err(Problem::validation(errors).into());
    };
    let id = store::insert(
        tx,
        new.advertiser_id,
        &currency,
        &Values {
            name: Some(new.name.trim()),
            number: new.number.as_deref(),
            budget_micros: budget,
            start_date: new.start_date,
            end_date: new.end_date,
            pricing_model: Some(model),
            pricing_rate_micros: rate,
            billing_contact: new.billing_contact.as_deref(),
        },
    )
    .await
    .map_err(name_taken)?;
    let row = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    tenancy::audit::record_change(
        tx,
        by,
        "insertion_order.created",
        "insertion_order",
        id,
        serde_json::json!({"after": InsertionOrder::from(row.clone())}),
    )
    .await?;
    Ok(row)
}

pub async fn get(tx: &mut TenantTx, by: &Principal, id: InsertionOrderId) -> Result<Row, ApiError> {
    by.require(Permission::CampaignsRead)?;
    store::get(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    advertiser: Option<AdvertiserId>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Row>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::list(tx, advertiser, after.map(|c| (c.at, c.id)), limit).await?)
}

/// Change an insertion order: the budget not below what its campaigns
/// commit, the dates around every campaign's flight. Its commercial terms
/// (pricing model, rate, budget) are the customer's contract: changing them
/// takes `commercial_terms.manage` (finance and account staff), the rest
/// `campaigns.write`; a pricing change sends the campaigns under it that
/// were cleared to spend, or waiting, (back) to approval.
pub async fn update(
    tx: &mut TenantTx,
    by: &Principal,
    id: InsertionOrderId,
    expected: &Precondition,
    patch: InsertionOrderPatch,
) -> Result<Row, ApiError> {
    // Who may change nothing here is refused before anything else; which
    // fields they may change is decided once the change is known.
    if !by.role.allows(Permission::CommercialTermsManage) {
        by.require(Permission::CampaignsWrite)?;
    }
    // Locking the IO row serialises this with campaign budget changes under it.
    let version = store::lock_version(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    expected.check(version)?;
    let before = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    let mut errors = Vec::new();
    if let Some(n) = &patch.name {
        check_name(n, &mut errors);
    }
    let budget = match &patch.budget {
        Some(b) => check_money("budget", b, Some(&before.currency), &mut errors),
        None => Some(before.budget_micros),
    };
    if let Some(b) = budget
        && b < before.committed_micros
    {
        errors.push(FieldError::new(
            "budget.amount",
            "below_committed",
            format!(
                "its campaigns already have {}",
                format(before.committed_micros)
            ),
        ));
    }
    let start = patch.start_date.unwrap_or(before.start_date);
    let end = patch.end_date.unwrap_or(before.end_date);
    if end <= start {
        errors.push(FieldError::new(
            "end_date",
            "before_start",
            "must be after start_date",
        ));
    }
    let (first, last) = store::flight_span(tx, id).await?;
    if first.is_some_and(|f| f < start) || last.is_some_and(|l| l > end) {
        errors.push(FieldError::new(
            "start_date",
            "excludes_campaigns",
            "the dates must contain every campaign's flight",
        ));
    }
    let pricing = match &patch.pricing {
        Some(p) => pricing_rate(p, Some(&before.currency), &mut errors).map(|(m, r)| (Some(m), r)),
        None => Some((None, before.pricing_rate_micros)),
    };
    // An unusable value counts as an attempted change.
    let budget_changed = patch.budget.is_some() && budget != Some(before.budget_micros);
    let pricing_changed = patch.pricing.is_some()
        && pricing != Some((Some(before.pricing_model), before.pricing_rate_micros));
    let other = patch.name.is_some()
        || patch.number.is_some()
        || patch.start_date.is_some()
        || patch.end_date.is_some()
        || patch.billing_contact.is_some();
    if budget_changed || pricing_changed {
        by.require(Permission::CommercialTermsManage)?;
    }
    if other || !(budget_changed || pricing_changed) {
        by.require(Permission::CampaignsWrite)?;
    }
    let (Some(budget), Some((model, rate)), true) = (budget, pricing, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    store::update(
        tx,
        id,
        &Values {
            name: patch.name.as_deref().map(str::trim),
            number: patch.number.as_deref(),
            budget_micros: budget,
            start_date: start,
            end_date: end,
            pricing_model: model,
            pricing_rate_micros: rate,
            billing_contact: patch.billing_contact.as_deref(),
        },
    )
    .await
    .map_err(name_taken)?;
    let after = store::get(tx, id).await?.ok_or_else(Problem::not_found)?;
    tenancy::audit::record_change(
        tx,
        by,
        if budget_changed || pricing_changed {
            "insertion_order.terms_changed"
        } else {
            "insertion_order.updated"
        },
        "insertion_order",
        id,
        serde_json::json!({
            "before": InsertionOrder::from(before),
            "after": InsertionOrder::from(after.clone()),
        }),
    )
    .await?;
    if pricing_changed {
        for (campaign, status, version) in
            crate::campaigns::store::lock_of_insertion_order(tx, id).await?
        {
            crate::campaigns::service::changed_elsewhere(
                tx,
                by,
                campaign,
                status,
                version,
                crate::campaigns::service::ChangePart::Reason(
                    "insertion order pricing changed".into(),
                ),
            )
            .await?;
        }
    }
    Ok(after)
}
