//! The objects of TTD's platform API v3 that P360 writes, with TTD's field
//! names. Optional fields are left out of requests when unset (a PUT then
//! leaves them as they are).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An amount in a currency: `{"Amount": 1000.5, "CurrencyCode": "USD"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Money {
    pub amount: f64,
    pub currency_code: String,
}

impl Money {
    pub fn from_micros(micros: i64, currency: &str) -> Money {
        Money {
            amount: micros as f64 / 1_000_000.0,
            currency_code: currency.to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Advertiser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertiser_id: Option<String>,
    pub partner_id: String,
    pub advertiser_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub currency_code: String,
    pub domain_address: String,
    pub attribution_click_lookback_window_in_seconds: i64,
    pub attribution_impression_lookback_window_in_seconds: i64,
    pub click_dedup_window_in_seconds: i64,
    pub conversion_dedup_window_in_seconds: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Campaign {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub advertiser_id: String,
    pub campaign_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub budget: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget: Option<Money>,
    /// ISO 8601, e.g. `2026-12-01T00:00:00Z`.
    pub start_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// `PaceEvenly`, `PaceAhead` or `PaceAsSoonAsPossible`.
    pub pacing_mode: String,
    /// `Available`, `Paused` or `Archived`.
    pub availability: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BudgetSettings {
    pub budget: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrequencySettings {
    pub frequency_cap: i64,
    pub frequency_period_in_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AudienceTargeting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RtbAttributes {
    pub budget_settings: BudgetSettings,
    #[serde(rename = "BaseBidCPM")]
    pub base_bid_cpm: Money,
    #[serde(rename = "MaxBidCPM")]
    pub max_bid_cpm: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_settings: Option<FrequencySettings>,
    #[serde(default)]
    pub creative_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_targeting: Option<AudienceTargeting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_group_id: Option<String>,
    pub campaign_id: String,
    pub ad_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub is_enabled: bool,
    pub availability: String,
    #[serde(rename = "RTBAttributes")]
    pub rtb_attributes: RtbAttributes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageAttributes {
    pub image_url: String,
    pub clickthrough_url: String,
    pub landing_page_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Html5Attributes {
    pub html5_zip_url: String,
    pub clickthrough_url: String,
    pub landing_page_url: String,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Creative {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creative_id: Option<String>,
    pub advertiser_id: String,
    pub creative_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_attributes: Option<ImageAttributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html5_attributes: Option<Html5Attributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
}

/// A data group: first-party segments grouped for targeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_group_id: Option<String>,
    pub advertiser_id: String,
    pub data_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// First-party segments (`FirstPartyDataId`s of the Data API's segments).
    #[serde(default)]
    pub first_party_data_ids: Vec<i64>,
}

/// An audience: data groups included and excluded; an ad group targets it
/// by `RTBAttributes.AudienceTargeting.AudienceId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtdAudience {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_id: Option<String>,
    pub advertiser_id: String,
    pub audience_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub included_data_group_ids: Vec<String>,
    #[serde(default)]
    pub excluded_data_group_ids: Vec<String>,
}

/// The Data API's `IPAddressDataRequest`: lines for the data owner's
/// first-party segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartyIpRequest {
    /// The advertiser whose first-party data this is.
    pub data_owner_id: String,
    pub items: Vec<FirstPartyItem>,
}

/// One item: segment entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartyItem {
    pub data: Vec<FirstPartyData>,
}

/// Addresses and ranges for one segment (by name), and how long they stay
/// in it (0: removed now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartyData {
    pub name: String,
    pub ttl_in_minutes: u32,
    #[serde(rename = "IPAddresses", default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    #[serde(
        rename = "IPAddressRanges",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_address_ranges: Vec<String>,
}

/// The Data API's `IPAddressDataServerResponse`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartyIpAnswer {
    #[serde(default)]
    pub failed_lines: Vec<FailedLine>,
}

/// A line TTD refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedLine {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub message: String,
    #[serde(rename = "IPAddress", default)]
    pub ip_address: Option<String>,
}

/// A first-party segment as `POST /v3/dmp/firstparty/advertiser` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartySegment {
    pub first_party_data_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SegmentPage {
    #[serde(default)]
    pub result: Vec<FirstPartySegment>,
}

/// A page of a `/query/...` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryPage<T> {
    pub result: Vec<T>,
    pub result_count: i64,
    pub total_filtered_count: i64,
}

/// What the generic client calls need to know about an object type.
pub trait TtdObject: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Path segment: `/v3/{PATH}`.
    const PATH: &'static str;
    /// Listing by parent: `/v3/{QUERY}`, filtered by the `PARENT` field.
    const QUERY: &'static str;
    const PARENT: &'static str;
    /// The id field, e.g. `CampaignId`.
    const ID: &'static str;
    fn id(&self) -> Option<&str>;
    fn description(&self) -> Option<&str>;
    /// Take the object out of service for good (a duplicate): archived,
    /// disabled where TTD has the flag, and described as `description` so
    /// that no later look-up by marker adopts it.
    fn retire(&mut self, description: String);
}

impl TtdObject for Advertiser {
    const ID: &'static str = "AdvertiserId";
    const PATH: &'static str = "advertiser";
    const QUERY: &'static str = "advertiser/query/partner";
    const PARENT: &'static str = "PartnerId";
    fn id(&self) -> Option<&str> {
        self.advertiser_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.availability = Some("Archived".into());
    }
}

impl TtdObject for Campaign {
    const ID: &'static str = "CampaignId";
    const PATH: &'static str = "campaign";
    const QUERY: &'static str = "campaign/query/advertiser";
    const PARENT: &'static str = "AdvertiserId";
    fn id(&self) -> Option<&str> {
        self.campaign_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.availability = "Archived".into();
    }
}

impl TtdObject for AdGroup {
    const ID: &'static str = "AdGroupId";
    const PATH: &'static str = "adgroup";
    const QUERY: &'static str = "adgroup/query/campaign";
    const PARENT: &'static str = "CampaignId";
    fn id(&self) -> Option<&str> {
        self.ad_group_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.is_enabled = false;
        self.availability = "Archived".into();
    }
}

impl TtdObject for Creative {
    const ID: &'static str = "CreativeId";
    const PATH: &'static str = "creative";
    const QUERY: &'static str = "creative/query/advertiser";
    const PARENT: &'static str = "AdvertiserId";
    fn id(&self) -> Option<&str> {
        self.creative_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.availability = Some("Archived".into());
    }
}

impl TtdObject for DataGroup {
    const ID: &'static str = "DataGroupId";
    const PATH: &'static str = "datagroup";
    const QUERY: &'static str = "datagroup/query/advertiser";
    const PARENT: &'static str = "AdvertiserId";
    fn id(&self) -> Option<&str> {
        self.data_group_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.first_party_data_ids.clear();
    }
}

impl TtdObject for TtdAudience {
    const ID: &'static str = "AudienceId";
    const PATH: &'static str = "audience";
    const QUERY: &'static str = "audience/query/advertiser";
    const PARENT: &'static str = "AdvertiserId";
    fn id(&self) -> Option<&str> {
        self.audience_id.as_deref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn retire(&mut self, description: String) {
        self.description = Some(description);
        self.included_data_group_ids.clear();
    }
}
