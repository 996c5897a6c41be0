//! Insertion orders: the customer's contract (budget, dates, pricing) for
//! one advertiser, in its currency. Its campaigns' budgets never add up to
//! more than its budget, and its dates contain every campaign's flight.

pub mod api;
pub mod service;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use platform::http::problem::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{AdvertiserId, InsertionOrderId};
use crate::money::{self, MoneyWire};

platform::text_enum! {
    /// How the agency bills the insertion order.
    pub enum PricingModel {
        Cpm = "cpm",
        Cpc = "cpc",
        FlatFee = "flat_fee",
        CostPlus = "cost_plus",
    }
}

/// An insertion order as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: InsertionOrderId,
    pub advertiser_id: AdvertiserId,
    pub currency: String,
    pub name: String,
    pub number: Option<String>,
    pub budget_micros: i64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing_model: PricingModel,
    pub pricing_rate_micros: i64,
    pub billing_contact: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sum of the budgets of its campaigns (not archived).
    pub committed_micros: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// `cpm`, `cpc`, `flat_fee` or `cost_plus`.
    pub model: String,
    /// Price per unit (`cpm`: per thousand impressions; `cpc`: per click; `flat_fee`: the fee).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<MoneyWire>,
    /// `cost_plus` only: percentage on top of media cost, e.g. `"15"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InsertionOrder {
    pub id: InsertionOrderId,
    pub advertiser_id: AdvertiserId,
    pub name: String,
    pub number: Option<String>,
    pub budget: MoneyWire,
    /// Budgets of its campaigns, summed; never above `budget`.
    pub committed: MoneyWire,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing: Pricing,
    pub billing_contact: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Row> for InsertionOrder {
    fn from(r: Row) -> Self {
        let (rate, percent) = if r.pricing_model == PricingModel::CostPlus {
            (None, Some(money::format_micros(r.pricing_rate_micros, 0)))
        } else {
            (
                Some(MoneyWire::from_micros(r.pricing_rate_micros, &r.currency)),
                None,
            )
        };
        InsertionOrder {
            id: r.id,
            advertiser_id: r.advertiser_id,
            name: r.name,
            number: r.number,
            budget: MoneyWire::from_micros(r.budget_micros, &r.currency),
            committed: MoneyWire::from_micros(r.committed_micros, &r.currency),
            start_date: r.start_date,
            end_date: r.end_date,
            pricing: Pricing {
                model: r.pricing_model.to_string(),
                rate,
                percent,
            },
            billing_contact: r.billing_contact,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInsertionOrder {
    pub advertiser_id: AdvertiserId,
    pub name: String,
    pub number: Option<String>,
    pub budget: MoneyWire,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub pricing: Pricing,
    pub billing_contact: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertionOrderPatch {
    pub name: Option<String>,
    pub number: Option<String>,
    /// Not below what its campaigns have committed.
    pub budget: Option<MoneyWire>,
    /// The dates must still contain every campaign's flight.
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub pricing: Option<Pricing>,
    pub billing_contact: Option<String>,
}

/// The pricing's model and its rate in micro-units (the percentage, for
/// `cost_plus`), or field errors.
pub fn pricing_rate(
    p: &Pricing,
    currency: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<(PricingModel, i64)> {
    let Ok(model) = p.model.parse::<PricingModel>() else {
        errors.push(FieldError::new(
            "pricing.model",
            "invalid_value",
            "cpm, cpc, flat_fee or cost_plus",
        ));
        return None;
    };
    let rate = match (model, &p.rate, &p.percent) {
        (PricingModel::CostPlus, None, Some(pct)) => match money::parse_micros(pct, 4) {
            Ok(v) if (0..=1000 * money::MICROS).contains(&v) => Some(v),
            _ => {
                errors.push(FieldError::new(
                    "pricing.percent",
                    "invalid",
                    "a percentage from 0 to 1000",
                ));
                None
            }
        },
        (PricingModel::CostPlus, _, _) => {
            errors.push(FieldError::new(
                "pricing",
                "invalid",
                "cost_plus takes `percent` and no `rate`",
            ));
            None
        }
        (_, Some(rate), None) => {
            if currency.is_some_and(|c| c != rate.currency) {
                errors.push(FieldError::new(
                    "pricing.rate.currency",
                    "currency_mismatch",
                    "must be the advertiser's currency",
                ));
                return None;
            }
            match rate.rate_micros() {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(FieldError::new(
                        "pricing.rate.amount",
                        e.code(),
                        e.to_string(),
                    ));
                    None
                }
            }
        }
        (_, _, _) => {
            errors.push(FieldError::new(
                "pricing",
                "invalid",
                "this model takes `rate` and no `percent`",
            ));
            None
        }
    };
    rate.map(|r| (model, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pricing(model: &str, rate: Option<&str>, percent: Option<&str>) -> Pricing {
        Pricing {
            model: model.into(),
            rate: rate.map(|a| MoneyWire {
                amount: a.into(),
                currency: "USD".into(),
            }),
            percent: percent.map(str::to_owned),
        }
    }

    #[test]
    fn each_model_takes_its_own_kind_of_rate() {
        let mut e = Vec::new();
        assert_eq!(
            pricing_rate(&pricing("cpm", Some("4.25"), None), Some("USD"), &mut e),
            Some((PricingModel::Cpm, 4_250_000))
        );
        assert_eq!(
            pricing_rate(&pricing("cost_plus", None, Some("15")), Some("USD"), &mut e),
            Some((PricingModel::CostPlus, 15_000_000))
        );
        assert!(e.is_empty());
        for (p, field) in [
            (pricing("cost_plus", Some("1"), None), "pricing"),
            (pricing("cpc", None, Some("5")), "pricing"),
            (pricing("cpv", Some("1"), None), "pricing.model"),
            (pricing("cost_plus", None, Some("1001")), "pricing.percent"),
        ] {
            let mut e = Vec::new();
            assert_eq!(pricing_rate(&p, Some("USD"), &mut e), None);
            assert_eq!(e[0].field, field);
        }
        let mut e = Vec::new();
        assert_eq!(
            pricing_rate(&pricing("cpm", Some("1"), None), Some("EUR"), &mut e),
            None
        );
        assert_eq!(e[0].code, "currency_mismatch");
    }
}
