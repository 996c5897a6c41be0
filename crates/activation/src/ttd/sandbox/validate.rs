//! What the sandbox checks of each object beyond its field types, with
//! TTD's wording: the `ErrorDetails` a real TTD answers a bad request with.

use super::Store;
use crate::ttd::model::{
    AdGroup, Advertiser, Campaign, Creative, DataGroup, TtdAudience, TtdObject,
};

/// What each object type checks beyond its field types.
pub(super) trait Validate: TtdObject {
    fn check(&self, store: &Store) -> Vec<(String, String)>;
}

fn is_https(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.scheme() == "https" && u.host().is_some())
}

fn positive(prop: &str, amount: f64, out: &mut Vec<(String, String)>) {
    if amount.is_nan() || amount <= 0.0 || !amount.is_finite() {
        out.push((prop.into(), "Must be greater than zero.".into()));
    }
}

fn currency(prop: &str, code: &str, out: &mut Vec<(String, String)>) {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        out.push((prop.into(), "Must be an ISO 4217 currency code.".into()));
    }
}

fn name(prop: &str, v: &str, out: &mut Vec<(String, String)>) {
    if v.trim().is_empty() || v.chars().count() > 256 {
        out.push((prop.into(), "Must be 1 to 256 characters.".into()));
    }
}

fn availability(v: &str, out: &mut Vec<(String, String)>) {
    if !matches!(v, "Available" | "Paused" | "Archived") {
        out.push((
            "Availability".into(),
            "Must be Available, Paused or Archived.".into(),
        ));
    }
}

impl Validate for Advertiser {
    fn check(&self, _: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.partner_id.is_empty() {
            out.push((
                "PartnerId".into(),
                "The PartnerId field is required.".into(),
            ));
        }
        name("AdvertiserName", &self.advertiser_name, &mut out);
        currency("CurrencyCode", &self.currency_code, &mut out);
        if self.domain_address.trim().is_empty() {
            out.push((
                "DomainAddress".into(),
                "The DomainAddress field is required.".into(),
            ));
        }
        for (p, v) in [
            (
                "AttributionClickLookbackWindowInSeconds",
                self.attribution_click_lookback_window_in_seconds,
            ),
            (
                "AttributionImpressionLookbackWindowInSeconds",
                self.attribution_impression_lookback_window_in_seconds,
            ),
        ] {
            if !(1..=90 * 86_400).contains(&v) {
                out.push((p.into(), "Must be between 1 second and 90 days.".into()));
            }
        }
        out
    }
}

impl Validate for Campaign {
    fn check(&self, store: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match store.get("advertiser", &self.advertiser_id) {
            None => out.push(("AdvertiserId".into(), "Advertiser not found.".into())),
            Some(a) => {
                if a["CurrencyCode"].as_str() != Some(self.budget.currency_code.as_str()) {
                    out.push((
                        "Budget.CurrencyCode".into(),
                        "Must be the advertiser's currency.".into(),
                    ));
                }
            }
        }
        name("CampaignName", &self.campaign_name, &mut out);
        positive("Budget.Amount", self.budget.amount, &mut out);
        if let Some(d) = &self.daily_budget {
            positive("DailyBudget.Amount", d.amount, &mut out);
            if d.amount > self.budget.amount {
                out.push((
                    "DailyBudget.Amount".into(),
                    "Must not exceed Budget.".into(),
                ));
            }
        }
        let start = chrono::DateTime::parse_from_rfc3339(&self.start_date);
        if start.is_err() {
            out.push((
                "StartDate".into(),
                "Must be an ISO 8601 date and time.".into(),
            ));
        }
        if let Some(end) = &self.end_date {
            match (chrono::DateTime::parse_from_rfc3339(end), start) {
                (Err(_), _) => out.push((
                    "EndDate".into(),
                    "Must be an ISO 8601 date and time.".into(),
                )),
                (Ok(e), Ok(s)) if e <= s => {
                    out.push(("EndDate".into(), "Must be after StartDate.".into()))
                }
                _ => {}
            }
        }
        if !matches!(
            self.pacing_mode.as_str(),
            "PaceEvenly" | "PaceAhead" | "PaceAsSoonAsPossible"
        ) {
            out.push((
                "PacingMode".into(),
                "Must be PaceEvenly, PaceAhead or PaceAsSoonAsPossible.".into(),
            ));
        }
        availability(&self.availability, &mut out);
        out
    }
}

impl Validate for AdGroup {
    fn check(&self, store: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let advertiser = match store.get("campaign", &self.campaign_id) {
            None => {
                out.push(("CampaignId".into(), "Campaign not found.".into()));
                None
            }
            Some(c) => c["AdvertiserId"].as_str().map(str::to_owned),
        };
        name("AdGroupName", &self.ad_group_name, &mut out);
        availability(&self.availability, &mut out);
        let rtb = &self.rtb_attributes;
        positive(
            "RTBAttributes.BudgetSettings.Budget.Amount",
            rtb.budget_settings.budget.amount,
            &mut out,
        );
        positive(
            "RTBAttributes.BaseBidCPM.Amount",
            rtb.base_bid_cpm.amount,
            &mut out,
        );
        if rtb.max_bid_cpm.amount < rtb.base_bid_cpm.amount {
            out.push((
                "RTBAttributes.MaxBidCPM.Amount".into(),
                "Must not be below BaseBidCPM.".into(),
            ));
        }
        if let Some(f) = &rtb.frequency_settings
            && (f.frequency_cap < 1 || f.frequency_period_in_minutes < 1)
        {
            out.push((
                "RTBAttributes.FrequencySettings".into(),
                "FrequencyCap and FrequencyPeriodInMinutes must be positive.".into(),
            ));
        }
        for id in &rtb.creative_ids {
            match store.get("creative", id) {
                None => out.push((
                    "RTBAttributes.CreativeIds".into(),
                    format!("Creative {id} not found."),
                )),
                Some(c) if c["AdvertiserId"].as_str() != advertiser.as_deref() => out.push((
                    "RTBAttributes.CreativeIds".into(),
                    format!("Creative {id} belongs to another advertiser."),
                )),
                Some(_) => {}
            }
        }
        if let Some(id) = rtb
            .audience_targeting
            .as_ref()
            .and_then(|t| t.audience_id.as_deref())
        {
            match store.get("audience", id) {
                None => out.push((
                    "RTBAttributes.AudienceTargeting.AudienceId".into(),
                    format!("Audience {id} not found."),
                )),
                Some(a) if a["AdvertiserId"].as_str() != advertiser.as_deref() => out.push((
                    "RTBAttributes.AudienceTargeting.AudienceId".into(),
                    format!("Audience {id} belongs to another advertiser."),
                )),
                Some(_) => {}
            }
        }
        out
    }
}

impl Validate for Creative {
    fn check(&self, store: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if store.get("advertiser", &self.advertiser_id).is_none() {
            out.push(("AdvertiserId".into(), "Advertiser not found.".into()));
        }
        name("CreativeName", &self.creative_name, &mut out);
        let urls = match (&self.image_attributes, &self.html5_attributes) {
            (Some(i), None) => vec![
                ("ImageAttributes.ImageUrl", &i.image_url),
                ("ImageAttributes.ClickthroughUrl", &i.clickthrough_url),
                ("ImageAttributes.LandingPageUrl", &i.landing_page_url),
            ],
            (None, Some(h)) => vec![
                ("Html5Attributes.Html5ZipUrl", &h.html5_zip_url),
                ("Html5Attributes.ClickthroughUrl", &h.clickthrough_url),
                ("Html5Attributes.LandingPageUrl", &h.landing_page_url),
            ],
            _ => {
                out.push((
                    "ImageAttributes".into(),
                    "Exactly one of ImageAttributes and Html5Attributes is required.".into(),
                ));
                vec![]
            }
        };
        for (p, u) in urls {
            if !is_https(u) {
                out.push((p.into(), "Must be an absolute https URL.".into()));
            }
        }
        out
    }
}

impl Validate for DataGroup {
    fn check(&self, store: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if store.get("advertiser", &self.advertiser_id).is_none() {
            out.push(("AdvertiserId".into(), "Advertiser not found.".into()));
        }
        name("DataGroupName", &self.data_group_name, &mut out);
        for id in &self.first_party_data_ids {
            if !store.first_party.has(&self.advertiser_id, *id) {
                out.push((
                    "FirstPartyDataIds".into(),
                    format!("First-party data {id} not found for this advertiser."),
                ));
            }
        }
        out
    }
}

impl Validate for TtdAudience {
    fn check(&self, store: &Store) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if store.get("advertiser", &self.advertiser_id).is_none() {
            out.push(("AdvertiserId".into(), "Advertiser not found.".into()));
        }
        name("AudienceName", &self.audience_name, &mut out);
        for (prop, ids) in [
            ("IncludedDataGroupIds", &self.included_data_group_ids),
            ("ExcludedDataGroupIds", &self.excluded_data_group_ids),
        ] {
            for id in ids {
                if store.get("datagroup", id).is_none() {
                    out.push((prop.into(), format!("Data group {id} not found.")));
                }
            }
        }
        out
    }
}
