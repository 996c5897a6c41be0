//! Drafting a month's invoices from delivery, and closing a month.
//!
//! For each insertion order whose flight has started: its campaigns'
//! delivery per month, what the closed months' invoices already hold
//! ([`store::posted`]), and the open months up to the drafted one go
//! through [`ledger::postings`]; the postings that land on the drafted
//! month's invoice — its own line, and the adjustments when it is the
//! order's first open month — become lines ([`invoice::lines`]), one
//! invoice per advertiser, replacing the draft's lines. Closing a month
//! drafts it once more and freezes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use platform::http::problem::{ApiError, Problem};
use serde_json::json;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use uuid::Uuid;

use crate::invoice::{self, LineKind, OrderPart};
use crate::ledger::{self, Book, Kind};
use crate::pricing::{Delivered, Month, Priced, Pricing, Terms, minor_unit_micros};
use crate::store::{self, LineRow};

/// An order's part of an invoice, and the order's name.
struct Named {
    part: OrderPart<Uuid>,
    name: String,
}

fn terms(o: &campaigns::read::BillingOrder) -> Terms {
    let rate = o.pricing_rate_micros;
    Terms {
        pricing: match o.pricing_model.as_str() {
            "cpc" => Pricing::Cpc { rate_micros: rate },
            "flat_fee" => Pricing::FlatFee { fee_micros: rate },
            "cost_plus" => Pricing::CostPlus {
                markup_micro_percent: rate,
            },
            _ => Pricing::Cpm { rate_micros: rate },
        },
        budget_micros: o.budget_micros,
        start: o.start_date,
        end: o.end_date,
        unit_micros: minor_unit_micros(&o.currency),
    }
}

/// Draft (or draft again) `month`'s invoices: their ids.
pub async fn draft(tx: &mut TenantTx, by: &Principal, month: Month) -> Result<Vec<Uuid>, ApiError> {
    by.require(Permission::BillingManage)?;
    store::lock_tenant(tx).await?;
    let closed: BTreeSet<Month> = store::closed_months(tx)
        .await?
        .into_iter()
        .map(Month::of)
        .collect();
    if closed.contains(&month) {
        return Err(Problem::conflict(format!("{month} is closed: its invoices are final")).into());
    }
    let orders = campaigns::read::billing_orders(tx, month.last()).await?;
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let campaigns = campaigns::read::campaigns_of_orders(tx, &ids).await?;
    let campaign_ids: Vec<Uuid> = campaigns.iter().map(|c| c.0).collect();
    let first = orders
        .iter()
        .map(|o| o.start_date)
        .min()
        .unwrap_or(month.first());
    let delivered =
        delivery::touches::campaign_months(tx, &campaign_ids, first, month.last()).await?;
    // Each campaign's months, and each order's (its campaigns' summed).
    let order_of: HashMap<Uuid, Uuid> = campaigns.iter().map(|c| (c.0, c.1)).collect();
    let names: HashMap<Uuid, String> = campaigns.iter().map(|c| (c.0, c.2.clone())).collect();
    let mut by_campaign: HashMap<(Uuid, Month), Delivered> = HashMap::new();
    let mut by_order: HashMap<Uuid, BTreeMap<Month, Delivered>> = HashMap::new();
    for d in delivered {
        let (m, delivered) = (
            Month::of(d.month),
            Delivered {
                impressions: d.impressions,
                clicks: d.clicks,
                cost_micros: d.cost_micros,
            },
        );
        by_campaign.insert((d.campaign_id, m), delivered);
        if let Some(order) = order_of.get(&d.campaign_id) {
            let e = by_order.entry(*order).or_default().entry(m).or_default();
            *e = *e + delivered;
        }
    }
    let mut books: HashMap<Uuid, Book> = HashMap::new();
    for (order, m, units, billed, over) in store::posted(tx).await? {
        let b = books.entry(order).or_default();
        b.posted.insert(
            Month::of(m),
            Priced {
                units,
                amount_micros: billed + over,
            },
        );
        b.billed_micros += billed;
        b.over_delivery_micros += over;
    }

    // Per advertiser (and its currency): its orders' parts of this month's
    // invoice, with their names.
    let mut parts: BTreeMap<(Uuid, String), Vec<Named>> = BTreeMap::new();
    for o in &orders {
        let t = terms(o);
        let mine: Vec<&(Uuid, Uuid, String)> = campaigns.iter().filter(|c| c.1 == o.id).collect();
        let mut open = Vec::new();
        let mut m = Month::of(o.start_date);
        while m <= month {
            if !closed.contains(&m) {
                open.push(m);
            }
            m = m.next();
        }
        let months = by_order.remove(&o.id).unwrap_or_default();
        let book = books.remove(&o.id).unwrap_or_default();
        let first_open = open.first().copied();
        let postings: Vec<_> = ledger::postings(&t, &months, &book, &open)
            .into_iter()
            .filter(|p| match p.kind {
                Kind::Delivery => p.month == month,
                Kind::Adjustment => first_open == Some(month),
            })
            .collect();
        if postings.is_empty() {
            continue;
        }
        let part = OrderPart {
            order: o.id,
            terms: t,
            campaigns: mine
                .iter()
                .map(|c| {
                    (
                        c.0,
                        by_campaign.get(&(c.0, month)).copied().unwrap_or_default(),
                    )
                })
                .collect(),
            postings,
        };
        parts
            .entry((o.advertiser_id, o.currency.clone()))
            .or_default()
            .push(Named {
                part,
                name: o.name.clone(),
            });
    }

    let pricing: HashMap<Uuid, (String, i64)> = orders
        .iter()
        .map(|o| (o.id, (o.pricing_model.clone(), o.pricing_rate_micros)))
        .collect();
    let mut drafted = Vec::new();
    for ((advertiser, currency), orders) in parts {
        let order_names: HashMap<Uuid, String> = orders
            .iter()
            .map(|o| (o.part.order, o.name.clone()))
            .collect();
        let order_parts: Vec<OrderPart<Uuid>> = orders.into_iter().map(|o| o.part).collect();
        let (lines, _) = invoice::lines(month, &order_parts);
        let rows: Vec<LineRow> = lines
            .iter()
            .map(|l| {
                let order = order_names.get(&l.order).cloned().unwrap_or_default();
                let (kind, description) = match l.kind {
                    LineKind::Delivery => ("delivery", order),
                    LineKind::Adjustment => (
                        "adjustment",
                        format!(
                            "{order}: delivery of {} after it closed",
                            l.corrects.map(|m| m.to_string()).unwrap_or_default()
                        ),
                    ),
                    LineKind::Detail => (
                        "detail",
                        l.campaign
                            .and_then(|c| names.get(&c).cloned())
                            .unwrap_or_default(),
                    ),
                    LineKind::Manual => ("manual", order),
                };
                let priced = matches!(l.kind, LineKind::Delivery | LineKind::Detail)
                    .then(|| pricing.get(&l.order).cloned())
                    .flatten();
                LineRow {
                    kind: kind.into(),
                    insertion_order_id: Some(l.order),
                    campaign_id: l.campaign,
                    corrects_month: l.corrects.map(Month::first),
                    description,
                    units: l.units,
                    amount_micros: l.amount_micros,
                    over_delivery_micros: l.over_delivery_micros,
                    pricing_model: priced.as_ref().map(|p| p.0.clone()),
                    rate_micros: priced.map(|p| p.1),
                }
            })
            .collect();
        let existing = store::live_invoice(tx, advertiser, month.first()).await?;
        let (id, new) = match existing {
            Some((id, status)) if status == "draft" => (id, false),
            Some(_) => continue,
            None => (Uuid::now_v7(), true),
        };
        store::write_draft(tx, id, new, advertiser, &currency, month.first(), &rows).await?;
        drafted.push(id);
    }
    Ok(drafted)
}

/// Close `month` (over by `today`): draft it a last time, then freeze it.
/// Earlier months must be closed first, so adjustments land in order.
pub async fn close(
    tx: &mut TenantTx,
    by: &Principal,
    month: Month,
    today: NaiveDate,
) -> Result<Vec<Uuid>, ApiError> {
    by.require(Permission::BillingManage)?;
    if month.last() >= today {
        return Err(Problem::conflict(format!(
            "{month} is not over: a month closes after its last day"
        ))
        .into());
    }
    store::lock_tenant(tx).await?;
    let closed = store::closed_months(tx).await?;
    if closed.contains(&month.first()) {
        return Err(Problem::conflict(format!("{month} is closed already")).into());
    }
    let drafted = draft(tx, by, month).await?;
    store::close_month(tx, month.first(), &by.actor_ref()).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "billing.period_closed",
        "billing_period",
        format!("{:04}-{:02}", month.first().year(), month.first().month()),
        json!({"invoices": drafted}),
    )
    .await?;
    Ok(drafted)
}
