//! Audience targeting: an ad group that targets P360 audiences targets one
//! TTD audience (`RTBAttributes.AudienceTargeting.AudienceId`) whose data
//! groups are those of the audiences it includes and excludes. Each P360
//! audience's data group (and the first-party segment of its companies' IP
//! ranges in it) is the audiences capability's to keep: it implements
//! [`AudienceSegments`], which activation calls without depending on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use campaigns::ad_groups::AudienceSet;
use sqlx::PgPool;
use tenancy::TenantId;
use uuid::Uuid;

use super::SyncService;

pub type SegmentFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>>;

/// Keeps a P360 audience's companies in TTD for one advertiser.
pub trait AudienceSegments: Send + Sync + 'static {
    /// Make TTD hold the data group of audience `audience` under the TTD
    /// advertiser `advertiser`, its segment up to date with the audience's
    /// latest build (holdout never sent); the data group's TTD id.
    fn data_group<'a>(
        &'a self,
        svc: &'a SyncService,
        pool: &'a PgPool,
        tenant: TenantId,
        audience: Uuid,
        advertiser: &'a str,
    ) -> SegmentFuture<'a>;
}

/// The audiences an ad group's stored `targeting` names.
pub(super) fn targeted(targeting: &serde_json::Value) -> AudienceSet {
    targeting
        .get("audiences")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}

/// The data group ids of `ids`, in order.
pub(super) async fn data_groups(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    ids: &[Uuid],
    advertiser: &str,
) -> anyhow::Result<Vec<String>> {
    let Some(segments) = svc.audiences.as_ref() else {
        return Err(super::Permanent(
            "an ad group targets audiences, but no audience capability is wired to activation"
                .into(),
        )
        .into());
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(
            segments
                .data_group(svc, pool, tenant, *id, advertiser)
                .await?,
        );
    }
    Ok(out)
}

/// `None`: audiences are not part of this deployment.
pub type Segments = Option<Arc<dyn AudienceSegments>>;
