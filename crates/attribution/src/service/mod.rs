//! The attribution reports: campaigns credited over a window, one
//! opportunity explained to the touch, lift against an audience's holdout,
//! and the tenant's rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::fx::Rates;
use crate::models::Model;
use crate::run::{Kind, Opp, Outcome, Rules, run};
use crate::{Settings, store};
use kept::Touches;

/// The longest window a report covers.
const MAX_DAYS: i64 = 731;

/// The tenant's rules (the defaults until it sets its own).
pub async fn settings(tx: &mut TenantTx, by: &Principal) -> Result<Settings, ApiError> {
    by.require(Permission::ReportsRead)?;
    Ok(store::settings(tx).await?.unwrap_or_default())
}

/// Set the tenant's rules (audited).
pub async fn update_settings(
    tx: &mut TenantTx,
    by: &Principal,
    new: Settings,
) -> Result<Settings, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    if !(1..=730).contains(&new.lookback_days) {
        errors.push(FieldError::new("lookback_days", "out_of_range", "1 to 730"));
    }
    if !(1..=365).contains(&new.half_life_days) {
        errors.push(FieldError::new(
            "half_life_days",
            "out_of_range",
            "1 to 365",
        ));
    }
    if new.currency.len() != 3 || !new.currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push(FieldError::new(
            "currency",
            "invalid",
            "an ISO 4217 code such as USD",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let before = store::settings(tx).await?.unwrap_or_default();
    store::put_settings(tx, &new).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "attribution.settings_changed",
        "attribution_settings",
        tx.tenant().0,
        serde_json::json!({"before": before, "after": new}),
    )
    .await?;
    Ok(new)
}

/// A report's window, checked.
pub fn window_of(from: Option<&str>, to: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let mut errors = Vec::new();
    let mut day =
        |field: &str, v: Option<&str>| match v.map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d")) {
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => {
                errors.push(FieldError::new(field, "invalid", "a date, YYYY-MM-DD"));
                None
            }
            None => {
                errors.push(FieldError::new(field, "required", "a date, YYYY-MM-DD"));
                None
            }
        };
    let (from, to) = (day("from", from), day("to", to));
    match (from, to) {
        (Some(f), Some(t)) if t < f => {
            errors.push(FieldError::new("to", "invalid", "on or after from"))
        }
        (Some(f), Some(t)) if (t - f).num_days() > MAX_DAYS => errors.push(FieldError::new(
            "to",
            "out_of_range",
            format!("at most {MAX_DAYS} days after from"),
        )),
        _ => {}
    }
    match (from, to) {
        (Some(f), Some(t)) if errors.is_empty() => Ok((f, t)),
        _ => Err(Problem::validation(errors).into()),
    }
}

/// What a window's runs read.
struct Inputs {
    settings: Settings,
    /// Per kind, the opportunities with amounts in the report's currency.
    opps: HashMap<Kind, Vec<Opp>>,
    /// Per kind, converting opportunities whose amount has no rate.
    unconverted: HashMap<Kind, (u64, BTreeMap<String, i64>)>,
    touches: Arc<Touches>,
    /// The rates of the opportunities' currencies and the report's.
    rates: Rates,
}

/// The rates up to `to` of `opps`' currencies and the report's.
async fn rates_of(
    tx: &mut TenantTx,
    opps: &[crm::read::Opportunity],
    report: &str,
    to: NaiveDate,
) -> Result<Rates, sqlx::Error> {
    let currencies: std::collections::BTreeSet<&str> = opps
        .iter()
        .map(|o| o.currency.as_str())
        .chain([report])
        .collect();
    let currencies: Vec<String> = currencies.into_iter().map(str::to_string).collect();
    Ok(Rates::new(store::rates(tx.conn(), &currencies, to).await?))
}

async fn inputs(tx: &mut TenantTx, from: NaiveDate, to: NaiveDate) -> Result<Inputs, ApiError> {
    let settings = store::settings(tx).await?.unwrap_or_default();
    let rows = kept::opportunities(tx, from, to).await?;
    let rates = rates_of(tx, &rows, &settings.currency, to).await?;
    let mut opps: HashMap<Kind, Vec<Opp>> = HashMap::new();
    let mut unconverted: HashMap<Kind, (u64, BTreeMap<String, i64>)> = HashMap::new();
    for o in rows.iter() {
        let created = o.created_at.date_naive();
        let won = o.is_won.then_some(o.close_date).flatten();
        for kind in [Kind::Pipeline, Kind::Revenue] {
            let day = match kind {
                Kind::Pipeline => Some(created),
                Kind::Revenue => won,
            };
            let Some(day) = day.filter(|d| *d >= from && *d <= to) else {
                continue;
            };
            let amount = match o.amount_micros {
                None => Some(0),
                Some(a) => rates.convert(a, &o.currency, &settings.currency, day),
            };
            let Some(amount) = amount else {
                let u = unconverted.entry(kind).or_default();
                u.0 += 1;
                *u.1.entry(o.currency.clone()).or_default() += o.amount_micros.unwrap_or(0);
                continue;
            };
            opps.entry(kind).or_default().push(Opp {
                id: o.id.clone(),
                company: o.company.clone(),
                amount: Some(amount),
                created,
                won,
            });
        }
    }
    let since = from - Duration::days(settings.lookback_days);
    let touches = kept::touches(tx, since, to).await?;
    Ok(Inputs {
        settings,
        opps,
        unconverted,
        touches,
        rates,
    })
}

fn rules(s: &Settings, from: NaiveDate, to: NaiveDate) -> Rules {
    Rules {
        from,
        to,
        lookback_days: s.lookback_days,
        half_life_days: s.half_life_days as f64,
    }
}

/// Pipeline and revenue run side by side on a blocking thread each (a
/// run over a hundred thousand opportunities is a second of CPU, which the
/// async workers must not spend).
async fn both(
    pipeline: Vec<Opp>,
    revenue: Vec<Opp>,
    touches: Arc<Touches>,
    r: Rules,
) -> Result<(Outcome, Outcome), ApiError> {
    let t = touches.clone();
    let p = tokio::task::spawn_blocking(move || run(&pipeline, &t, Kind::Pipeline, r));
    let v = tokio::task::spawn_blocking(move || run(&revenue, &touches, Kind::Revenue, r));
    let (p, v) = tokio::join!(p, v);
    let failed = |e: tokio::task::JoinError| {
        ApiError::from(anyhow::anyhow!("the attribution run failed: {e}"))
    };
    Ok((p.map_err(failed)?, v.map_err(failed)?))
}

/// A campaign's attributed pipeline and revenue under one model.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub campaign_name: Option<String>,
    /// Micros of the report's currency credited to the campaign.
    pub attributed_pipeline_micros: i64,
    pub attributed_revenue_micros: i64,
    /// The whole amount of every opportunity created in the window whose
    /// account the campaign reached within the lookback before.
    pub influenced_pipeline_micros: i64,
    /// TTD's advertiser cost in the window, micro-dollars.
    pub spend_usd_micros: i64,
    /// Attributed revenue (in dollars) over spend; absent without spend or
    /// without a rate to dollars.
    pub roas: Option<f64>,
}

/// What was and was not attributed, for one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct Totals {
    /// Opportunities with at least one touch, and the sum of their amounts:
    /// what the campaigns' credits add up to, exactly.
    pub attributed_opportunities: u64,
    pub attributed_micros: i64,
    /// Opportunities with no touch within the lookback (or whose account
    /// matched no company): reported, never spread.
    pub unattributed_opportunities: u64,
    pub unattributed_micros: i64,
    /// Opportunities whose currency has no rate to the report's, by
    /// currency (micros of their own currency): not converted, not mixed in.
    pub unconverted_opportunities: u64,
    pub unconverted_micros: BTreeMap<String, i64>,
}

/// The campaign report.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReport {
    pub model: Model,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: String,
    pub lookback_days: i64,
    pub campaigns: Vec<CampaignRow>,
    pub pipeline: Totals,
    pub revenue: Totals,
}

/// Attributed pipeline and revenue per campaign over `[from, to]` under `model`.
pub async fn campaigns(
    tx: &mut TenantTx,
    by: &Principal,
    model: Model,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<CampaignReport, ApiError> {
    by.require(Permission::ReportsRead)?;
    let mut input = inputs(tx, from, to).await?;
    let r = rules(&input.settings, from, to);
    let (pipeline, revenue) = both(
        input.opps.remove(&Kind::Pipeline).unwrap_or_default(),
        input.opps.remove(&Kind::Revenue).unwrap_or_default(),
        input.touches.clone(),
        r,
    )
    .await?;
    let spend: HashMap<Uuid, i64> = delivery::touches::campaign_spend(tx, from, to)
        .await?
        .into_iter()
        .collect();
    let mut ids: Vec<Uuid> = pipeline
        .credits
        .keys()
        .chain(revenue.credits.keys())
        .map(|(_, c)| *c)
        .chain(spend.keys().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = campaigns::read::names(tx, &ids, &[], &[]).await?;
    let rows = ids
        .into_iter()
        .map(|c| {
            let revenue_micros = revenue.credits.get(&(model, c)).copied().unwrap_or(0);
            let spend_usd_micros = spend.get(&c).copied().unwrap_or(0);
            let roas = (spend_usd_micros > 0)
                .then(|| {
                    input
                        .rates
                        .convert(revenue_micros, &input.settings.currency, "USD", to)
                })
                .flatten()
                .map(|usd| usd as f64 / spend_usd_micros as f64);
            CampaignRow {
                campaign_id: c,
                campaign_name: names.campaigns.get(&c).cloned(),
                attributed_pipeline_micros: pipeline.credits.get(&(model, c)).copied().unwrap_or(0),
                attributed_revenue_micros: revenue_micros,
                influenced_pipeline_micros: pipeline.influenced.get(&c).copied().unwrap_or(0),
                spend_usd_micros,
                roas,
            }
        })
        .collect();
    let totals = |o: &crate::run::Outcome, kind: Kind| {
        let (n, by_currency) = input.unconverted.get(&kind).cloned().unwrap_or_default();
        Totals {
            attributed_opportunities: o.attributed,
            attributed_micros: o.attributed_micros,
            unattributed_opportunities: o.unattributed,
            unattributed_micros: o.unattributed_micros,
            unconverted_opportunities: n,
            unconverted_micros: by_currency,
        }
    };
    Ok(CampaignReport {
        model,
        from,
        to,
        currency: input.settings.currency.clone(),
        lookback_days: input.settings.lookback_days,
        campaigns: rows,
        pipeline: totals(&pipeline, Kind::Pipeline),
        revenue: totals(&revenue, Kind::Revenue),
    })
}

pub mod explain;
pub mod kept;
pub mod lift;

pub use explain::{Explain, Explained, ExplainedTouch, explain};
pub use lift::{LiftReport, Measure, lift};
