//! The touches a report reads, kept in memory: a tenant's account-days of
//! a window (a million rows take PostgreSQL about two seconds to send) are
//! read once and used again while the merge has not changed the tenant's
//! delivery ([`delivery::touches::version`]: one indexed read tells). The
//! last few windows are kept, the least recently used dropped.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};

use crate::models::Touch;

/// A company's touches in time order (day, then campaign).
pub type Touches = HashMap<String, Vec<Touch>>;

/// How many windows are kept (each about 50 MB per million touches).
const KEPT: usize = 4;

struct Entry {
    tenant: TenantId,
    since: NaiveDate,
    to: NaiveDate,
    version: (i64, i64),
    touches: Arc<Touches>,
    used: u64,
}

static CACHE: LazyLock<Mutex<(u64, Vec<Entry>)>> = LazyLock::new(|| Mutex::new((0, Vec::new())));

/// The tenant's touches in `[since, to]`.
pub async fn touches(
    tx: &mut TenantTx,
    since: NaiveDate,
    to: NaiveDate,
) -> Result<Arc<Touches>, sqlx::Error> {
    let tenant = tx.tenant();
    let version = delivery::touches::version(tx).await?;
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let (clock, entries) = &mut *cache;
        *clock += 1;
        if let Some(e) = entries
            .iter_mut()
            .find(|e| e.tenant == tenant && e.since == since && e.to == to && e.version == version)
        {
            e.used = *clock;
            return Ok(e.touches.clone());
        }
    }
    let mut touches: Touches = HashMap::new();
    for d in delivery::touches::account_days(tx, since, to).await? {
        touches.entry(d.company).or_default().push(Touch {
            campaign_id: d.campaign_id,
            day: d.day,
            impressions: d.impressions,
            clicks: d.clicks,
        });
    }
    for t in touches.values_mut() {
        t.sort_unstable_by_key(|x| (x.day, x.campaign_id));
    }
    let touches = Arc::new(touches);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let (clock, entries) = &mut *cache;
    entries.retain(|e| !(e.tenant == tenant && e.since == since && e.to == to));
    if entries.len() >= KEPT
        && let Some(oldest) = entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.used)
            .map(|(i, _)| i)
    {
        entries.swap_remove(oldest);
    }
    entries.push(Entry {
        tenant,
        since,
        to,
        version,
        touches: touches.clone(),
        used: *clock,
    });
    Ok(touches)
}
