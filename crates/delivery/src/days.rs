//! A campaign's days per company in memory: what the account view and a
//! campaign's report by company sum over any window, without reading tens
//! of thousands of rows per request. Each instance keeps the campaigns it
//! was asked about (the least recently used go beyond [`CAPACITY`]), each
//! under the version the merge bumps whenever it adds or takes back a file
//! holding the campaign (`delivery_campaign_versions`, read on every
//! request: one indexed row per campaign): a newer version reloads it.
//! The version is read before the rows, so what is kept is never older
//! than the version it is kept under.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// Sums over a group of cells.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sums {
    pub impressions: i64,
    pub clicks: i64,
    /// TTD's advertiser cost, micro-dollars.
    pub spend: i64,
    /// TTD's media cost, micro-dollars.
    pub media_cost: i64,
}

/// Campaigns kept per instance.
pub const CAPACITY: usize = 256;

/// A campaign's days: per company (sorted; `""` the unresolved
/// impressions), its days' sums.
#[derive(Debug, Default)]
struct Days {
    version: i64,
    companies: Vec<String>,
    /// (company index, day, sums), by company then day.
    rows: Vec<(u32, NaiveDate, Sums)>,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Uuid, (Arc<Days>, u64)>,
    clock: u64,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// A gate per campaign being loaded.
static LOADING: LazyLock<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

fn cached(campaign: Uuid, version: i64) -> Option<Arc<Days>> {
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    c.clock += 1;
    let now = c.clock;
    let (days, used) = c.entries.get_mut(&campaign)?;
    if days.version != version {
        return None;
    }
    *used = now;
    Some(days.clone())
}

fn keep(campaign: Uuid, days: Arc<Days>) {
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    c.clock += 1;
    let now = c.clock;
    if c.entries.len() >= CAPACITY
        && !c.entries.contains_key(&campaign)
        && let Some(oldest) = c
            .entries
            .iter()
            .min_by_key(|(_, (_, u))| *u)
            .map(|(k, _)| *k)
    {
        c.entries.remove(&oldest);
    }
    c.entries.insert(campaign, (days, now));
}

/// The days of `campaigns` (the transaction's tenant's), from memory where
/// current.
async fn load(tx: &mut TenantTx, campaigns: &[Uuid]) -> Result<Vec<Arc<Days>>, sqlx::Error> {
    let tenant = tx.tenant();
    let versions: HashMap<Uuid, i64> = sqlx::query!(
        "SELECT campaign_id, version FROM delivery_campaign_versions
         WHERE tenant_id = $1 AND campaign_id = ANY($2)",
        tenant as TenantId,
        campaigns
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.campaign_id, r.version))
    .collect();
    let mut out = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        let version = versions.get(c).copied().unwrap_or(0);
        if let Some(days) = cached(*c, version) {
            out.push(days);
            continue;
        }
        // One load per campaign at a time: requests arriving meanwhile wait
        // for it instead of reading the same rows again.
        let gate = {
            let mut g = LOADING.lock().unwrap_or_else(|e| e.into_inner());
            g.entry(*c).or_default().clone()
        };
        let _loading = gate.lock().await;
        if let Some(days) = cached(*c, version) {
            out.push(days);
            continue;
        }
        let rows = sqlx::query!(
            r#"SELECT coalesce(company, '') AS "company!", day, impressions, clicks,
                      advertiser_cost_micros, media_cost_micros
               FROM delivery_accounts WHERE tenant_id = $1 AND campaign_id = $2
               ORDER BY company NULLS FIRST, day"#,
            tenant as TenantId,
            c
        )
        .fetch_all(tx.conn())
        .await?;
        let mut days = Days {
            version,
            ..Days::default()
        };
        for r in rows {
            if days.companies.last() != Some(&r.company) {
                days.companies.push(r.company);
            }
            days.rows.push((
                (days.companies.len() - 1) as u32,
                r.day,
                Sums {
                    impressions: r.impressions,
                    clicks: r.clicks,
                    spend: r.advertiser_cost_micros,
                    media_cost: r.media_cost_micros,
                },
            ));
        }
        let days = Arc::new(days);
        keep(*c, days.clone());
        out.push(days);
        // The gate goes unless someone waits on it.
        let mut g = LOADING.lock().unwrap_or_else(|e| e.into_inner());
        if g.get(c).is_some_and(|gate| Arc::strong_count(gate) <= 2) {
            g.remove(c);
        }
    }
    Ok(out)
}

/// What each company received from `campaigns` between `from` and `to`
/// (inclusive), by company (`""`: the unresolved impressions), sorted.
pub async fn by_company(
    tx: &mut TenantTx,
    campaigns: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, Sums)>, sqlx::Error> {
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    let all = load(tx, campaigns).await?;
    for days in &all {
        for (company, day, s) in &days.rows {
            if *day < from || *day > to {
                continue;
            }
            let t = sums
                .entry(days.companies[*company as usize].as_str())
                .or_default();
            t.impressions += s.impressions;
            t.clicks += s.clicks;
            t.spend += s.spend;
            t.media_cost += s.media_cost;
        }
    }
    let mut out: Vec<(String, Sums)> = sums.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
