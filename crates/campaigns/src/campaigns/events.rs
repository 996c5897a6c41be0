//! The domain events this capability emits, for others to consume (through
//! `tenancy::events`; never by reading these tables):
//!
//! `campaign.created`, `.updated`, `.submitted`, `.approved`, `.rejected`,
//! `.paused`, `.resumed`, `.archived`, `.resubmitted` (back to approval after
//! an ad group change), about the campaign (aggregate `campaign`), with a
//! [`CampaignChanged`] payload. Changes to a campaign's ad groups and
//! creatives reach consumers as the campaign's own events when they change
//! what it runs (a cleared campaign is resubmitted).

use serde::{Deserialize, Serialize};
use tenancy::TenantTx;

use super::CampaignStatus;
use crate::ids::CampaignId;

/// Events about campaigns start with this.
pub const CAMPAIGN_EVENTS: &str = "campaign.";

/// The payload of every `campaign.*` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CampaignChanged {
    pub status: CampaignStatus,
    #[serde(default)]
    pub previous_status: Option<CampaignStatus>,
    /// The campaign's version after the change (0 in events of versions
    /// that did not say).
    #[serde(default)]
    pub version: i64,
}

/// Emit a `campaign.*` event in the change's transaction.
pub async fn campaign(
    tx: &mut TenantTx,
    event_type: &str,
    id: CampaignId,
    previous_status: Option<CampaignStatus>,
    status: CampaignStatus,
    version: i64,
) -> Result<(), sqlx::Error> {
    let payload = CampaignChanged {
        status,
        previous_status,
        version,
    };
    tenancy::events::emit(
        tx,
        event_type,
        "campaign",
        id.0,
        serde_json::to_value(&payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
    )
    .await?;
    Ok(())
}
