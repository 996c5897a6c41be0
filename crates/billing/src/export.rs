//! An invoice as files: its lines as CSV, and the PDF the customer gets
//! (the agency's details from `[billing]`, the customer's from the tenant,
//! the advertiser and its orders' billing contacts). Both are built from
//! the stored lines only, so they agree with the API to the minor unit.

use chrono::Duration;
use platform::http::spreadsheet_cell as cell;

use crate::config::BillingConfig;
use crate::pdf::{self, Document, Party, Row, format_amount};
use crate::pricing::{Month, minor_unit_micros};
use crate::store::{InvoiceRow, LineRow};

/// The lines as CSV: one row per line, amounts as decimals of the
/// currency, in the invoice's order.
pub fn csv(inv: &InvoiceRow, lines: &[(i64, LineRow)]) -> Vec<u8> {
    let unit = minor_unit_micros(&inv.currency);
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record([
        "invoice_number",
        "month",
        "currency",
        "position",
        "kind",
        "insertion_order_id",
        "campaign_id",
        "corrects_month",
        "description",
        "units",
        "pricing_model",
        "rate",
        "amount",
        "over_delivery",
    ]);
    let number = inv.number.map(|n| n.to_string()).unwrap_or_default();
    let month = Month::of(inv.month).to_string();
    for (position, l) in lines {
        let _ = w.write_record([
            number.as_str(),
            &month,
            &inv.currency,
            &position.to_string(),
            &l.kind,
            &l.insertion_order_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
            &l.campaign_id.map(|i| i.to_string()).unwrap_or_default(),
            &l.corrects_month
                .map(|m| Month::of(m).to_string())
                .unwrap_or_default(),
            &cell(&l.description),
            &l.units.to_string(),
            l.pricing_model.as_deref().unwrap_or(""),
            // Micros of the currency; for cost plus, the markup in percent.
            &l.rate_micros
                .map(|r| campaigns::money::format_micros(r, 2))
                .unwrap_or_default(),
            &decimal(l.amount_micros, unit),
            &decimal(l.over_delivery_micros, unit),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// `micros` as a plain decimal of the currency (no grouping): `-1234.50`.
pub fn decimal(micros: i64, unit_micros: i64) -> String {
    format_amount(micros, unit_micros).replace(',', "")
}

fn rate_label(model: Option<&str>, rate: Option<i64>, currency: &str) -> String {
    let Some(rate) = rate else {
        return String::new();
    };
    let r = campaigns::money::format_micros(rate, 2);
    match model {
        Some("cpm") => format!("{r} {currency} CPM"),
        Some("cpc") => format!("{r} {currency} CPC"),
        Some("flat_fee") => "flat fee".into(),
        Some("cost_plus") => format!("cost + {r}%"),
        _ => String::new(),
    }
}

/// Who the invoice is addressed to.
#[derive(Debug, Clone, Default)]
pub struct Customer {
    /// The tenant (the customer company).
    pub name: String,
    pub advertiser: String,
    pub advertiser_domain: String,
    /// Its orders' billing contacts, `order: contact`.
    pub contacts: Vec<String>,
}

/// The invoice as the PDF shows it.
pub fn document(
    inv: &InvoiceRow,
    lines: &[(i64, LineRow)],
    issuer: &BillingConfig,
    to: &Customer,
) -> Document {
    let unit = minor_unit_micros(&inv.currency);
    let credit_note = inv.kind == "credit_note";
    let rows = lines
        .iter()
        .map(|(_, l)| Row {
            description: l.description.clone(),
            detail: l.kind == "detail",
            units: match (l.kind.as_str(), l.pricing_model.as_deref()) {
                ("manual", _) => String::new(),
                // Cost plus prices the media cost: shown as money.
                (_, Some("cost_plus")) => format_amount(l.units, unit),
                _ => format_amount(l.units.saturating_mul(1_000_000), 1_000_000),
            },
            rate: rate_label(l.pricing_model.as_deref(), l.rate_micros, &inv.currency),
            amount: format_amount(l.amount_micros, unit),
        })
        .collect();
    let mut notes = Vec::new();
    if inv.over_delivery_micros != 0 {
        notes.push(format!(
            "Delivered beyond the insertion orders' budgets, not billed: {} {}",
            format_amount(inv.over_delivery_micros, unit),
            inv.currency
        ));
    }
    notes.push(
        "Amounts are rounded once per line to the currency's minor unit, half to even.".into(),
    );
    match (inv.status.as_str(), inv.issued_at) {
        ("draft", _) => notes.push("Draft: amounts may change until the month closes.".into()),
        ("void", _) => notes.push("Void: cancelled by a credit note.".into()),
        (_, Some(at)) if !credit_note => notes.push(format!(
            "Payment due by {}.",
            (at + Duration::days(issuer.payment_terms_days.into())).format("%Y-%m-%d")
        )),
        _ => {}
    }
    let mut to_lines = vec![format!("{} ({})", to.advertiser, to.advertiser_domain)];
    to_lines.extend(to.contacts.iter().cloned());
    Document {
        title: if credit_note {
            "Credit note".into()
        } else {
            "Invoice".into()
        },
        number: inv
            .number
            .map(|n| n.to_string())
            .unwrap_or_else(|| "DRAFT".into()),
        period: Month::of(inv.month).to_string(),
        issued: inv.issued_at.map(|t| t.format("%Y-%m-%d").to_string()),
        currency: inv.currency.clone(),
        from: Party {
            name: issuer.issuer_name.clone(),
            lines: issuer.issuer_lines.clone(),
        },
        to: Party {
            name: to.name.clone(),
            lines: to_lines,
        },
        rows,
        total: format_amount(inv.total_micros, unit),
        notes,
    }
}

/// The invoice as a PDF file.
pub fn pdf(
    inv: &InvoiceRow,
    lines: &[(i64, LineRow)],
    issuer: &BillingConfig,
    to: &Customer,
) -> Vec<u8> {
    pdf::render(&document(inv, lines, issuer, to))
}
