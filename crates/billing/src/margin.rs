//! The margin report for staff: what each insertion order billed per
//! delivery month against what its media cost at The Trade Desk (TTD's
//! advertiser cost of its campaigns' delivery).

use std::collections::{BTreeMap, HashMap};

use platform::http::problem::ApiError;
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx, principal::forbidden};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::pricing::Month;
use crate::store;

/// One insertion order's month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MarginRow {
    pub insertion_order_id: Uuid,
    pub insertion_order_name: String,
    pub advertiser_id: Uuid,
    pub currency: String,
    /// `YYYY-MM`: the month delivered (late delivery billed as an
    /// adjustment counts for the month it corrects).
    #[schema(value_type = String, example = "2026-11")]
    pub month: Month,
    /// On issued invoices, net of credit notes (micros).
    pub billed_micros: i64,
    /// On drafts not yet issued (micros).
    pub drafted_micros: i64,
    /// Delivered past the budget, not billable (micros).
    pub over_delivery_micros: i64,
    /// TTD's advertiser cost of the month's delivery (micros).
    pub media_cost_micros: i64,
    /// billed + drafted − media cost (micros).
    pub margin_micros: i64,
    /// The margin over billed + drafted, in percent (absent when nothing
    /// is billed).
    pub margin_percent: Option<f64>,
}

/// Billed against media cost per insertion order and month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarginReport {
    #[schema(value_type = String)]
    pub from: Month,
    #[schema(value_type = String)]
    pub to: Month,
    pub rows: Vec<MarginRow>,
}

/// The months `[from, to]`'s margin, for staff with `billing.read`.
pub async fn report(
    tx: &mut TenantTx,
    by: &Principal,
    from: Month,
    to: Month,
) -> Result<MarginReport, ApiError> {
    by.require(Permission::BillingRead)?;
    if !by.is_staff() {
        return Err(forbidden("the margin report is for the agency's staff").into());
    }
    let orders = campaigns::read::billing_orders(tx, to.last()).await?;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let campaigns = campaigns::read::campaigns_of_orders(tx, &ids).await?;
    let order_of: HashMap<Uuid, Uuid> = campaigns.iter().map(|c| (c.0, c.1)).collect();
    let campaign_ids: Vec<Uuid> = campaigns.iter().map(|c| c.0).collect();
    let mut rows: BTreeMap<(Uuid, Month), MarginRow> = BTreeMap::new();
    let named: HashMap<Uuid, &campaigns::read::BillingOrder> =
        orders.iter().map(|o| (o.id, o)).collect();
    let blank = |order: Uuid, month: Month| -> Option<MarginRow> {
        let o = named.get(&order)?;
        Some(MarginRow {
            insertion_order_id: order,
            insertion_order_name: o.name.clone(),
            advertiser_id: o.advertiser_id,
            currency: o.currency.clone(),
            month,
            billed_micros: 0,
            drafted_micros: 0,
            over_delivery_micros: 0,
            media_cost_micros: 0,
            margin_micros: 0,
            margin_percent: None,
        })
    };
    for d in delivery::touches::campaign_months(tx, &campaign_ids, from.first(), to.last()).await? {
        let Some(order) = order_of.get(&d.campaign_id).copied() else {
            continue;
        };
        let month = Month::of(d.month);
        if let Some(b) = blank(order, month) {
            rows.entry((order, month)).or_insert(b).media_cost_micros += d.cost_micros;
        }
    }
    for (order, month, _, billed, drafted, over) in
        store::billed_by_order(tx, from.first(), to.first()).await?
    {
        let month = Month::of(month);
        if let Some(b) = blank(order, month) {
            let r = rows.entry((order, month)).or_insert(b);
            r.billed_micros += billed;
            r.drafted_micros += drafted;
            r.over_delivery_micros += over;
        }
    }
    let rows = rows
        .into_values()
        .map(|mut r| {
            let revenue = r.billed_micros + r.drafted_micros;
            r.margin_micros = revenue - r.media_cost_micros;
            r.margin_percent = (revenue != 0)
                .then(|| (r.margin_micros as f64 * 10_000.0 / revenue as f64).round() / 100.0);
            r
        })
        .collect();
    Ok(MarginReport { from, to, rows })
}
