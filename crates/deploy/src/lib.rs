//! Blue-green deployments: traffic weights between blue and green through
//! one trait (HAProxy's runtime API; AWS ALB weighted target groups), the
//! instances' metrics through another, and the rollout controller that
//! shifts traffic step by step and rolls back on its triggers.

pub mod controller;
pub mod metrics;
pub mod traffic;

pub use controller::{Event, Outcome, Plan, Triggers, rollout};
pub use metrics::{MetricSource, Reading, Scrape};
pub use traffic::{Alb, Haproxy, TrafficBackend, Weights, haproxy_program};
