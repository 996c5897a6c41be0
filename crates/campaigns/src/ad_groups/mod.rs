//! Ad groups: a campaign's budget split, bids, frequency cap, targeting and
//! the creatives they run. The ad groups' budgets never exceed their
//! campaign's (the campaign row is locked while they change). A change to
//! the ad groups of a live (approved, active or paused) campaign is a change
//! to what spends money: it waits as the ad group's `pending` change, part of
//! the campaign's change, while TTD runs the approved values (renames apply
//! at once: TTD shows them to no one). An ad group proposed for a live
//! campaign is stored archived until the change is approved.

pub mod api;
pub mod audiences;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use platform::http::problem::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ids::{AdGroupId, CampaignId, CreativeId};
use crate::money::MoneyWire;
use crate::validate::{check_money, check_rate, format};

platform::text_enum! {
    /// Whether an ad group runs. `proposed` is shown, never stored: an ad
    /// group proposed for a live campaign, waiting for the campaign's
    /// change to be approved.
    pub enum AdGroupStatus { Active = "active", Archived = "archived", Proposed = "proposed" }
}

/// The values of an ad group a change proposes (all but its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedValues {
    pub budget_micros: i64,
    pub base_bid_cpm_micros: i64,
    pub max_bid_cpm_micros: i64,
    pub frequency_impressions: Option<i64>,
    pub frequency_period_hours: Option<i64>,
    pub targeting: serde_json::Value,
    pub creative_ids: Vec<CreativeId>,
}

/// A change to an ad group of a live campaign, waiting with the campaign's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PendingOp {
    /// A new ad group (its row holds the values; it is stored archived).
    Create,
    Update {
        values: ProposedValues,
    },
    Archive,
}

impl PendingOp {
    pub fn name(&self) -> &'static str {
        match self {
            PendingOp::Create => "create",
            PendingOp::Update { .. } => "update",
            PendingOp::Archive => "archive",
        }
    }
}

/// An ad group as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: AdGroupId,
    pub campaign_id: CampaignId,
    pub name: String,
    pub budget_micros: i64,
    pub base_bid_cpm_micros: i64,
    pub max_bid_cpm_micros: i64,
    pub frequency_impressions: Option<i64>,
    pub frequency_period_hours: Option<i64>,
    pub targeting: serde_json::Value,
    pub creative_ids: Vec<CreativeId>,
    pub status: AdGroupStatus,
    pub pending: Option<sqlx::types::Json<PendingOp>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Row {
    /// The values a change would leave it with (its own when none waits).
    pub fn proposed(&self) -> ProposedValues {
        match self.pending.as_deref() {
            Some(PendingOp::Update { values }) => values.clone(),
            _ => self.live_values(),
        }
    }

    /// The values in its row: what TTD runs (or, proposed, would run).
    pub fn live_values(&self) -> ProposedValues {
        ProposedValues {
            budget_micros: self.budget_micros,
            base_bid_cpm_micros: self.base_bid_cpm_micros,
            max_bid_cpm_micros: self.max_bid_cpm_micros,
            frequency_impressions: self.frequency_impressions,
            frequency_period_hours: self.frequency_period_hours,
            targeting: self.targeting.clone(),
            creative_ids: self.creative_ids.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// Impressions per user...
    pub impressions: i64,
    /// ...per this many hours (1 to 720).
    pub period_hours: i64,
}

/// Audiences to include and exclude.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AudienceSet {
    pub include: Vec<Uuid>,
    pub exclude: Vec<Uuid>,
}

/// Site domains to include and exclude.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSet {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Who sees the ads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Targeting {
    /// Audience ids (see the audiences API).
    pub audiences: AudienceSet,
    /// ISO 3166-1 alpha-2 codes, e.g. `US`.
    pub countries: Vec<String>,
    /// ISO 3166-2 codes, e.g. `US-CA`.
    pub regions: Vec<String>,
    /// `desktop`, `mobile`, `tablet`, `ctv`.
    pub devices: Vec<String>,
    pub sites: SiteSet,
}

/// Device types a targeting may name.
const DEVICES: &[&str] = &["desktop", "mobile", "tablet", "ctv"];

impl Targeting {
    /// Normalise (site domains) and validate.
    pub fn check(mut self, errors: &mut Vec<FieldError>) -> Targeting {
        for c in &self.countries {
            if !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())) {
                errors.push(FieldError::new(
                    "targeting.countries",
                    "invalid_value",
                    format!("{c} is not an ISO 3166-1 alpha-2 code"),
                ));
            }
        }
        for r in &self.regions {
            let ok = r.split_once('-').is_some_and(|(c, s)| {
                c.len() == 2
                    && c.bytes().all(|b| b.is_ascii_uppercase())
                    && (1..=3).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            });
            if !ok {
                errors.push(FieldError::new(
                    "targeting.regions",
                    "invalid_value",
                    format!("{r} is not an ISO 3166-2 code"),
                ));
            }
        }
        for d in &self.devices {
            if !DEVICES.contains(&d.as_str()) {
                errors.push(FieldError::new(
                    "targeting.devices",
                    "invalid_value",
                    DEVICES.join(", "),
                ));
            }
        }
        if self
            .audiences
            .include
            .iter()
            .any(|a| self.audiences.exclude.contains(a))
        {
            errors.push(FieldError::new(
                "targeting.audiences",
                "conflict",
                "an audience is both included and excluded",
            ));
        }
        for (field, list) in [
            ("targeting.sites.include", &mut self.sites.include),
            ("targeting.sites.exclude", &mut self.sites.exclude),
        ] {
            for site in list.iter_mut() {
                match crate::website::normalise(site) {
                    Ok(d) => *site = d,
                    Err(m) => errors.push(FieldError::new(
                        field,
                        "invalid_domain",
                        format!("{site}: {m}"),
                    )),
                }
            }
        }
        self
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdGroup {
    pub id: AdGroupId,
    pub campaign_id: CampaignId,
    pub name: String,
    pub budget: MoneyWire,
    pub base_bid_cpm: MoneyWire,
    pub max_bid_cpm: MoneyWire,
    pub frequency_cap: Option<FrequencyCap>,
    pub targeting: Targeting,
    /// Creatives assigned.
    pub creative_ids: Vec<CreativeId>,
    pub status: AdGroupStatus,
    /// A change waiting with its live campaign's pending change; the fields
    /// above are what TTD runs meanwhile.
    pub pending_change: Option<AdGroupChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to an ad group waiting for its campaign's approval.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdGroupChange {
    /// `create`, `update` or `archive`.
    pub action: String,
    /// For `update`: the values it proposes.
    pub after: Option<ProposedAdGroup>,
}

/// The values an ad group change proposes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposedAdGroup {
    pub budget: MoneyWire,
    pub base_bid_cpm: MoneyWire,
    pub max_bid_cpm: MoneyWire,
    pub frequency_cap: Option<FrequencyCap>,
    pub targeting: Targeting,
    pub creative_ids: Vec<CreativeId>,
}

impl ProposedAdGroup {
    fn new(v: &ProposedValues, currency: &str) -> ProposedAdGroup {
        ProposedAdGroup {
            budget: MoneyWire::from_micros(v.budget_micros, currency),
            base_bid_cpm: MoneyWire::from_micros(v.base_bid_cpm_micros, currency),
            max_bid_cpm: MoneyWire::from_micros(v.max_bid_cpm_micros, currency),
            frequency_cap: frequency_cap(v.frequency_impressions, v.frequency_period_hours),
            targeting: serde_json::from_value(v.targeting.clone()).unwrap_or_default(),
            creative_ids: v.creative_ids.clone(),
        }
    }
}

fn frequency_cap(impressions: Option<i64>, hours: Option<i64>) -> Option<FrequencyCap> {
    impressions.zip(hours).map(|(i, h)| FrequencyCap {
        impressions: i,
        period_hours: h,
    })
}

impl AdGroup {
    /// The ad group as the API shows it, its money in `currency` (its campaign's).
    pub fn new(r: &Row, currency: &str) -> AdGroup {
        let pending = r.pending.as_deref();
        AdGroup {
            id: r.id,
            campaign_id: r.campaign_id,
            name: r.name.clone(),
            budget: MoneyWire::from_micros(r.budget_micros, currency),
            base_bid_cpm: MoneyWire::from_micros(r.base_bid_cpm_micros, currency),
            max_bid_cpm: MoneyWire::from_micros(r.max_bid_cpm_micros, currency),
            frequency_cap: frequency_cap(r.frequency_impressions, r.frequency_period_hours),
            targeting: serde_json::from_value(r.targeting.clone()).unwrap_or_default(),
            creative_ids: r.creative_ids.clone(),
            status: match pending {
                Some(PendingOp::Create) => AdGroupStatus::Proposed,
                _ => r.status,
            },
            pending_change: pending.map(|op| AdGroupChange {
                action: op.name().to_string(),
                after: match op {
                    PendingOp::Update { values } => Some(ProposedAdGroup::new(values, currency)),
                    _ => None,
                },
            }),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdGroup {
    pub name: String,
    pub budget: MoneyWire,
    pub base_bid_cpm: MoneyWire,
    pub max_bid_cpm: MoneyWire,
    pub frequency_cap: Option<FrequencyCap>,
    #[serde(default)]
    pub targeting: Targeting,
    /// Creatives of the campaign's advertiser to run.
    #[serde(default)]
    pub creative_ids: Vec<CreativeId>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdGroupPatch {
    pub name: Option<String>,
    pub budget: Option<MoneyWire>,
    pub base_bid_cpm: Option<MoneyWire>,
    pub max_bid_cpm: Option<MoneyWire>,
    pub frequency_cap: Option<FrequencyCap>,
    pub targeting: Option<Targeting>,
    pub creative_ids: Option<Vec<CreativeId>>,
}

/// The money terms of an ad group, checked.
pub struct Checked {
    pub budget: Option<i64>,
    pub base: Option<i64>,
    pub max: Option<i64>,
    pub targeting: Targeting,
}

/// What an ad group must fit: its campaign's currency and budget.
pub struct CampaignTerms<'a> {
    pub currency: &'a str,
    pub budget_micros: i64,
}

/// Check an ad group's money, cap and targeting against its campaign, the
/// other ad groups holding `used` of the campaign's budget.
#[allow(clippy::too_many_arguments)]
pub fn check(
    budget: &MoneyWire,
    base: &MoneyWire,
    max: &MoneyWire,
    cap: Option<&FrequencyCap>,
    targeting: Targeting,
    campaign: &CampaignTerms<'_>,
    used: i64,
    errors: &mut Vec<FieldError>,
) -> Checked {
    let budget_micros = check_money("budget", budget, Some(campaign.currency), errors);
    let base_micros = check_rate("base_bid_cpm", base, campaign.currency, errors);
    let max_micros = check_rate("max_bid_cpm", max, campaign.currency, errors);
    if let (Some(b), Some(m)) = (base_micros, max_micros)
        && m < b
    {
        errors.push(FieldError::new(
            "max_bid_cpm.amount",
            "below_base_bid",
            "must be at least base_bid_cpm",
        ));
    }
    if let Some(b) = budget_micros
        && used
            .checked_add(b)
            .is_none_or(|t| t > campaign.budget_micros)
    {
        errors.push(FieldError::new(
            "budget.amount",
            "exceeds_campaign",
            format!(
                "only {} of the campaign's {} is left",
                format(campaign.budget_micros - used),
                format(campaign.budget_micros)
            ),
        ));
    }
    if let Some(c) = cap {
        if c.impressions < 1 {
            errors.push(FieldError::new(
                "frequency_cap.impressions",
                "out_of_range",
                "at least 1",
            ));
        }
        if !(1..=720).contains(&c.period_hours) {
            errors.push(FieldError::new(
                "frequency_cap.period_hours",
                "out_of_range",
                "1 to 720 hours",
            ));
        }
    }
    let targeting = targeting.check(errors);
    Checked {
        budget: budget_micros,
        base: base_micros,
        max: max_micros,
        targeting,
    }
}
