//! Attribution: which campaigns an opportunity's pipeline and revenue are
//! credited to, and whether the campaigns caused any of it.
//!
//! - [`models`]: the rule-based models (first, last, linear, time decay,
//!   U-shaped, W-shaped) over an opportunity's touches, and the split of an
//!   amount into credits that sum to it exactly (largest remainder).
//! - [`markov`]: the data-driven model, a first-order Markov chain over
//!   accounts' paths of campaigns, whose removal effects are computed
//!   exactly from the absorbing chain's fundamental matrix.
//! - [`run`]: a window's opportunities credited under every model.
//! - [`lift`]: treated against held-out accounts, with confidence
//!   intervals and p-values, or "not enough data".
//! - [`service`] and [`api`]: the reports (`/v1/attribution/...`), reading
//!   opportunities through `crm::read`, touches through
//!   `delivery::touches`, audiences through `audiences::read`.

pub mod api;
pub mod fx;
pub mod lift;
pub mod markov;
pub mod models;
pub mod run;
pub mod service;
pub mod store;

use platform::http::ApiRoutes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

/// A tenant's attribution rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AttributionSettings)]
pub struct Settings {
    /// How many days before an opportunity converts a touch counts (1 to 730).
    pub lookback_days: i64,
    /// Time decay's half-life, days (1 to 365).
    pub half_life_days: i64,
    /// The currency reports are in (ISO 4217); other currencies are
    /// converted with stored rates.
    pub currency: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lookback_days: 90,
            half_life_days: 7,
            currency: "USD".into(),
        }
    }
}

/// The capability's routes.
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(api::campaigns))
        .routes(routes!(api::opportunity))
        .routes(routes!(api::lift))
        .routes(routes!(api::get_settings, api::put_settings))
}
