//! Duplicates left by a create applied late. TTD's creates are not
//! idempotent: when a create's answer never comes (a timeout, a 5xx after
//! sending), the sync looks for the object by its marker before creating it
//! again ([`super::push`]), but TTD may apply the first create only after
//! that look-up. Nothing the sync does at that moment can see it, so every
//! such create schedules a check: after `ttd.duplicate_check_after_ms`, and
//! five times as long after, the objects carrying the marker are listed and
//! every one but the mapped object is archived (disabled, and described as a
//! duplicate so no later look-up adopts it). TTD cannot delete objects: the
//! duplicate stays visible in TTD, archived; the operator sees a warning log
//! line `activation.duplicate_archived` and the counter
//! `p360_ttd_duplicates_archived_total`.

use std::sync::Arc;

use platform::jobs::{Job, JobContext, Permanent};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::SyncService;
use super::push::marker;
use crate::store;
use crate::ttd::model::{
    AdGroup, Advertiser, Campaign, Creative, DataGroup, TtdAudience, TtdObject,
};

/// Count the TTD objects carrying one P360 object's marker under `parent`
/// and archive all but one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckDuplicates {
    pub tenant_id: Uuid,
    /// `advertiser`, `campaign`, `creative` or `ad_group`.
    pub object: String,
    pub p360_id: Uuid,
    /// The TTD id of the parent the object is listed under.
    pub parent: String,
    /// Checks still to run after this one.
    pub checks_left: u32,
}

impl CheckDuplicates {
    /// The checks for a create of (`object`, `p360_id`) under `parent` whose
    /// outcome is unknown.
    pub fn new(tenant: TenantId, object: &str, p360_id: Uuid, parent: &str) -> Self {
        CheckDuplicates {
            tenant_id: tenant.0,
            object: object.to_owned(),
            p360_id,
            parent: parent.to_owned(),
            checks_left: 1,
        }
    }

    /// Queue this check to run `svc.duplicate_check_after` from now (the
    /// last one four times as long after the first).
    pub(super) async fn schedule(
        &self,
        conn: &mut PgConnection,
        svc: &SyncService,
    ) -> Result<(), sqlx::Error> {
        let wait = if self.checks_left > 0 {
            svc.duplicate_check_after
        } else {
            svc.duplicate_check_after * 4
        };
        platform::jobs::enqueue(conn, self, Some(chrono::Utc::now() + wait)).await?;
        Ok(())
    }
}

impl Job for CheckDuplicates {
    const KIND: &'static str = "ttd.check_duplicates";
    const QUEUE: &'static str = "activation";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = Arc<SyncService>;

    /// Several unknown creates of one object while a check waits need one check.
    fn dedup_key(&self) -> Option<String> {
        Some(format!(
            "{}:{}:{}",
            self.object, self.p360_id, self.checks_left
        ))
    }

    async fn run(self, ctx: JobContext<Arc<SyncService>>) -> anyhow::Result<()> {
        let svc = &ctx.services;
        let tenant = TenantId(self.tenant_id);
        let (object, id, parent) = (self.object.as_str(), self.p360_id, &self.parent);
        let archived = match object {
            "advertiser" => {
                check::<Advertiser>(svc, &ctx.pool, tenant, "advertiser", id, parent).await?
            }
            "campaign" => check::<Campaign>(svc, &ctx.pool, tenant, "campaign", id, parent).await?,
            "creative" => check::<Creative>(svc, &ctx.pool, tenant, "creative", id, parent).await?,
            "ad_group" => check::<AdGroup>(svc, &ctx.pool, tenant, "ad_group", id, parent).await?,
            "data_group" => {
                check::<DataGroup>(svc, &ctx.pool, tenant, "data_group", id, parent).await?
            }
            "audience" => {
                check::<TtdAudience>(svc, &ctx.pool, tenant, "audience", id, parent).await?
            }
            other => return Err(Permanent(format!("no TTD object type {other:?}")).into()),
        };
        tracing::info!(object, p360_id = %id, archived, checks_left = self.checks_left, "checked TTD for duplicates");
        if self.checks_left > 0 {
            let later = CheckDuplicates {
                checks_left: self.checks_left - 1,
                ..self
            };
            let mut conn = ctx.pool.acquire().await?;
            later.schedule(&mut conn, svc).await?;
        }
        Ok(())
    }
}

/// Archive every object marked as (`object`, `id`) under `parent` except
/// the one P360 maps it to (or, before any mapping, the oldest, which the
/// sync's look-up adopts). Returns how many were archived.
async fn check<T: TtdObject>(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    object: &'static str,
    id: Uuid,
    parent: &str,
) -> anyhow::Result<usize> {
    let marker = marker(object, id);
    let marked = |all: Vec<T>| -> Vec<T> {
        all.into_iter()
            .filter(|o| o.description() == Some(marker.as_str()))
            .collect()
    };
    if marked(svc.client.query_all::<T>(parent).await?).len() < 2 {
        return Ok(0);
    }
    // Under the object's lock: a sync of it neither adopts nor maps meanwhile.
    let mut tx = TenantTx::begin(pool, tenant).await?;
    store::lock_object(&mut tx, object, id).await?;
    let found = marked(svc.client.query_all::<T>(parent).await?);
    let mapped = store::ttd_object(&mut tx, object, id)
        .await?
        .map(|(ttd_id, _)| ttd_id);
    let keep = mapped.or_else(|| found.first().and_then(|o| o.id()).map(str::to_owned));
    let mut archived = 0;
    for mut duplicate in found {
        let Some(ttd_id) = duplicate.id().map(str::to_owned) else {
            continue;
        };
        if Some(&ttd_id) == keep.as_ref() {
            continue;
        }
        duplicate.retire(format!("{marker}:duplicate"));
        svc.client.update(&ttd_id, &duplicate).await?;
        archived += 1;
        metrics::counter!("p360_ttd_duplicates_archived_total", "object" => object).increment(1);
        tracing::warn!(
            event = "activation.duplicate_archived",
            tenant = %tenant,
            object,
            p360_id = %id,
            ttd_id = %ttd_id,
            kept = keep.as_deref().unwrap_or(""),
            "archived a duplicate TTD object left by a create TTD applied after its answer was lost"
        );
    }
    tx.commit().await?;
    Ok(archived)
}
