//! Showing a campaign with what other capabilities know of it, without
//! depending on them: the activation capability implements
//! [`ActivationView`] and the binary installs it on the routes.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::TenantTx;
use utoipa::ToSchema;

use super::{Campaign, CampaignStatus, Row};
use crate::ids::CampaignId;

/// Where the campaign stands in The Trade Desk.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Activation {
    /// `pending` (a sync is queued or retrying), `synced` or `failed` (after every retry).
    pub status: String,
    /// TTD ids: `advertiser_id`, `campaign_id`, and `ad_group_ids` /
    /// `creative_ids` keyed by the P360 id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub ttd: serde_json::Value,
    /// Why the last attempt failed, while pending or failed.
    pub last_error: Option<String>,
    /// When TTD last confirmed the whole campaign.
    pub synced_at: Option<DateTime<Utc>>,
}

/// What a viewer needs to know of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignState {
    pub id: CampaignId,
    pub status: CampaignStatus,
    pub version: i64,
    /// Approved at least once (only such campaigns can be in TTD).
    pub ever_approved: bool,
}

pub type ViewFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HashMap<CampaignId, Activation>, sqlx::Error>> + Send + 'a>>;

/// The activation state of campaigns, read in the caller's transaction.
pub trait ActivationView: Send + Sync + 'static {
    fn activations<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        campaigns: &'a [CampaignState],
    ) -> ViewFuture<'a>;
}

/// No activation known (a deployment without the TTD capability, tests).
pub struct NoActivation;

impl ActivationView for NoActivation {
    fn activations<'a>(&'a self, _: &'a mut TenantTx, _: &'a [CampaignState]) -> ViewFuture<'a> {
        Box::pin(async { Ok(HashMap::new()) })
    }
}

/// `rows` as the API shows them, with their activation (asked only for
/// campaigns ever approved: the others cannot have one).
pub async fn campaigns(
    tx: &mut TenantTx,
    view: &dyn ActivationView,
    rows: &[Row],
) -> Result<Vec<Campaign>, sqlx::Error> {
    let states: Vec<CampaignState> = rows
        .iter()
        .map(Row::state)
        .filter(|s| s.ever_approved)
        .collect();
    let mut found = if states.is_empty() {
        HashMap::new()
    } else {
        view.activations(tx, &states).await?
    };
    Ok(rows
        .iter()
        .map(|r| Campaign::new(r, found.remove(&r.id)))
        .collect())
}

/// One campaign as the API shows it.
pub async fn campaign(
    tx: &mut TenantTx,
    view: &dyn ActivationView,
    row: &Row,
) -> Result<Campaign, sqlx::Error> {
    let mut all = campaigns(tx, view, std::slice::from_ref(row)).await?;
    Ok(all.pop().expect("one row, one campaign"))
}
