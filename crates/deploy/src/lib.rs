//! Blue-green deployments: traffic weights between blue and green through
//! one trait (HAProxy's runtime API; AWS ALB weighted target groups), the
//! instances' metrics through another, and the rollout controller that
//! shifts traffic step by step and rolls back on its triggers.

pub mod controller;
pub mod metrics;
pub mod traffic;

pub mod smoke;

/// The User-Agent of every request the deploy controller makes (load
/// balancer firewalls commonly refuse requests without one).
pub const USER_AGENT: &str = concat!("p360-deploy/", env!("CARGO_PKG_VERSION"));

pub use controller::{Directive, Event, Outcome, Plan, Supervisor, Triggers, rollout};
pub use metrics::{MetricSource, Prometheus, Reading, Scrape};
pub use traffic::{Alb, Haproxy, Oriented, TrafficBackend, Weights, elbv2_client, haproxy_program};
