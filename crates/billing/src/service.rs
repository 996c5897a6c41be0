//! An invoice's states: draft → issued → paid or void. Issuing numbers it
//! (sequential per tenant, no gaps, however many finance users issue at
//! once: [`store::next_number`]); voiding keeps its number and issues a
//! credit note for it with the next one. Only finance roles change states
//! (`billing_manage`); every change is audited. The database refuses any
//! other change to an issued invoice or its lines (migration 37's
//! triggers), whatever the caller.

use platform::http::problem::{ApiError, Problem};
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
