//! Advertisers: the brands a tenant advertises for. The currency is fixed at
//! creation; insertion orders and campaigns inherit it.

pub mod api;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use platform::http::problem::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::AdvertiserId;
use crate::validate::check_name;
use crate::{money, website};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Advertiser {
    pub id: AdvertiserId,
    pub name: String,
    /// Normalised website domain.
    pub domain: String,
    pub industry: Option<String>,
    /// ISO 4217; fixed after creation.
    pub currency: String,
    /// Default attribution look-back after a click.
    pub click_lookback_days: i64,
    /// Default attribution look-back after an impression.
    pub view_lookback_days: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdvertiser {
    pub name: String,
    /// Website; normalised (`https://www.Acme.com/x` -> `acme.com`).
    pub domain: String,
    pub currency: String,
    pub industry: Option<String>,
    pub click_lookback_days: Option<i64>,
    pub view_lookback_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvertiserPatch {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub click_lookback_days: Option<i64>,
    pub view_lookback_days: Option<i64>,
    /// Refused: an advertiser's currency is fixed.
    pub currency: Option<String>,
}

/// A new advertiser, checked: the domain normalised.
pub struct ValidNew {
    pub name: String,
    pub domain: String,
    pub currency: String,
    pub industry: Option<String>,
    pub click_lookback_days: i64,
    pub view_lookback_days: i64,
}

/// Default look-backs when none is given.
const CLICK_LOOKBACK_DAYS: i64 = 30;
const VIEW_LOOKBACK_DAYS: i64 = 90;

impl NewAdvertiser {
    pub fn validate(self) -> Result<ValidNew, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_name(&self.name, &mut errors);
        let domain = website::normalise(&self.domain)
            .map_err(|m| errors.push(FieldError::new("domain", "invalid_domain", m)))
            .ok();
        if money::currency_digits(&self.currency).is_none() {
            errors.push(FieldError::new(
                "currency",
                "invalid_currency",
                "an ISO 4217 code, e.g. USD",
            ));
        }
        check_lookback("click_lookback_days", self.click_lookback_days, &mut errors);
        check_lookback("view_lookback_days", self.view_lookback_days, &mut errors);
        match domain {
            Some(domain) if errors.is_empty() => Ok(ValidNew {
                name: self.name.trim().to_string(),
                domain,
                currency: self.currency,
                industry: self.industry,
                click_lookback_days: self.click_lookback_days.unwrap_or(CLICK_LOOKBACK_DAYS),
                view_lookback_days: self.view_lookback_days.unwrap_or(VIEW_LOOKBACK_DAYS),
            }),
            _ => Err(errors),
        }
    }
}

/// A change, checked: only the fields given.
pub struct ValidPatch {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub click_lookback_days: Option<i64>,
    pub view_lookback_days: Option<i64>,
}

impl AdvertiserPatch {
    pub fn validate(self) -> Result<ValidPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(n) = &self.name {
            check_name(n, &mut errors);
        }
        let domain = match &self.domain {
            Some(d) => website::normalise(d)
                .map_err(|m| errors.push(FieldError::new("domain", "invalid_domain", m)))
                .ok(),
            None => None,
        };
        if self.currency.is_some() {
            errors.push(FieldError::new(
                "currency",
                "immutable",
                "an advertiser's currency is fixed after creation",
            ));
        }
        check_lookback("click_lookback_days", self.click_lookback_days, &mut errors);
        check_lookback("view_lookback_days", self.view_lookback_days, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidPatch {
            name: self.name.map(|n| n.trim().to_string()),
            domain,
            industry: self.industry,
            click_lookback_days: self.click_lookback_days,
            view_lookback_days: self.view_lookback_days,
        })
    }
}

fn check_lookback(field: &str, v: Option<i64>, errors: &mut Vec<FieldError>) {
    if let Some(v) = v
        && !(1..=365).contains(&v)
    {
        errors.push(FieldError::new(field, "out_of_range", "1 to 365 days"));
    }
}
