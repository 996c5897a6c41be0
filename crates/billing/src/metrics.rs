//! The business metrics billing exports: invoices issued, revenue billed
//! and over-delivery, per currency (amounts in micros). Counted when an
//! invoice or credit note is issued; the business dashboard charts their
//! increase per month.

use crate::store::InvoiceRow;

/// `inv` (an invoice) was issued.
pub fn issued(inv: &InvoiceRow) {
    let currency = inv.currency.clone();
    metrics::counter!("p360_billing_invoices_issued_total", "kind" => "invoice").increment(1);
    metrics::counter!("p360_billing_billed_micros_total", "currency" => currency.clone())
        .increment(inv.total_micros.max(0) as u64);
    metrics::counter!("p360_billing_over_delivery_micros_total", "currency" => currency)
        .increment(inv.over_delivery_micros.max(0) as u64);
}

/// `inv` was voided: its credit note was issued.
pub fn credited(inv: &InvoiceRow) {
    metrics::counter!("p360_billing_invoices_issued_total", "kind" => "credit_note").increment(1);
    metrics::counter!("p360_billing_credited_micros_total", "currency" => inv.currency.clone())
        .increment(inv.total_micros.max(0) as u64);
}
