//! The incremental sync of a tenant's org: for each object (accounts, then
//! opportunities, then their stage history where the org has it), a SOQL
//! `queryAll` — deleted records included, so deletions arrive as records
//! with `IsDeleted` — of what changed since the object's watermark less
//! the overlap window, ordered by `SystemModstamp`, read page by page; each
//! page is upserted and the watermark moved to its last stamp in one
//! transaction, so a sync that stops (a crash, the API limit) resumes from
//! the last page it committed. Then the accounts whose name or website
//! changed are matched to companies ([`crate::matching`]).
//!
//! The job `crm.sync_salesforce` syncs one tenant; the recurring
//! `crm.sync_all` (every `salesforce.sync_every_secs`) queues it for every
//! connected tenant; `POST /v1/integrations/salesforce/sync` queues it now.

pub mod api;
pub mod records;
pub mod store;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use platform::http::problem::{ApiError, Problem};
use platform::jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};
use tenancy::roles::Permission;
use tenancy::scope::{AllTenants, ScopedTx};
use tenancy::{Principal, TenantId, TenantTx};

use crate::Salesforce;
use crate::connection;
use crate::salesforce::SalesforceClient;
use records::{Account, History, OBJECTS, Opportunity};

/// What one sync did: records upserted per object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Synced {
    pub records: BTreeMap<String, u64>,
    pub pages: u64,
    pub matched: u64,
}

/// Sync `tenant`'s org. `Ok(None)` when the tenant has no connection.
pub async fn run(pool: &sqlx::PgPool, sf: &Salesforce, tenant: TenantId) -> Result<Option<Synced>> {
    let client = {
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let c = connection::service::client_of(&mut tx, sf).await?;
        tx.commit().await?;
        c
    };
    let Some((client, currency)) = client else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let result = async {
        let mut synced = objects(pool, sf, tenant, &client, &currency).await?;
        synced.matched = crate::matching::match_pending(pool, tenant).await?;
        anyhow::Ok(synced)
    }
    .await;
    // The connection says how the sync ended (its end is the end of the
    // matching too).
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let error = result.as_ref().err().map(|e| format!("{e:#}"));
    connection::store::sync_ended(&mut tx, None, error.as_deref()).await?;
    tx.commit().await?;
    // Tenants are not a label (there may be thousands): the failing ones
    // are on their connections' status.
    let outcome = if result.is_ok() { "synced" } else { "failed" };
    metrics::counter!("p360_salesforce_syncs_total", "outcome" => outcome).increment(1);
    metrics::histogram!("p360_salesforce_sync_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    if let Ok(s) = &result {
        for (object, n) in &s.records {
            metrics::counter!("p360_salesforce_sync_records_total", "object" => object.clone())
                .increment(*n);
        }
    }
    result.map(Some)
}

async fn objects(
    pool: &sqlx::PgPool,
    sf: &Salesforce,
    tenant: TenantId,
    client: &SalesforceClient,
    currency: &str,
) -> Result<Synced> {
    let mut synced = Synced::default();
    let opportunity_fields = client.fields("Opportunity").await?;
    let multi_currency = opportunity_fields.iter().any(|f| f == "CurrencyIsoCode");
    for object in OBJECTS {
        if object == "OpportunityHistory" && client.fields(object).await.is_err() {
            // Not every org (or integration user) can read stage history.
            continue;
        }
        let since = {
            let mut tx = TenantTx::begin(pool, tenant).await?;
            let w = store::watermark(&mut tx, object).await?;
            tx.commit().await?;
            w.map(|w| w - sf.overlap)
        };
        let soql = format!(
            "SELECT {} FROM {object}{} ORDER BY SystemModstamp ASC, Id ASC",
            records::fields(object, multi_currency),
            since
                .map(|t| format!(
                    " WHERE SystemModstamp >= {}",
                    t.format("%Y-%m-%dT%H:%M:%SZ")
                ))
                .unwrap_or_default()
        );
        let mut page = client.query(&soql, true).await?;
        loop {
            synced.pages += 1;
            let n = apply(pool, tenant, object, &page.records, currency).await?;
            *synced.records.entry(object.to_string()).or_default() += n;
            match page.next_records_url.as_deref() {
                Some(next) if !page.done => page = client.next(next).await?,
                _ => break,
            }
        }
    }
    Ok(synced)
}

/// Upsert one page and move the watermark to its last stamp, together.
async fn apply(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    object: &str,
    raw: &[Box<serde_json::value::RawValue>],
    currency: &str,
) -> Result<u64> {
    fn parse<T: for<'de> Deserialize<'de>>(
        object: &str,
        raw: &[Box<serde_json::value::RawValue>],
    ) -> Result<Vec<T>> {
        raw.iter()
            .map(|r| {
                serde_json::from_str(r.get()).with_context(|| {
                    format!(
                        "a {object} record Salesforce sent does not read: {}",
                        r.get().chars().take(200).collect::<String>()
                    )
                })
            })
            .collect()
    }
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (n, last): (u64, Option<DateTime<Utc>>) = match object {
        "Account" => {
            let rows: Vec<Account> = parse(object, raw)?;
            (
                store::accounts(&mut tx, &rows).await?,
                rows.iter().map(|r| r.system_modstamp).max(),
            )
        }
        "Opportunity" => {
            let rows: Vec<Opportunity> = parse(object, raw)?;
            (
                store::opportunities(&mut tx, &rows, currency).await?,
                rows.iter().map(|r| r.system_modstamp).max(),
            )
        }
        _ => {
            let rows: Vec<History> = parse(object, raw)?;
            (
                store::history(&mut tx, &rows).await?,
                rows.iter().map(|r| r.system_modstamp).max(),
            )
        }
    };
    if let Some(last) = last {
        store::advance(&mut tx, object, last, n as i64).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Queue a sync of the caller's tenant now.
pub async fn queue(tx: &mut TenantTx, by: &Principal) -> Result<Option<uuid::Uuid>, ApiError> {
    by.require(Permission::IntegrationsManage)?;
    if connection::store::get(tx).await?.is_none() {
        return Err(Problem::not_found()
            .with_detail("connect Salesforce first (POST /v1/integrations/salesforce)")
            .into());
    }
    let job = SyncSalesforce {
        tenant: tx.tenant(),
    };
    Ok(platform::jobs::enqueue(tx.conn(), &job, None).await?)
}

/// Sync one tenant's org (`crm.sync_salesforce`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncSalesforce {
    pub tenant: TenantId,
}

impl Job for SyncSalesforce {
    const KIND: &'static str = "crm.sync_salesforce";
    const MAX_ATTEMPTS: i64 = 6;
    type Context = Salesforce;

    fn dedup_key(&self) -> Option<String> {
        Some(self.tenant.to_string())
    }

    async fn run(self, ctx: JobContext<Salesforce>) -> Result<()> {
        match run(&ctx.pool, &ctx.services, self.tenant).await? {
            Some(done) => tracing::info!(
                tenant = %self.tenant,
                records = ?done.records,
                pages = done.pages,
                matched = done.matched,
                "Salesforce synced"
            ),
            None => {
                tracing::info!(tenant = %self.tenant, "Salesforce not connected; nothing synced")
            }
        }
        Ok(())
    }
}

/// Queue the sync of every connected tenant (`crm.sync_all`, recurring).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncAll;

impl Job for SyncAll {
    const KIND: &'static str = "crm.sync_all";
    type Context = ();

    fn dedup_key(&self) -> Option<String> {
        Some("all".into())
    }

    async fn run(self, ctx: JobContext<()>) -> Result<()> {
        let mut all = ScopedTx::all(&ctx.pool, AllTenants::system()).await?;
        // The tenants whose last sync failed (each connection says why):
        // what the SRE's alert watches, refreshed every round.
        let failing = connection::store::failing(all.conn()).await?;
        metrics::gauge!("p360_salesforce_connections_failing").set(failing as f64);
        for tenant in connection::store::connected_tenants(all.conn()).await? {
            platform::jobs::enqueue(all.conn(), &SyncSalesforce { tenant }, None).await?;
        }
        all.commit().await?;
        Ok(())
    }
}
