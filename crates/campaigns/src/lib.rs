//! Campaign management: advertisers, insertion orders (the customer's
//! contract) and campaigns with their maker-checker approval workflow. Every
//! object is tenant-scoped and every change audited with its before/after.

pub mod ad_groups;
pub mod advertisers;
pub mod campaigns;
pub mod creative_files;
pub mod creatives;
pub mod domain;
mod http;
pub mod insertion_orders;
pub mod money;

use platform::http::ApiRoutes;
use platform::http::problem::FieldError;
use utoipa_axum::routes;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(advertisers::create, advertisers::list))
        .routes(routes!(advertisers::get, advertisers::update))
        .routes(routes!(insertion_orders::create, insertion_orders::list))
        .routes(routes!(insertion_orders::get, insertion_orders::update))
        .routes(routes!(campaigns::create, campaigns::list))
        .routes(routes!(campaigns::get, campaigns::update))
        .routes(routes!(campaigns::transition))
        .routes(routes!(ad_groups::create, ad_groups::list))
        .routes(routes!(
            ad_groups::get,
            ad_groups::update,
            ad_groups::archive
        ))
        .routes(routes!(creatives::create, creatives::list))
        .routes(routes!(
            creatives::get,
            creatives::update,
            creatives::archive
        ))
        .routes(routes!(creatives::preview))
        .routes(routes!(creatives::preview_file))
}

/// A positive amount in `currency` (the parent's), or a field error.
pub(crate) fn check_money(
    field: &str,
    m: &money::MoneyWire,
    currency: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    if let Some(c) = currency
        && c != m.currency
    {
        errors.push(FieldError::new(
            &format!("{field}.currency"),
            "currency_mismatch",
            format!("must be the advertiser's currency, {c}"),
        ));
        return None;
    }
    match m.positive_micros() {
        Ok(v) => Some(v),
        Err(e) => {
            let sub = if e == money::MoneyError::Currency {
                "currency"
            } else {
                "amount"
            };
            errors.push(FieldError::new(
                &format!("{field}.{sub}"),
                e.code(),
                e.to_string(),
            ));
            None
        }
    }
}

/// Object names: 1 to 200 characters once trimmed.
pub(crate) fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    if name.trim().is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "length", "1 to 200 characters"));
    }
}
