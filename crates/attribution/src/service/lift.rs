//! Lift: an audience's targeted accounts against its held-out accounts
//! over a window — opportunity creation rate, pipeline per account, win
//! rate — each with its interval and p-value, or "not enough data".

use std::collections::HashMap;

use chrono::NaiveDate;
use platform::http::problem::{ApiError, Problem};
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::lift::{MeanLift, NotEnoughData, RateLift, mean_lift, rate_lift};
use crate::store;

/// A comparison, or why there is none.
#[derive(Debug, Serialize, ToSchema)]
pub struct Measure<T> {
    pub lift: Option<T>,
    pub not_enough_data: Option<String>,
}

impl<T> From<Result<T, NotEnoughData>> for Measure<T> {
    fn from(r: Result<T, NotEnoughData>) -> Self {
        match r {
            Ok(l) => Measure {
                lift: Some(l),
                not_enough_data: None,
            },
            Err(e) => Measure {
                lift: None,
                not_enough_data: Some(e.reason),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiftReport {
    pub audience_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: String,
    /// Companies the audience targets, and those it holds out.
    pub treated_accounts: u64,
    pub holdout_accounts: u64,
    /// Share of accounts with an opportunity created in the window.
    pub opportunity_rate: Measure<RateLift>,
    /// Pipeline created in the window per account (micros; zeros count).
    pub pipeline_per_account: Measure<MeanLift>,
    /// Won among opportunities closed in the window.
    pub win_rate: Measure<RateLift>,
    /// How the intervals are made.
    pub method: String,
    /// Opportunities whose currency has no rate (left out of pipeline).
    pub unconverted_opportunities: u64,
}

/// Per company: opportunities created, pipeline, closed, won.
#[derive(Default, Clone, Copy)]
struct Account {
    created: u64,
    pipeline: i64,
    closed: u64,
    won: u64,
}

pub async fn lift(
    tx: &mut TenantTx,
    by: &Principal,
    audience: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<LiftReport, ApiError> {
    by.require(Permission::ReportsRead)?;
    if audiences::read::existing(tx, &[audience]).await?.is_empty() {
        return Err(Problem::not_found().into());
    }
    let targets = audiences::read::targets(tx, &[audience]).await?;
    let settings = store::settings(tx).await?.unwrap_or_default();
    let opps = crm::read::opportunities(tx, from, to).await?;
    let rates = super::rates_of(tx, &opps, &settings.currency, to).await?;
    let mut accounts: HashMap<&str, Account> = HashMap::new();
    let mut unconverted = 0;
    for o in &opps {
        let Some(company) = o.company.as_deref() else {
            continue;
        };
        let a = accounts.entry(company).or_default();
        let created = o.created_at.date_naive();
        if created >= from && created <= to {
            a.created += 1;
            match o
                .amount_micros
                .map(|m| rates.convert(m, &o.currency, &settings.currency, created))
            {
                Some(Some(m)) => a.pipeline += m,
                Some(None) => unconverted += 1,
                None => {}
            }
        }
        if o.is_closed && o.close_date.is_some_and(|d| d >= from && d <= to) {
            a.closed += 1;
            a.won += u64::from(o.is_won);
        }
    }
    let group = |holdout: bool| -> Vec<Account> {
        targets
            .iter()
            .filter(|t| t.holdout == holdout)
            .map(|t| accounts.get(t.domain.as_str()).copied().unwrap_or_default())
            .collect()
    };
    let (treated, held) = (group(false), group(true));
    let with_opp = |g: &[Account]| g.iter().filter(|a| a.created > 0).count() as u64;
    let closed = |g: &[Account]| g.iter().map(|a| a.closed).sum::<u64>();
    let won = |g: &[Account]| g.iter().map(|a| a.won).sum::<u64>();
    let pipeline = |g: &[Account]| g.iter().map(|a| a.pipeline as f64).collect::<Vec<f64>>();
    Ok(LiftReport {
        audience_id: audience,
        from,
        to,
        currency: settings.currency,
        treated_accounts: treated.len() as u64,
        holdout_accounts: held.len() as u64,
        opportunity_rate: rate_lift(
            with_opp(&treated),
            treated.len() as u64,
            with_opp(&held),
            held.len() as u64,
        )
        .into(),
        pipeline_per_account: mean_lift(&pipeline(&treated), &pipeline(&held)).into(),
        win_rate: rate_lift(won(&treated), closed(&treated), won(&held), closed(&held)).into(),
        method:
            "rates: two-proportion z-test, 95 % Wald interval of the difference, pooled p-value, \
                 Katz log interval of the ratio; pipeline per account: difference of means with \
                 Welch's standard error, normal 95 % interval; not enough data below 30 accounts \
                 (or opportunities) or 5 events either way in a group"
                .into(),
        unconverted_opportunities: unconverted,
    })
}
