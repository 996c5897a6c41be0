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

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use view::{Activation, ActivationView, CampaignState, NoActivation};
pub use workflow::{Action, CampaignStatus, Flight, Objective, Pacing};

use crate::ids::{AdGroupId, AdvertiserId, CampaignId, CreativeId, InsertionOrderId};
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
    /// A change to the live (cleared to spend) version, waiting for approval.
    pub pending: Option<sqlx::types::Json<Pending>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to what a live campaign spends by, waiting for a second person:
/// the values it proposes (only those that differ from the live ones), its
/// maker and when it was submitted. The live values keep running meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_micros: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap_micros: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flight: Option<Flight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<Pacing>,
    /// Its ad groups' changes (`create`, `update`, `archive`), each waiting
    /// in its ad group's row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ad_groups: BTreeMap<AdGroupId, String>,
    /// Changes made elsewhere that need sign-off (e.g. its insertion order's
    /// pricing), with nothing to apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// New click URLs of creatives it runs, by creative (each also waiting
    /// in its creative's row, and in every live campaign running it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub creatives: BTreeMap<CreativeId, String>,
    /// Its last maker, and when they changed it.
    pub by: String,
    pub at: DateTime<Utc>,
    /// Everyone who changed it; none of them may approve it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub makers: Vec<String>,
}

impl Pending {
    /// A change made by `by` now, with nothing in it yet.
    pub fn new(by: &str) -> Pending {
        Pending {
            budget_micros: None,
            daily_cap_micros: None,
            flight: None,
            pacing: None,
            ad_groups: BTreeMap::new(),
            reasons: Vec::new(),
            creatives: BTreeMap::new(),
            by: by.to_string(),
            at: Utc::now(),
            makers: vec![by.to_string()],
        }
    }

    /// `by` changed it now: its last maker, and one of its makers.
    pub fn changed_by(&mut self, by: &str) {
        self.by = by.to_string();
        self.at = Utc::now();
        if !self.makers.iter().any(|m| m == by) {
            self.makers.push(by.to_string());
        }
    }

    /// Everyone who made it (a change recorded before `makers` existed
    /// names its last maker only).
    pub fn all_makers(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.makers.iter().map(String::as_str).collect();
        if !all.contains(&self.by.as_str()) {
            all.push(&self.by);
        }
        all
    }

    pub fn is_empty(&self) -> bool {
        self.budget_micros.is_none()
            && self.daily_cap_micros.is_none()
            && self.flight.is_none()
            && self.pacing.is_none()
            && self.ad_groups.is_empty()
            && self.reasons.is_empty()
            && self.creatives.is_empty()
    }
}

/// A field of a pending change: the live value and the proposed one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChange {
    #[schema(value_type = Object)]
    pub before: serde_json::Value,
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
}

/// A change to a live campaign waiting for approval: approving it makes it
/// the live version (and pushes it to TTD), rejecting it drops it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingChange {
    /// By field (`budget`, `daily_cap`, `flight`, `pacing`).
    pub changes: BTreeMap<String, FieldChange>,
    /// Its ad groups' changes by id: `create`, `update` or `archive` (each
    /// ad group shows its own `pending_change`).
    pub ad_groups: BTreeMap<AdGroupId, String>,
    /// Changes made elsewhere that need sign-off, e.g. `insertion order
    /// pricing changed`.
    pub reasons: Vec<String>,
    /// New click URLs of creatives it runs, by creative: approving any
    /// campaign that carries one makes it live for all (TTD has one creative).
    pub creatives: BTreeMap<CreativeId, String>,
    /// Its last maker (`user:<id>`), and when they changed it.
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// Everyone who changed it: none of them may approve it.
    pub makers: Vec<String>,
}

impl PendingChange {
    fn new(r: &Row, p: &Pending) -> PendingChange {
        let money =
            |m: Option<i64>| serde_json::json!(m.map(|m| MoneyWire::from_micros(m, &r.currency)));
        let mut changes = BTreeMap::new();
        let mut put = |field: &str, before: serde_json::Value, after: serde_json::Value| {
            changes.insert(field.to_string(), FieldChange { before, after });
        };
        if let Some(b) = p.budget_micros {
            put("budget", money(Some(r.budget_micros)), money(Some(b)));
        }
        if let Some(c) = p.daily_cap_micros {
            put("daily_cap", money(r.daily_cap_micros), money(Some(c)));
        }
        if let Some(f) = p.flight {
            put(
                "flight",
                serde_json::json!(r.flight()),
                serde_json::json!(f),
            );
        }
        if let Some(pacing) = p.pacing {
            put(
                "pacing",
                serde_json::json!(r.pacing),
                serde_json::json!(pacing),
            );
        }
        PendingChange {
            changes,
            ad_groups: p.ad_groups.clone(),
            reasons: p.reasons.clone(),
            creatives: p.creatives.clone(),
            submitted_by: p.by.clone(),
            submitted_at: p.at,
            makers: p.all_makers().into_iter().map(str::to_owned).collect(),
        }
    }
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
    /// Why the last submission or pending change was rejected.
    pub rejection_reason: Option<String>,
    /// A change to this live campaign waiting for approval; `status` and the
    /// fields above are the live version's, which keeps running meanwhile.
    pub pending_change: Option<PendingChange>,
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
            pending_change: r.pending.as_ref().map(|p| PendingChange::new(r, p)),
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
