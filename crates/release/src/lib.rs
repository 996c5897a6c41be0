//! The release process of P360 Display: blue-green deployments driven end to
//! end and stored as they go (`p360 deploy ...`), on the mechanisms of the
//! `deploy` crate (traffic backends, metric sources, the rollout controller),
//! plus fault injection and the one-machine drill that exercise it.
//!
//! - [`deployment`]: the commands (start, resume, promote, rollback, status,
//!   history);
//! - [`model`]: the phases in order, how a deployment ends, its status and
//!   operators' requests (no I/O);
//! - `controller`: what drives one deployment through its phases, one
//!   function each (`controller::phases`), and its watch over the traffic
//!   shift (`controller::supervisor`);
//! - [`store`]: every SQL statement on the deployment tables;
//! - `heartbeat`: liveness and take-over; `notify`: events to the store, the
//!   audit log and the webhook; `migrations`: which run when;
//! - [`backend`]: slots, load balancer and metric source from the
//!   configuration; [`render`]: status and history as text.

pub mod backend;
pub mod config;
mod controller;
pub mod deployment;
pub mod drill;
pub mod faults;
mod heartbeat;
mod migrations;
pub mod model;
mod notify;
pub mod render;
pub mod store;

/// Export the deployment gauges on this process's `/metrics`.
pub fn export_gauges() {
    platform::http::ops::on_scrape("deployments", |pool| Box::pin(store::record_gauges(pool)));
}
