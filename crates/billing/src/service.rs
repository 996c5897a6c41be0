//! An invoice's states: draft → issued → paid or void. Issuing numbers it
//! (sequential per tenant, no gaps, however many finance users issue at
//! once: [`store::next_number`]); voiding keeps its number and issues a
//! credit note for it with the next one. Only finance roles change states
//! (`billing_manage`); every change is audited. The database refuses any
//! other change to an issued invoice or its lines (migration 37's
//! triggers), whatever the caller.

use platform::http::problem::{ApiError, FieldError, Problem};
use serde_json::json;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use uuid::Uuid;

use crate::store::{self, InvoiceRow};

async fn locked(tx: &mut TenantTx, id: Uuid) -> Result<InvoiceRow, ApiError> {
    store::invoice_for_update(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

fn refuse(inv: &InvoiceRow, to: &str) -> ApiError {
    Problem::conflict(format!(
        "the {} is {}: it cannot become {to}",
        inv.kind.replace('_', " "),
        inv.status
    ))
    .into()
}

/// Issue the draft `id` of a closed month: its number is the tenant's next.
pub async fn issue(tx: &mut TenantTx, by: &Principal, id: Uuid) -> Result<i64, ApiError> {
    by.require(Permission::BillingManage)?;
    let inv = locked(tx, id).await?;
    if inv.status != "draft" {
        return Err(refuse(&inv, "issued"));
    }
    if inv.kind == "invoice" && !store::month_closed(tx, inv.month).await? {
        return Err(Problem::conflict(format!(
            "{} is not closed: close the period before issuing its invoices",
            inv.month.format("%Y-%m")
        ))
        .into());
    }
    let number = store::next_number(tx).await?;
    store::set_issued(tx, id, number).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "billing.invoice_issued",
        "invoice",
        id,
        json!({"number": number, "total_micros": inv.total_micros, "currency": inv.currency}),
    )
    .await?;
    Ok(number)
}

/// Mark the issued invoice `id` paid.
pub async fn mark_paid(tx: &mut TenantTx, by: &Principal, id: Uuid) -> Result<(), ApiError> {
    by.require(Permission::BillingManage)?;
    let inv = locked(tx, id).await?;
    if inv.status != "issued" || inv.kind != "invoice" {
        return Err(refuse(&inv, "paid"));
    }
    store::settle(tx, id, "paid").await?;
    tenancy::audit::record_change(
        tx,
        by,
        "billing.invoice_paid",
        "invoice",
        id,
        json!({"number": inv.number}),
    )
    .await?;
    Ok(())
}

/// Void the issued invoice `id`: it keeps its number, and a credit note of
/// its lines negated is issued with the next. Returns the credit note's
/// id and number.
pub async fn void(tx: &mut TenantTx, by: &Principal, id: Uuid) -> Result<(Uuid, i64), ApiError> {
    by.require(Permission::BillingManage)?;
    let inv = locked(tx, id).await?;
    if inv.status != "issued" || inv.kind != "invoice" {
        return Err(refuse(&inv, "void"));
    }
    store::settle(tx, id, "void").await?;
    let note = Uuid::now_v7();
    store::credit_note(tx, note, &inv).await?;
    let number = store::next_number(tx).await?;
    store::set_issued(tx, note, number).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "billing.invoice_voided",
        "invoice",
        id,
        json!({"number": inv.number, "credit_note": note, "credit_note_number": number}),
    )
    .await?;
    Ok((note, number))
}

/// The tenant's invoices `f` asks for (customers see issued ones only:
/// drafts change every day until they are issued).
pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    mut f: store::Filter,
    before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, ApiError> {
    by.require(Permission::BillingRead)?;
    f.issued_only = !by.is_staff();
    Ok(store::list(tx, &f, before, limit).await?)
}

/// The invoice `id` with its lines (a draft is staff's: 404 to customers).
pub async fn get(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
) -> Result<(InvoiceRow, Vec<(i64, store::LineRow)>), ApiError> {
    by.require(Permission::BillingRead)?;
    let inv = store::get(tx, id)
        .await?
        .filter(|i| by.is_staff() || i.status != "draft")
        .ok_or_else(Problem::not_found)?;
    let lines = store::lines(tx, id).await?;
    Ok((inv, lines))
}

/// A manual line (a tax, a fee, a goodwill credit) for a draft.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InvoiceManualLine)]
pub struct ManualLine {
    /// What the line is, as printed (1 to 200 characters).
    pub description: String,
    /// Micros of the invoice's currency, in whole minor units; negative
    /// for a credit.
    pub amount_micros: i64,
}

/// Add `line` to the draft `id` (of a month not closed): its position.
pub async fn add_manual(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
    line: ManualLine,
) -> Result<i64, ApiError> {
    by.require(Permission::BillingManage)?;
    let inv = locked(tx, id).await?;
    let unit = crate::pricing::minor_unit_micros(&inv.currency);
    let mut errors = Vec::new();
    let description = line.description.trim();
    if description.is_empty() || description.chars().count() > 200 || description.contains('\0') {
        errors.push(FieldError::new(
            "description",
            "invalid",
            "1 to 200 characters",
        ));
    }
    if line.amount_micros == 0
        || line.amount_micros.unsigned_abs() > 1_000_000_000_000_000
        || line.amount_micros % unit != 0
    {
        errors.push(FieldError::new(
            "amount_micros",
            "invalid",
            format!(
                "a non-zero amount in whole minor units of {} (multiples of {unit}), at most 10^9",
                inv.currency
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    editable(tx, &inv).await?;
    let position = store::add_line(
        tx,
        id,
        &store::LineRow {
            kind: "manual".into(),
            insertion_order_id: None,
            campaign_id: None,
            corrects_month: None,
            description: description.to_string(),
            units: 0,
            amount_micros: line.amount_micros,
            over_delivery_micros: 0,
            pricing_model: None,
            rate_micros: None,
        },
    )
    .await?;
    tenancy::audit::record_change(
        tx,
        by,
        "billing.manual_line_added",
        "invoice",
        id,
        json!({"position": position, "description": description, "amount_micros": line.amount_micros}),
    )
    .await?;
    Ok(position)
}

/// Remove the manual line at `position` of the draft `id`.
pub async fn remove_manual(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
    position: i64,
) -> Result<(), ApiError> {
    by.require(Permission::BillingManage)?;
    let inv = locked(tx, id).await?;
    editable(tx, &inv).await?;
    if !store::remove_manual_line(tx, id, position).await? {
        return Err(Problem::not_found()
            .with_detail(format!(
                "the invoice has no manual line at position {position}"
            ))
            .into());
    }
    tenancy::audit::record_change(
        tx,
        by,
        "billing.manual_line_removed",
        "invoice",
        id,
        json!({"position": position}),
    )
    .await?;
    Ok(())
}

/// 409 unless `inv` is a draft invoice of a month still open.
async fn editable(tx: &mut TenantTx, inv: &InvoiceRow) -> Result<(), ApiError> {
    if inv.status != "draft" || inv.kind != "invoice" {
        return Err(refuse(inv, "edited"));
    }
    if store::month_closed(tx, inv.month).await? {
        return Err(Problem::conflict(format!(
            "{} is closed: its invoices' lines are final",
            inv.month.format("%Y-%m")
        ))
        .into());
    }
    Ok(())
}

/// The invoice `id`, its lines, and who it is addressed to (for its PDF).
pub async fn customer(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
) -> Result<
    (
        InvoiceRow,
        Vec<(i64, store::LineRow)>,
        crate::export::Customer,
    ),
    ApiError,
> {
    let (inv, lines) = get(tx, by, id).await?;
    let tenant = tx.tenant();
    let name = tenancy::tenants::store::name(tx.conn(), tenant)
        .await?
        .unwrap_or_default();
    let advertiser = campaigns::read::billed_advertisers(tx, &[inv.advertiser_id])
        .await?
        .pop();
    let mut orders: Vec<Uuid> = lines
        .iter()
        .filter_map(|(_, l)| l.insertion_order_id)
        .collect();
    orders.sort_unstable();
    orders.dedup();
    let contacts = campaigns::read::order_contacts(tx, &orders)
        .await?
        .into_iter()
        .filter_map(|(_, order, contact)| contact.map(|c| format!("{order}: {c}")))
        .collect();
    let customer = crate::export::Customer {
        name,
        advertiser: advertiser
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        advertiser_domain: advertiser.map(|a| a.domain).unwrap_or_default(),
        contacts,
    };
    Ok((inv, lines, customer))
}
