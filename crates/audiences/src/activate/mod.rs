//! Audiences on The Trade Desk. An audience reaches TTD when the campaign
//! sync pushes an approved ad group that targets it: activation asks
//! [`Segments`] (its `AudienceSegments`) for the audience's data group under
//! the ad group's TTD advertiser, and [`sync`] creates the advertiser's
//! first-party segment `p360-audience-<id>` with the CIDR blocks of the
//! members' IP ranges (never the holdout's), and the data group holding it.
//! From then on the audience follows its builds: every build queues
//! [`jobs::ActivateAudience`], which sends only the difference, and the
//! hourly [`jobs::RefreshSegments`] resends blocks before their TTL runs
//! out and catches up segments a failed sync left behind.

pub mod api;
pub mod jobs;
pub mod store;
pub mod sync;

use activation::sync::SegmentFuture;
use activation::{AudienceSegments, SyncService};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use tenancy::{TenantId, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ids::AudienceId;

/// Where an audience is on TTD: one segment per TTD advertiser whose ad
/// groups target it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SegmentView {
    /// The TTD advertiser (the data owner).
    pub ttd_advertiser_id: String,
    /// The first-party segment's name at TTD.
    pub segment: String,
    /// TTD's id of the segment, once TTD has it.
    pub first_party_data_id: Option<i64>,
    /// The audience build TTD holds (0: none yet).
    pub synced_build: i64,
    pub synced_at: Option<DateTime<Utc>>,
    /// The CIDR blocks TTD holds for the audience's members (holdout never).
    pub blocks: i64,
    /// What TTD refused at the last sync, if anything.
    pub last_error: Option<String>,
}

/// The audiences capability's side of audience targeting.
pub struct Segments;

impl AudienceSegments for Segments {
    fn data_group<'a>(
        &'a self,
        svc: &'a SyncService,
        pool: &'a PgPool,
        tenant: TenantId,
        audience: Uuid,
        advertiser: &'a str,
    ) -> SegmentFuture<'a> {
        Box::pin(async move {
            let audience = AudienceId(audience);
            // A campaign sync of an audience TTD already holds at its latest
            // build: the data group as mapped, no members read.
            let mut tx = TenantTx::begin(pool, tenant).await?;
            let group = match store::up_to_date(&mut tx, audience, advertiser).await? {
                Some(segment) => activation::store::ttd_object(&mut tx, "data_group", segment)
                    .await?
                    .map(|(id, _)| id),
                None => None,
            };
            tx.end_read();
            if let Some(group) = group {
                return Ok(group);
            }
            let (group, _) = sync::sync_segment(svc, pool, tenant, audience, advertiser).await?;
            Ok(group)
        })
    }
}
