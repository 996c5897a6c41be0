//! Activation's view of campaigns for the campaigns API: the state in TTD,
//! or `pending` for a change TTD has not caught up with yet (an event not
//! yet consumed, a sync queued or retrying).

use std::collections::HashMap;

use campaigns::campaigns::view::ViewFuture;
use campaigns::campaigns::{Activation, ActivationView, CampaignState, CampaignStatus};
use tenancy::TenantTx;

use crate::store::{self, State};

/// Statuses in which a campaign is pushed to TTD.
pub fn syncable(status: CampaignStatus) -> bool {
    use CampaignStatus::*;
    matches!(status, Approved | Active | Paused | Archived | Completed)
}

/// Statuses that bring a campaign to TTD for the first time (archiving or
/// completing one that never reached TTD needs no sync).
pub fn first_time(status: CampaignStatus) -> bool {
    use CampaignStatus::*;
    matches!(status, Approved | Active | Paused)
}

fn shown(s: &State) -> Activation {
    Activation {
        status: s.status.clone(),
        ttd: s.ttd.clone(),
        last_error: s.last_error.clone(),
        synced_at: s.synced_at,
    }
}

/// What the API shows for a campaign in `c`'s state, given the stored state.
pub fn activation(c: &CampaignState, state: Option<&State>) -> Option<Activation> {
    match state {
        Some(s) if s.campaign_version >= c.version || !syncable(c.status) => Some(shown(s)),
        Some(s) => Some(Activation {
            status: "pending".into(),
            last_error: None,
            ..shown(s)
        }),
        None if first_time(c.status) => Some(Activation {
            status: "pending".into(),
            ttd: serde_json::json!({}),
            last_error: None,
            synced_at: None,
        }),
        None => None,
    }
}

/// The [`ActivationView`] installed on the campaigns routes.
pub struct View;

impl ActivationView for View {
    fn activations<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        campaigns: &'a [CampaignState],
    ) -> ViewFuture<'a> {
        Box::pin(async move {
            let ids: Vec<_> = campaigns.iter().map(|c| c.id).collect();
            let states: HashMap<_, _> = store::states(tx, &ids)
                .await?
                .into_iter()
                .map(|s| (s.campaign_id, s))
                .collect();
            Ok(campaigns
                .iter()
                .filter_map(|c| activation(c, states.get(&c.id)).map(|a| (c.id, a)))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campaigns::CampaignId;

    fn campaign(status: CampaignStatus, version: i64) -> CampaignState {
        CampaignState {
            id: CampaignId::new(),
            status,
            version,
            ever_approved: true,
        }
    }

    fn state(status: &str, version: i64) -> State {
        State {
            campaign_id: CampaignId::new(),
            status: status.into(),
            generation: 1,
            campaign_version: version,
            ttd: serde_json::json!({"campaign_id": "abc12"}),
            last_error: Some("slow".into()),
            synced_at: None,
        }
    }

    #[test]
    fn a_change_not_yet_followed_shows_pending() {
        let approved = campaign(CampaignStatus::Approved, 3);
        assert_eq!(activation(&approved, None).unwrap().status, "pending");
        assert_eq!(
            activation(&approved, Some(&state("synced", 3)))
                .unwrap()
                .status,
            "synced"
        );
        let behind = activation(&approved, Some(&state("synced", 2))).unwrap();
        assert_eq!(behind.status, "pending");
        assert_eq!(behind.ttd["campaign_id"], "abc12");
        // Back to approval: TTD keeps what it had.
        let pending = campaign(CampaignStatus::PendingApproval, 4);
        assert_eq!(
            activation(&pending, Some(&state("synced", 3)))
                .unwrap()
                .status,
            "synced"
        );
        assert!(activation(&campaign(CampaignStatus::Archived, 2), None).is_none());
    }
}
