//! Pacing's rules: who may read it, which campaigns, and the moment
//! compared.

use chrono::{DateTime, NaiveDate, Utc};
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Budget, Mode, Pace, Spent, State, pace, store};

/// A campaign's pacing.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CampaignPacing {
    pub campaign_id: Uuid,
    pub name: String,
    pub insertion_order_id: Uuid,
    pub status: String,
    pub currency: String,
    pub budget_micros: i64,
    pub daily_cap_micros: Option<i64>,
    pub flight_start: NaiveDate,
    pub flight_end: NaiveDate,
    pub mode: Mode,
    #[serde(flatten)]
    pub pace: Pace,
}

/// An insertion order's pacing (even over its dates, every campaign's
/// spend), with its campaigns'.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct IoPacing {
    pub insertion_order_id: Uuid,
    pub name: String,
    pub currency: String,
    pub budget_micros: i64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    #[serde(flatten)]
    pub pace: Pace,
    pub campaigns: Vec<CampaignPacing>,
}

/// The moment compared: `at` when given, else where the feed's data ends
/// (now, without any data, or when the data runs ahead of the clock).
pub async fn as_of(
    tx: &mut TenantTx,
    at: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    if let Some(at) = at {
        return Ok(at);
    }
    Ok(moment(store::data_until(tx.conn()).await?))
}

/// Where the feed's data ends (`until`), or now without any data or when
/// the data runs ahead of the clock.
pub fn moment(until: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now();
    until.map_or(now, |until| until.min(now))
}

fn mode(m: &str) -> Mode {
    match m {
        "ahead" => Mode::Ahead,
        "asap" => Mode::Asap,
        _ => Mode::Even,
    }
}

/// Campaigns paced, with what they spent together and the tolerance used.
struct Paced {
    campaigns: Vec<CampaignPacing>,
    total: Spent,
    tolerance: i64,
}

/// The pacing of campaigns (ids, an insertion order's, or every one
/// cleared to spend) at `at`, with the tenant's tolerance.
async fn of(
    tx: &mut TenantTx,
    ids: Option<&[Uuid]>,
    io: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<Paced, sqlx::Error> {
    let terms = campaigns::read::spend_terms(tx, ids, io).await?;
    let ids: Vec<Uuid> = terms.iter().map(|t| t.id).collect();
    let spent = store::spent(tx, &ids, at).await?;
    let tolerance = crate::reach::tolerance(tx).await?;
    let total = spent.values().fold(Spent::default(), |s, x| Spent {
        to_date: s.to_date + x.to_date,
        last_3_days: s.last_3_days + x.last_3_days,
        last_24_hours: s.last_24_hours + x.last_24_hours,
    });
    let campaigns = terms
        .into_iter()
        .map(|t| {
            let b = Budget {
                budget: t.budget_micros,
                daily_cap: t.daily_cap_micros,
                start: t.flight_start,
                end: t.flight_end,
                mode: mode(&t.pacing),
            };
            let mut p = pace(
                &b,
                spent.get(&t.id).copied().unwrap_or_default(),
                at,
                tolerance,
            );
            if t.currency != "USD" {
                p.state = State::NotComparable;
            }
            CampaignPacing {
                campaign_id: t.id,
                name: t.name,
                insertion_order_id: t.insertion_order_id,
                status: t.status,
                currency: t.currency,
                budget_micros: t.budget_micros,
                daily_cap_micros: t.daily_cap_micros,
                flight_start: t.flight_start,
                flight_end: t.flight_end,
                mode: b.mode,
                pace: p,
            }
        })
        .collect();
    Ok(Paced {
        campaigns,
        total,
        tolerance,
    })
}

/// Campaign `id`'s pacing; 404 when it is not the tenant's.
pub async fn campaign(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<CampaignPacing, ApiError> {
    by.require(Permission::ReportsRead)?;
    let at = as_of(tx, at).await?;
    of(tx, Some(&[id]), None, at)
        .await?
        .campaigns
        .pop()
        .ok_or_else(|| Problem::not_found().into())
}

/// Every campaign cleared to spend (approved, active, paused), by name.
/// Without a principal: the platform's own watch.
pub async fn live(
    tx: &mut TenantTx,
    by: Option<&Principal>,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<CampaignPacing>, ApiError> {
    if let Some(by) = by {
        by.require(Permission::ReportsRead)?;
    }
    let at = as_of(tx, at).await?;
    Ok(of(tx, None, None, at).await?.campaigns)
}

/// Insertion order `id`'s pacing and its campaigns'; 404 when it is not
/// the tenant's.
pub async fn insertion_order(
    tx: &mut TenantTx,
    by: &Principal,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<IoPacing, ApiError> {
    by.require(Permission::ReportsRead)?;
    let Some((name, currency, budget, start, end)) =
        campaigns::read::insertion_order_terms(tx, id).await?
    else {
        return Err(Problem::not_found().into());
    };
    let at = as_of(tx, at).await?;
    let Paced {
        campaigns,
        total,
        tolerance,
    } = of(tx, None, Some(id), at).await?;
    let b = Budget {
        budget,
        daily_cap: None,
        start,
        end,
        mode: Mode::Even,
    };
    let mut p = pace(&b, total, at, tolerance);
    if currency != "USD" {
        p.state = State::NotComparable;
    }
    Ok(IoPacing {
        insertion_order_id: id,
        name,
        currency,
        budget_micros: budget,
        start_date: start,
        end_date: end,
        pace: p,
        campaigns,
    })
}
