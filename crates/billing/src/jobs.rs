//! `billing.run`, recurring: every tenant's open months drafted again
//! (the current month's invoices follow delivery day by day) and the
//! months whose grace period has passed closed, oldest first, each tenant
//! in its own transaction so one tenant's failure does not hold the others.

use anyhow::Result;
use chrono::{Duration, NaiveDate, Utc};
use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tenancy::principal::{Actor, Principal};
use tenancy::roles::Role;
use tenancy::tenants::TenantStatus;
use tenancy::{TenantId, TenantTx};

use crate::config::BillingConfig;
use crate::draft;
use crate::pricing::Month;
use crate::store;

/// Draft and close every tenant's months (`billing.run`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RunBilling;

impl Job for RunBilling {
    const KIND: &'static str = "billing.run";
    type Context = BillingConfig;

    fn dedup_key(&self) -> Option<String> {
        Some("all".into())
    }

    async fn run(self, ctx: JobContext<BillingConfig>) -> Result<()> {
        let today = Utc::now().date_naive();
        let mut failed = 0;
        for t in tenancy::tenants::store::list(&ctx.pool, None).await? {
            if t.status != TenantStatus::Active {
                continue;
            }
            let grace = ctx.services.auto_close.then_some(ctx.services.grace_days);
            match run_tenant(&ctx.pool, t.id, today, grace).await {
                Ok(ran) if ran.closed.is_empty() => {}
                Ok(ran) => {
                    tracing::info!(tenant = %t.id, closed = ?ran.closed, "billing months closed")
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(tenant = %t.id, error = %e, "billing run failed for a tenant");
                }
            }
        }
        if failed > 0 {
            anyhow::bail!("billing failed for {failed} tenant(s); see the warnings above");
        }
        // What the SRE's alert watches: a day without a whole run pages.
        metrics::gauge!("p360_revenue_last_processed_timestamp_seconds")
            .set(Utc::now().timestamp() as f64);
        Ok(())
    }
}

/// What one tenant's run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Months drafted (and left open).
    pub drafted: Vec<Month>,
    /// Months closed.
    pub closed: Vec<Month>,
}

/// The system acting as finance for the job (audited as `system`).
fn system(tenant: TenantId) -> Principal {
    Principal {
        actor: Actor::System,
        person: None,
        role: Role::Finance,
        tenant: None,
        assigned: vec![tenant],
        email: None,
        meta: Default::default(),
    }
}

/// The tenant's run as of `today`: each open month from its first order's
/// through `today`'s closed when `grace_days` have passed since its last
/// day (`None`: never), drafted again otherwise.
pub async fn run_tenant(
    pool: &PgPool,
    tenant: TenantId,
    today: NaiveDate,
    grace_days: Option<u32>,
) -> Result<Ran> {
    let by = system(tenant);
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let orders = campaigns::read::billing_orders(&mut tx, today).await?;
    let mut ran = Ran::default();
    let Some(first) = orders.iter().map(|o| o.start_date).min() else {
        return Ok(ran);
    };
    let closed = store::closed_months(&mut tx).await?;
    let mut m = Month::of(first);
    while m <= Month::of(today) {
        if !closed.contains(&m.first()) {
            if grace_days.is_some_and(|g| m.last() + Duration::days(g.into()) < today) {
                draft::close(&mut tx, &by, m, today).await.map_err(api)?;
                ran.closed.push(m);
            } else {
                draft::draft(&mut tx, &by, m).await.map_err(api)?;
                ran.drafted.push(m);
            }
        }
        m = m.next();
    }
    tx.commit().await?;
    Ok(ran)
}

fn api(e: platform::http::problem::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}
