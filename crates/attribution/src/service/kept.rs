//! The touches and opportunities a report reads, kept in memory: a
//! tenant's account-days of a window (a million rows take PostgreSQL about
//! two seconds to send) and its opportunities (a hundred thousand, half a
//! second) are read once and used again while the merge has not changed
//! the tenant's delivery ([`delivery::touches::version`]) nor a sync its
//! CRM ([`crm::read::version`]): one indexed read tells each.
//!
//! Each value is kept under the version of the data it was read from, the
//! least recently used dropped; a reader asks with the version the
//! database holds now, so what it gets back is never stale.

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use tenancy::{TenantId, TenantTx};

use crate::models::Touch;
pub use crate::run::Touches;

/// How many windows are kept (touches: about 25 MB per million).
const KEPT: usize = 4;

type Window = (TenantId, NaiveDate, NaiveDate);

static TOUCHES: Kept<Window, (i64, i64), Touches, KEPT> = Kept::new();
static OPPORTUNITIES: Kept<Window, crm::read::Version, Vec<crm::read::Opportunity>, KEPT> =
    Kept::new();

/// The tenant's touches in `[since, to]`.
pub async fn touches(
    tx: &mut TenantTx,
    since: NaiveDate,
    to: NaiveDate,
) -> Result<Arc<Touches>, sqlx::Error> {
    let slot = (tx.tenant(), since, to);
    let version = delivery::touches::version(tx).await?;
    if let Some(t) = TOUCHES.get(&slot, &version) {
        return Ok(t);
    }
    let rows = delivery::touches::account_days(tx, since, to).await?;
    let touches = Arc::new(Touches::new(rows.into_iter().map(|d| {
        (
            d.company,
            Touch {
                campaign_id: d.campaign_id,
                day: d.day,
                impressions: d.impressions,
                clicks: d.clicks,
            },
        )
    })));
    TOUCHES.put(slot, version, touches.clone());
    Ok(touches)
}

/// The tenant's opportunities created or closed in `[from, to]`
/// ([`crm::read::opportunities`]).
pub async fn opportunities(
    tx: &mut TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Arc<Vec<crm::read::Opportunity>>, sqlx::Error> {
    let slot = (tx.tenant(), from, to);
    let version = crm::read::version(tx).await?;
    if let Some(o) = OPPORTUNITIES.get(&slot, &version) {
        return Ok(o);
    }
    let rows = Arc::new(crm::read::opportunities(tx, from, to).await?);
    OPPORTUNITIES.put(slot, version, rows.clone());
    Ok(rows)
}

/// Up to `N` values, each by its slot (tenant and window) and the version
/// it was read under.
pub struct Kept<S, V, T, const N: usize> {
    entries: Mutex<Entries<S, V, T>>,
}

/// A clock counting uses, and the entries.
type Entries<S, V, T> = (u64, Vec<Entry<S, V, T>>);

struct Entry<S, V, T> {
    slot: S,
    version: V,
    value: Arc<T>,
    used: u64,
}

impl<S: PartialEq, V: PartialEq, T, const N: usize> Default for Kept<S, V, T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: PartialEq, V: PartialEq, T, const N: usize> Kept<S, V, T, N> {
    pub const fn new() -> Self {
        Kept {
            entries: Mutex::new((0, Vec::new())),
        }
    }

    /// The value of `slot` read under `version`, if it is kept.
    pub fn get(&self, slot: &S, version: &V) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (clock, entries) = &mut *entries;
        *clock += 1;
        let e = entries
            .iter_mut()
            .find(|e| e.slot == *slot && e.version == *version)?;
        e.used = *clock;
        Some(e.value.clone())
    }

    /// Keep `value`, read for `slot` under `version`, in place of the
    /// slot's older one (or of the least recently used when full).
    pub fn put(&self, slot: S, version: V, value: Arc<T>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (clock, entries) = &mut *entries;
        *clock += 1;
        entries.retain(|e| e.slot != slot);
        if entries.len() >= N
            && let Some(oldest) = entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
        {
            entries.swap_remove(oldest);
        }
        entries.push(Entry {
            slot,
            version,
            value,
            used: *clock,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_only_under_its_version_and_the_oldest_goes() {
        let kept: Kept<&str, u32, u32, 2> = Kept::new();
        kept.put("a", 1, Arc::new(10));
        assert_eq!(kept.get(&"a", &1).as_deref(), Some(&10));
        assert_eq!(kept.get(&"a", &2), None, "another version is not this one");
        kept.put("a", 2, Arc::new(20));
        assert_eq!(kept.get(&"a", &1), None, "a newer read replaces the slot's");
        kept.put("b", 1, Arc::new(30));
        assert_eq!(kept.get(&"a", &2).as_deref(), Some(&20));
        kept.put("c", 1, Arc::new(40));
        assert_eq!(kept.get(&"b", &1), None, "b was the least recently used");
        assert_eq!(kept.get(&"a", &2).as_deref(), Some(&20));
        assert_eq!(kept.get(&"c", &1).as_deref(), Some(&40));
    }
}
