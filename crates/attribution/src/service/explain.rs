//! One opportunity explained: every touch that counted for it (campaign,
//! day, impressions, clicks) and the credit each model gave each touch.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{inputs, rules};
use crate::fx::Rates;
use crate::models::{Model, Moment};
use crate::run::{Kind, credits, removal_effects, window};
use crate::store;

/// A touch and its credit under each model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainedTouch {
    pub campaign_id: Uuid,
    pub campaign_name: Option<String>,
    pub day: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
    /// Model name -> micros of the report's currency.
    pub credits: BTreeMap<String, i64>,
}

/// The opportunity as pipeline (at its creation) or revenue (at its win).
#[derive(Debug, Serialize, ToSchema)]
pub struct Explained {
    /// The day it converts, and the lookback's first day.
    pub converted: NaiveDate,
    pub since: NaiveDate,
    /// Its amount in the report's currency (absent without a rate).
    pub amount_micros: Option<i64>,
    /// Every touch within the lookback, in time order; empty when
    /// unattributed.
    pub touches: Vec<ExplainedTouch>,
    pub unattributed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Explain {
    pub id: String,
    pub name: String,
    pub stage: String,
    /// The company its account matched.
    pub company: Option<String>,
    pub amount_micros: Option<i64>,
    pub currency: String,
    pub report_currency: String,
    pub pipeline: Explained,
    /// When it was won.
    pub revenue: Option<Explained>,
}

/// Explain opportunity `id`. The Markov model's removal effects are those
/// of the year of journeys up to its conversion.
pub async fn explain(tx: &mut TenantTx, by: &Principal, id: &str) -> Result<Explain, ApiError> {
    by.require(Permission::ReportsRead)?;
    let o = crm::read::opportunity(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let created = o.created_at.date_naive();
    let won = o.is_won.then_some(o.close_date).flatten();
    let settings = store::settings(tx).await?.unwrap_or_default();
    let currencies = [o.currency.clone(), settings.currency.clone()];
    let last = won.unwrap_or(created).max(created);
    let rates = Rates::new(store::rates(tx.conn(), &currencies, last).await?);
    let mut out = Vec::new();
    for (kind, day) in [(Kind::Pipeline, Some(created)), (Kind::Revenue, won)] {
        let Some(day) = day else {
            out.push(None);
            continue;
        };
        // The chain of the year up to the conversion, solved on a
        // blocking thread.
        let from = day - Duration::days(365);
        let mut input = inputs(tx, from, day).await?;
        let opps = input.opps.remove(&kind).unwrap_or_default();
        let all_touches = input.touches.clone();
        let r = rules(&settings, from, day);
        let effects =
            tokio::task::spawn_blocking(move || removal_effects(&opps, &all_touches, kind, r))
                .await
                .map_err(|e| anyhow::anyhow!("the Markov chain failed: {e}"))?;
        let amount = match o.amount_micros {
            None => Some(0),
            Some(a) => rates.convert(a, &o.currency, &settings.currency, day),
        };
        let all = o
            .company
            .as_ref()
            .map(|c| input.touches.of(c))
            .unwrap_or_default();
        let touches = window(&all, day, settings.lookback_days);
        let at = Moment {
            converted: day,
            created,
            half_life_days: settings.half_life_days as f64,
        };
        let by_model = credits(touches, at, amount.unwrap_or(0), &effects);
        let ids: Vec<Uuid> = touches.iter().map(|t| t.campaign_id).collect();
        let names = campaigns::read::names(tx, &ids, &[], &[]).await?;
        let explained = touches
            .iter()
            .enumerate()
            .map(|(i, t)| ExplainedTouch {
                campaign_id: t.campaign_id,
                campaign_name: names.campaigns.get(&t.campaign_id).cloned(),
                day: t.day,
                impressions: t.impressions,
                clicks: t.clicks,
                credits: by_model
                    .iter()
                    .map(|(m, parts): &(Model, Vec<i64>)| (m.as_str().to_string(), parts[i]))
                    .collect(),
            })
            .collect();
        out.push(Some(Explained {
            converted: day,
            since: day - Duration::days(settings.lookback_days),
            amount_micros: amount,
            unattributed: touches.is_empty(),
            touches: explained,
        }));
    }
    let mut out = out.into_iter();
    let pipeline = out.next().flatten().ok_or_else(Problem::not_found)?;
    let revenue = out.next().flatten();
    Ok(Explain {
        id: o.id,
        name: o.name,
        stage: o.stage,
        company: o.company,
        amount_micros: o.amount_micros,
        currency: o.currency,
        report_currency: settings.currency,
        pipeline,
        revenue,
    })
}
