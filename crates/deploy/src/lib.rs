//! Blue-green deployments. This first slice holds the traffic side: weights
//! between the blue and the green instance set through one trait, with the
//! HAProxy runtime API as its first backend (local, on-premises and tests).
//! The rollout controller, the AWS ALB backend and the metric sources build
//! on it.

pub mod controller;
pub mod metrics;
pub mod traffic;

pub use controller::{Event, Outcome, Plan, Triggers, rollout};
pub use metrics::{MetricSource, Reading, Scrape};
pub use traffic::{Haproxy, TrafficBackend, Weights};
