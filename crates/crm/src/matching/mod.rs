//! Salesforce accounts matched to companies as account-list rows are
//! (`accounts::lists::matching`): by the registrable domain of `Website`,
//! else by the name's key when it names exactly one company; the match
//! report counts each outcome.

use platform::http::problem::ApiError;
use serde::Serialize;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantId, TenantTx};
use utoipa::ToSchema;

pub mod api;
pub mod store;

/// Accounts matched a transaction.
const CHUNK: i64 = 5_000;

/// Match the tenant's pending accounts: how many were matched.
pub async fn match_pending(pool: &sqlx::PgPool, tenant: TenantId) -> anyhow::Result<u64> {
    let mut after = String::new();
    let mut matched = 0u64;
    loop {
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let rows = store::pending(&mut tx, &after, CHUNK).await?;
        let Some(last) = rows.last() else {
            tx.commit().await?;
            return Ok(matched);
        };
        after = last.id.clone();
        let universe = accounts::universe::Universe::current(tx.conn()).await?;
        let outcomes: Vec<store::Matched> = rows
            .into_iter()
            .map(|r| {
                let o = accounts::lists::matching::match_row(
                    &universe,
                    &accounts::lists::parse::InputRow {
                        line: 0,
                        domain: r.website.filter(|w| !w.trim().is_empty()),
                        name: Some(r.name).filter(|n| !n.trim().is_empty()),
                        salesforce_id: Some(r.id.clone()),
                    },
                );
                store::Matched {
                    id: r.id,
                    status: o.status.as_str(),
                    matched_by: o.matched_by.map(|b| b.as_str()),
                    company: o.company,
                    candidates: o.candidates,
                    reason: o.reason,
                }
            })
            .collect();
        matched += outcomes.iter().filter(|o| o.status == "matched").count() as u64;
        store::set_matches(&mut tx, &outcomes).await?;
        tx.commit().await?;
    }
}

/// How the tenant's Salesforce accounts matched companies.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchReport {
    /// Accounts synced (deleted ones aside).
    pub accounts: i64,
    pub matched: i64,
    pub ambiguous: i64,
    pub unmatched: i64,
    /// Not matched yet (the next sync matches them).
    pub pending: i64,
    /// Matched over accounts, 0 to 1.
    pub match_rate: f64,
}

pub async fn report(tx: &mut TenantTx, by: &Principal) -> Result<MatchReport, ApiError> {
    by.require(Permission::ReportsRead)?;
    let counts = store::match_counts(tx).await?;
    let get = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let accounts: i64 = counts.iter().map(|(_, n)| n).sum();
    let matched = get("matched");
    Ok(MatchReport {
        accounts,
        matched,
        ambiguous: get("ambiguous"),
        unmatched: get("unmatched"),
        pending: get("pending"),
        match_rate: if accounts == 0 {
            0.0
        } else {
            matched as f64 / accounts as f64
        },
    })
}
