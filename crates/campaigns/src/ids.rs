//! The ids of the campaign capability's objects: distinct types, so that an
//! ad group id cannot be passed where a campaign id is meant. On the wire and
//! in the database they are plain UUIDs.

platform::typed_id! {
    /// An advertiser (a brand a tenant advertises for).
    pub struct AdvertiserId;
}

platform::typed_id! {
    /// An insertion order (the customer's contract).
    pub struct InsertionOrderId;
}

platform::typed_id! {
    /// A campaign.
    pub struct CampaignId;
}

platform::typed_id! {
    /// An ad group of a campaign.
    pub struct AdGroupId;
}

platform::typed_id! {
    /// A creative (an image or an HTML5 bundle).
    pub struct CreativeId;
}
