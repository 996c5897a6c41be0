//! Billing (issue 19): what an agency bills its customers for delivered
//! media, per insertion order and month.
//!
//! - [`pricing`]: one month of an insertion order's delivery priced under
//!   its model — `cpm` (rate per 1,000 impressions), `cpc` (rate per click),
//!   `flat_fee` (the fee spread over the flight's days), `cost_plus` (TTD's
//!   advertiser cost plus a markup) — in micros of the order's currency,
//!   rounded once per line, half to even.
//! - [`ledger`]: the months of an insertion order in order, each billed up
//!   to what the budget has left (the rest shown as over-delivery, never
//!   dropped), and a closed month's late delivery turned into an adjustment
//!   on the next open month, so billed + over-delivery = priced delivery to
//!   the micro and the billed total never passes the budget.
//! - [`invoice`]: an invoice's lines from its orders' postings.
//! - [`draft`]: a month's invoices drafted from delivery; closing a month.
//! - [`service`] and [`store`]: an invoice's states (draft → issued → paid
//!   or void, with a credit note), gap-free numbers per tenant, manual
//!   lines.
//! - [`api`]: `/v1/invoices` and `/v1/billing/...`; [`export`] the CSV and
//!   the PDF ([`pdf`]); [`margin`] billed against media cost; [`jobs`] the
//!   recurring drafting and closing; [`metrics`] the business metrics.
//!
//! The pricing, ledger and invoice modules are pure: the caller reads the
//! terms and the delivery.

pub mod api;
pub mod config;
pub mod draft;
pub mod export;
pub mod invoice;
pub mod jobs;
pub mod ledger;
pub mod margin;
pub mod metrics;
pub mod pdf;
pub mod pricing;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

pub use config::BillingConfig;
use platform::http::ApiRoutes;
use platform::jobs::Registry;
use utoipa_axum::routes;

/// The capability's routes; invoices' PDFs come from `config`'s issuer.
pub fn routes(config: &BillingConfig) -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(api::list))
        .routes(routes!(api::get))
        .routes(routes!(api::csv))
        .routes(routes!(api::pdf))
        .routes(routes!(api::issue))
        .routes(routes!(api::mark_paid))
        .routes(routes!(api::void))
        .routes(routes!(api::add_line))
        .routes(routes!(api::remove_line))
        .routes(routes!(api::close))
        .routes(routes!(api::draft))
        .routes(routes!(api::margin))
        .layer(axum::Extension(Arc::new(config.clone())))
}

/// The recurring drafting and closing (`billing.run`).
pub fn register(registry: Registry, config: &BillingConfig) -> anyhow::Result<Registry> {
    registry.every(
        Duration::from_secs(config.draft_every_secs),
        &jobs::RunBilling,
        config.clone(),
    )
}
