//! Campaigns and their maker-checker approval workflow (see [`workflow`]).
//!
//! The sum of an insertion order's campaign budgets never exceeds its budget:
//! every change to a campaign budget locks the IO row first, so concurrent
//! requests are serialised per IO. Every change is audited and announced as
//! a `campaign.*` domain event in its transaction; other capabilities (the
//! TTD sync) act on those events, never on this module's tables.

pub mod api;
pub mod events;
pub mod service;
pub mod store;
pub mod view;
pub mod workflow;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use view::{Activation, ActivationView, CampaignState, NoActivation};
pub use workflow::{Action, CampaignStatus, Flight, Objective, Pacing};

use crate::ids::{AdvertiserId, CampaignId, InsertionOrderId};
use crate::money::MoneyWire;

/// A campaign as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: CampaignId,
    pub insertion_order_id: InsertionOrderId,
    pub advertiser_id: AdvertiserId,
    pub currency: String,
    pub name: String,
    pub objective: Objective,
    pub budget_micros: i64,
    pub daily_cap_micros: Option<i64>,
    pub flight_start: NaiveDate,
    pub flight_end: NaiveDate,
    pub pacing: Pacing,
    pub kpi_goal: Option<serde_json::Value>,
    pub status: CampaignStatus,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub first_approved_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Row {
    pub fn flight(&self) -> Flight {
        Flight {
            start: self.flight_start,
            end: self.flight_end,
        }
    }

    pub fn state(&self) -> CampaignState {
        CampaignState {
            id: self.id,
            status: self.status,
            version: self.version,
            ever_approved: self.first_approved_at.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: CampaignId,
    pub insertion_order_id: InsertionOrderId,
    pub advertiser_id: AdvertiserId,
    pub name: String,
    pub objective: Objective,
    pub budget: MoneyWire,
    pub daily_cap: Option<MoneyWire>,
    pub flight: Flight,
    pub pacing: Pacing,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
    pub status: CampaignStatus,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// State of the campaign in The Trade Desk; null until first approved.
    pub activation: Option<Activation>,
}

impl Campaign {
    /// The campaign with `activation` as another capability reports it.
    pub fn new(r: &Row, activation: Option<Activation>) -> Campaign {
        Campaign {
            id: r.id,
            insertion_order_id: r.insertion_order_id,
            advertiser_id: r.advertiser_id,
            name: r.name.clone(),
            objective: r.objective,
            budget: MoneyWire::from_micros(r.budget_micros, &r.currency),
            daily_cap: r
                .daily_cap_micros
                .map(|m| MoneyWire::from_micros(m, &r.currency)),
            flight: r.flight(),
            pacing: r.pacing,
            kpi_goal: r.kpi_goal.clone(),
            status: r.status,
            submitted_by: r.submitted_by.clone(),
            submitted_at: r.submitted_at,
            approved_by: r.approved_by.clone(),
            approved_at: r.approved_at,
            rejection_reason: r.rejection_reason.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            activation,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub insertion_order_id: InsertionOrderId,
    pub name: String,
    /// `awareness`, `engagement` or `pipeline`.
    pub objective: String,
    pub budget: MoneyWire,
    pub flight: Flight,
    /// `even`, `ahead` or `asap`.
    pub pacing: String,
    pub daily_cap: Option<MoneyWire>,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub objective: Option<String>,
    pub budget: Option<MoneyWire>,
    pub flight: Option<Flight>,
    pub pacing: Option<String>,
    pub daily_cap: Option<MoneyWire>,
    #[schema(value_type = Option<Object>)]
    pub kpi_goal: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// Required to reject: why the campaign goes back to draft.
    pub reason: Option<String>,
}
