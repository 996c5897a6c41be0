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
//!
//! - [`service`] and [`store`]: an invoice's states (draft → issued → paid
//!   or void, with a credit note), gap-free numbers per tenant.
//!
//! The pricing, ledger and invoice modules are pure: the caller reads the
//! terms and the delivery.

pub mod draft;
pub mod invoice;
pub mod ledger;
pub mod pdf;
pub mod pricing;
pub mod service;
pub mod store;
