//! Query parameters shared by the list endpoints.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::ids::AdvertiserId;

/// A page of one advertiser's resources, or of all the tenant's.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ByAdvertiser {
    pub advertiser_id: Option<AdvertiserId>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
