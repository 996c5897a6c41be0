//! The supervisor of the `shift` phase's rollout (`deploy::Supervisor`):
//! it stores the weights and readings the rollout reports, and passes on an
//! operator's promote or rollback, the controller's own shutdown, and the
//! loss of the deployment to another controller.

use std::time::{Duration, Instant};

use deploy::{Directive, Event, Supervisor};
use serde_json::json;

use super::Controller;
use crate::model::Request;
use crate::store;

/// The rollout's supervisor for one controller.
pub(crate) struct Watch<'a> {
    c: &'a Controller,
    last_reading: Option<Instant>,
}

impl Watch<'_> {
    pub(crate) fn new(c: &Controller) -> Watch<'_> {
        Watch {
            c,
            last_reading: None,
        }
    }
}

impl Supervisor for Watch<'_> {
    async fn event(&mut self, e: &Event) {
        let c = self.c;
        match e {
            Event::Weights(w) => {
                let _ = store::set_weight(c.owner(), c.id, i64::from(w.green)).await;
                c.record(
                    "deployment.weights",
                    json!({c.from.name(): w.blue, c.to.name(): w.green}),
                    Some(format!(
                        "weights: {} {} % / {} {} %",
                        c.from.name(),
                        w.blue,
                        c.to.name(),
                        w.green
                    )),
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Reading {
                green,
                error_rate,
                avg_latency_s,
                ready,
            } => {
                // At most one stored reading a second.
                if self
                    .last_reading
                    .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
                {
                    return;
                }
                self.last_reading = Some(Instant::now());
                c.record(
                    "deployment.reading",
                    json!({"weight": green, "error_rate": error_rate, "avg_latency_s": avg_latency_s, "ready": ready}),
                    None,
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Triggered { trigger, detail } => {
                c.record(
                    "deployment.triggered",
                    json!({"trigger": trigger, "detail": detail}),
                    Some(format!("rollback trigger {trigger}: {detail}")),
                    tenancy::audit::Outcome::Failure,
                )
                .await;
            }
            Event::RolledBack { trigger_to_blue } => {
                let _ = store::set_weight(c.owner(), c.id, 0).await;
                c.record(
                    "deployment.traffic_restored",
                    json!({"trigger_to_blue_ms": trigger_to_blue.as_secs_f64() * 1000.0}),
                    None,
                    tenancy::audit::Outcome::Success,
                )
                .await;
            }
            Event::Promoted { .. } => {}
        }
    }

    async fn check(&mut self) -> Directive {
        let c = self.c;
        if c.is_lost() {
            return Directive::Abandon("another controller took this deployment over".into());
        }
        if c.shutdown.is_triggered() {
            return Directive::RollBack(
                "the controller was stopped (SIGTERM/SIGINT) during the shift".into(),
            );
        }
        match c.requested().await {
            Some(Request::Promote) => {
                let _ = store::clear_request(c.owner(), c.id).await;
                c.record(
                    "deployment.promote_requested",
                    json!({}),
                    Some("promote requested: skipping the remaining dwell".into()),
                    tenancy::audit::Outcome::Success,
                )
                .await;
                Directive::Promote
            }
            Some(Request::Rollback) => {
                Directive::RollBack("an operator asked (p360 deploy rollback)".into())
            }
            None => Directive::Continue,
        }
    }
}
