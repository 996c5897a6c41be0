//! The layout of a REDS feed: its columns in feed order. TTD versions its
//! feeds (a version may add columns), so the layout is configuration, with
//! TTD's documented layouts as defaults, and a reader finds the columns it
//! needs by name here — never by positions written elsewhere in the code.
//!
//! Sources: the impression layout is TTD's REDS impressions feed as its
//! partner documentation lists it, in feed order. The click layout is the
//! REDS clicks feed's; clicks join impressions by `DisplayImpressionId`.

/// TTD's REDS impression columns, in feed order.
pub const IMPRESSIONS: &[&str] = &[
    "LogEntryTime",
    "ImpressionId",
    "PartnerId",
    "AdvertiserId",
    "CampaignId",
    "AdGroupId",
    "PrivateContractId",
    "AudienceId",
    "CreativeId",
    "AdFormat",
    "Frequency",
    "SupplyVendor",
    "SupplyVendorPublisherId",
    "DealId",
    "Site",
    "ReferrerCategories",
    "MatchedFoldPosition",
    "UserHourOfWeek",
    "UserAgent",
    "IPAddress",
    "TDID",
    "CountryLong",
    "Region",
    "Metro",
    "City",
    "DeviceType",
    "OSFamily",
    "OS",
    "Browser",
    "Recency",
    "MatchedLanguageCode",
    "MediaCostInBucks",
    "FeeFeaturesCost",
    "DataUsageTotalCost",
    "TTDCostInUSDollars",
    "PartnerCostInUSDollars",
    "AdvertiserCostInUSDollars",
    "Latitude",
    "Longitude",
    "DeviceAdvertisingId",
    "Zip",
    "ProcessedTime",
];

/// TTD's REDS click columns, in feed order.
pub const CLICKS: &[&str] = &[
    "LogEntryTime",
    "ClickId",
    "IPAddress",
    "ReferrerUrl",
    "RedirectUrl",
    "CampaignId",
    "ChannelId",
    "AdvertiserId",
    "DisplayImpressionId",
    "Keyword",
    "KeywordId",
    "MatchType",
    "DistributionNetwork",
    "TDID",
    "RawUrl",
    "ProcessedTime",
    "DeviceId",
];

/// A layout that lacks what P360 reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("the feed's schema has no {0} column")]
    Missing(&'static str),
    #[error("the feed's schema names {0} twice")]
    Twice(String),
}

/// The columns of a layout by name (any case); every name once.
struct Layout<'a>(Vec<&'a str>);

impl<'a> Layout<'a> {
    fn new(columns: &'a [impl AsRef<str>]) -> Result<Layout<'a>, SchemaError> {
        let names: Vec<&str> = columns.iter().map(|c| c.as_ref().trim()).collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)) {
                return Err(SchemaError::Twice(n.to_string()));
            }
        }
        Ok(Layout(names))
    }

    fn at(&self, name: &'static str) -> Result<usize, SchemaError> {
        self.0
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .ok_or(SchemaError::Missing(name))
    }
}

/// Where the impression columns P360 reads are, and how many a row has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpressionColumns {
    pub log_entry_time: usize,
    pub impression_id: usize,
    pub advertiser_id: usize,
    pub campaign_id: usize,
    pub ad_group_id: usize,
    pub creative_id: usize,
    pub ip_address: usize,
    pub tdid: usize,
    pub media_cost: usize,
    pub advertiser_cost: usize,
    pub count: usize,
}

impl ImpressionColumns {
    /// The columns of impression layout `columns` (feed order).
    pub fn of(columns: &[impl AsRef<str>]) -> Result<ImpressionColumns, SchemaError> {
        let l = Layout::new(columns)?;
        Ok(ImpressionColumns {
            log_entry_time: l.at("LogEntryTime")?,
            impression_id: l.at("ImpressionId")?,
            advertiser_id: l.at("AdvertiserId")?,
            campaign_id: l.at("CampaignId")?,
            ad_group_id: l.at("AdGroupId")?,
            creative_id: l.at("CreativeId")?,
            ip_address: l.at("IPAddress")?,
            tdid: l.at("TDID")?,
            media_cost: l.at("MediaCostInBucks")?,
            advertiser_cost: l.at("AdvertiserCostInUSDollars")?,
            count: l.0.len(),
        })
    }
}

/// Where the click columns P360 reads are, and how many a row has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClickColumns {
    pub log_entry_time: usize,
    pub click_id: usize,
    pub display_impression_id: usize,
    pub campaign_id: usize,
    pub ip_address: usize,
    pub count: usize,
}

impl ClickColumns {
    /// The columns of click layout `columns` (feed order).
    pub fn of(columns: &[impl AsRef<str>]) -> Result<ClickColumns, SchemaError> {
        let l = Layout::new(columns)?;
        Ok(ClickColumns {
            log_entry_time: l.at("LogEntryTime")?,
            click_id: l.at("ClickId")?,
            display_impression_id: l.at("DisplayImpressionId")?,
            campaign_id: l.at("CampaignId")?,
            ip_address: l.at("IPAddress")?,
            count: l.0.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_layouts_resolve() {
        let i = ImpressionColumns::of(IMPRESSIONS).unwrap();
        assert_eq!((i.ip_address, i.tdid, i.count), (19, 20, 42));
        assert_eq!((i.media_cost, i.advertiser_cost), (31, 36));
        let c = ClickColumns::of(CLICKS).unwrap();
        assert_eq!((c.display_impression_id, c.count), (8, 17));
    }

    #[test]
    fn a_newer_feed_version_with_added_columns_still_resolves() {
        let mut v = IMPRESSIONS.to_vec();
        v.insert(3, "ChannelId");
        v.push("DataPrivacyFlags");
        let i = ImpressionColumns::of(&v).unwrap();
        assert_eq!((i.advertiser_id, i.ip_address, i.count), (4, 20, 44));
    }

    #[test]
    fn a_layout_lacking_a_column_or_naming_one_twice_is_refused() {
        let without: Vec<&str> = IMPRESSIONS
            .iter()
            .copied()
            .filter(|c| *c != "TDID")
            .collect();
        assert_eq!(
            ImpressionColumns::of(&without),
            Err(SchemaError::Missing("TDID"))
        );
        let twice = [CLICKS, &["clickid"]].concat();
        assert_eq!(
            ClickColumns::of(&twice).unwrap_err().to_string(),
            "the feed's schema names clickid twice"
        );
    }
}
