//! What activation does with other capabilities' events: a campaign change
//! TTD must follow marks the campaign's activation `pending` and queues its
//! sync, in the relay's transaction (so a consumed event always has its job).

use std::sync::Arc;

use campaigns::CampaignId;
use campaigns::events::{CAMPAIGN_EVENTS, CampaignChanged};
use tenancy::TenantTx;
use tenancy::events::{Consumer, StoredEvent};

use crate::store;
use crate::sync::SyncCampaign;
use crate::view::{first_time, syncable};

/// The consumer of `campaign.*` events.
pub fn consumer() -> Consumer {
    Consumer {
        name: "activation",
        types: &[CAMPAIGN_EVENTS],
        handler: Arc::new(|tx, event| Box::pin(on_campaign(tx, event))),
    }
}

async fn on_campaign(tx: &mut TenantTx, event: &StoredEvent) -> anyhow::Result<()> {
    let change: CampaignChanged = serde_json::from_value(event.payload.clone())?;
    let id = CampaignId(event.aggregate_id);
    if !syncable(change.status) {
        store::seen(tx, id, change.version).await?;
        return Ok(());
    }
    if store::request_sync(tx, id, change.version, first_time(change.status)).await? {
        let job = SyncCampaign {
            tenant_id: tx.tenant().0,
            campaign_id: id.0,
            event_id: Some(event.id),
        };
        platform::jobs::enqueue(tx.conn(), &job, None).await?;
    }
    Ok(())
}
