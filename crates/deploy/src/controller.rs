//! The rollout: shift traffic to green step by step (5 -> 25 -> 50 -> 100 %
//! by default), watching green while each step dwells, and put everything
//! back on blue at once when a rollback trigger fires.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::metrics::{MetricSource, Reading};
use crate::traffic::{TrafficBackend, Weights};

/// When to roll back (defaults from the deployment plan).
#[derive(Debug, Clone)]
pub struct Triggers {
    /// 5xx share of green's application requests over the window.
    pub max_error_rate: f64,
    /// Average latency of green's application requests over the window.
    pub max_avg_latency: Duration,
    /// CPU seconds per second of green's process.
    pub max_cpu: f64,
    /// Resident memory of green's process, when a limit is known.
    pub max_rss_bytes: Option<f64>,
    /// Rates are judged only on at least this many requests.
    pub min_requests: f64,
    /// Consecutive failed readiness checks.
    pub readiness_failures: u32,
    /// How far back rates are computed.
    pub window: Duration,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            max_error_rate: 0.05,
            max_avg_latency: Duration::from_secs(2),
            max_cpu: 0.9,
            max_rss_bytes: None,
            min_requests: 10.0,
            readiness_failures: 2,
            window: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// Green's share at each step, ending at 100.
    pub steps: Vec<u8>,
    pub dwell: Duration,
    /// How often green is read.
    pub interval: Duration,
    /// How long green may take to become ready before the first step.
    pub ready_timeout: Duration,
    pub triggers: Triggers,
    /// Index of the first step to take (a resumed rollout starts where the
    /// stopped controller was).
    pub start_step: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            steps: vec![5, 25, 50, 100],
            dwell: Duration::from_secs(30),
            interval: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(60),
            triggers: Triggers::default(),
            start_step: 0,
        }
    }
}

/// What happened, for the log, the audit trail and the notification channel.
#[derive(Debug, Clone)]
pub enum Event {
    Weights(Weights),
    Reading {
        green: u8,
        error_rate: Option<f64>,
        avg_latency_s: Option<f64>,
        ready: bool,
    },
    Triggered {
        trigger: &'static str,
        detail: String,
    },
    RolledBack {
        trigger_to_blue: Duration,
    },
    Promoted {
        took: Duration,
    },
}

/// What an operator (or whoever supervises the rollout) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Continue,
    /// Skip the remaining dwell: all traffic to green now.
    Promote,
    /// Back to blue now, for this reason.
    RollBack(String),
    /// Stop at once without touching traffic: someone else controls the
    /// rollout now (e.g. another controller took it over).
    Abandon(String),
}

/// Hears every event of a rollout and is asked, at every reading, whether
/// to go on. A plain `FnMut(&Event)` is a supervisor that always goes on.
pub trait Supervisor: Send {
    fn event(&mut self, e: &Event) -> impl Future<Output = ()> + Send;
    fn check(&mut self) -> impl Future<Output = Directive> + Send {
        async { Directive::Continue }
    }
}

impl<F: FnMut(&Event) + Send> Supervisor for F {
    async fn event(&mut self, e: &Event) {
        self(e)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Promoted {
        took: Duration,
    },
    RolledBack {
        trigger: &'static str,
        detail: String,
        at_green: u8,
        trigger_to_blue: Duration,
    },
}

/// The first trigger `readings` (oldest to newest, within the window) fire.
pub fn evaluate(
    t: &Triggers,
    readings: &VecDeque<Reading>,
    not_ready: u32,
) -> Option<(&'static str, String)> {
    if not_ready >= t.readiness_failures {
        return Some((
            "readiness",
            format!("{not_ready} readiness checks failed in a row"),
        ));
    }
    let (first, last) = (readings.front()?, readings.back()?);
    if last.db_up == Some(0.0) {
        return Some(("database", "green reports its database unreachable".into()));
    }
    if let Some(max) = t.max_rss_bytes
        && last.rss_bytes > max
    {
        return Some((
            "memory",
            format!("{:.0} MiB resident", last.rss_bytes / 1_048_576.0),
        ));
    }
    let requests = last.requests - first.requests;
    let errors = last.errors - first.errors;
    if requests >= t.min_requests && errors / requests > t.max_error_rate {
        return Some((
            "error_rate",
            format!(
                "{errors:.0} of {requests:.0} requests failed ({:.1} %)",
                100.0 * errors / requests
            ),
        ));
    }
    let count = last.latency_count - first.latency_count;
    if count >= t.min_requests {
        let avg = (last.latency_sum - first.latency_sum) / count;
        if avg > t.max_avg_latency.as_secs_f64() {
            return Some(("latency", format!("average {:.0} ms", avg * 1000.0)));
        }
    }
    if last.integration_failures > first.integration_failures {
        return Some((
            "integration",
            format!(
                "{:.0} partner syncs failed",
                last.integration_failures - first.integration_failures
            ),
        ));
    }
    if let (Some(a), Some(b)) = (first.at, last.at) {
        let secs = b.duration_since(a).as_secs_f64();
        if secs >= 1.0 {
            let cpu = (last.cpu_seconds - first.cpu_seconds) / secs;
            if cpu > t.max_cpu {
                return Some(("cpu", format!("{:.0} % of a core", cpu * 100.0)));
            }
        }
    }
    None
}

/// Shift traffic to green step by step; roll back at the first trigger or
/// when the supervisor asks.
pub async fn rollout<B: TrafficBackend, M: MetricSource>(
    backend: &B,
    green: &M,
    plan: &Plan,
    mut sup: impl Supervisor,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut readings: VecDeque<Reading> = VecDeque::new();
    let mut not_ready = 0u32;
    // Green must be ready before it gets any traffic.
    let deadline = Instant::now() + plan.ready_timeout;
    loop {
        let r = green.read().await;
        if r.ready {
            readings.push_back(r);
            break;
        }
        if Instant::now() > deadline {
            return roll_back(
                backend,
                0,
                "readiness",
                "green never became ready".into(),
                &mut sup,
            )
            .await;
        }
        match sup.check().await {
            Directive::RollBack(reason) => {
                return roll_back(backend, 0, "manual", reason, &mut sup).await;
            }
            Directive::Abandon(reason) => anyhow::bail!("rollout abandoned: {reason}"),
            Directive::Continue | Directive::Promote => {}
        }
        tokio::time::sleep(plan.interval).await;
    }
    'steps: for &step in plan.steps.iter().skip(plan.start_step) {
        let w = Weights::green(step)?;
        backend.set_weights(w).await?;
        sup.event(&Event::Weights(w)).await;
        let until = Instant::now() + plan.dwell;
        while Instant::now() < until {
            tokio::time::sleep(plan.interval).await;
            let r = green.read().await;
            not_ready = if r.ready { 0 } else { not_ready + 1 };
            if r.ready {
                readings.push_back(r);
            }
            while readings.len() > 2
                && readings
                    .front()
                    .and_then(|f| f.at)
                    .is_some_and(|at| at.elapsed() > plan.triggers.window)
            {
                readings.pop_front();
            }
            let (first, last) = (readings.front(), readings.back());
            let (error_rate, avg_latency_s) = match (first, last) {
                (Some(a), Some(b)) if b.requests > a.requests => (
                    Some((b.errors - a.errors) / (b.requests - a.requests)),
                    (b.latency_count > a.latency_count).then(|| {
                        (b.latency_sum - a.latency_sum) / (b.latency_count - a.latency_count)
                    }),
                ),
                _ => (None, None),
            };
            // Judge before telling anyone: storing the reading must not delay a rollback.
            if let Some((trigger, detail)) = evaluate(&plan.triggers, &readings, not_ready) {
                return roll_back(backend, step, trigger, detail, &mut sup).await;
            }
            sup.event(&Event::Reading {
                green: step,
                error_rate,
                avg_latency_s,
                ready: not_ready == 0,
            })
            .await;
            match sup.check().await {
                Directive::Continue => {}
                Directive::RollBack(reason) => {
                    return roll_back(backend, step, "manual", reason, &mut sup).await;
                }
                Directive::Abandon(reason) => anyhow::bail!("rollout abandoned: {reason}"),
                Directive::Promote => {
                    if step < 100 {
                        backend.set_weights(Weights::green(100)?).await?;
                        sup.event(&Event::Weights(Weights::green(100)?)).await;
                    }
                    break 'steps;
                }
            }
        }
    }
    let took = started.elapsed();
    sup.event(&Event::Promoted { took }).await;
    Ok(Outcome::Promoted { took })
}

async fn roll_back<B: TrafficBackend>(
    backend: &B,
    at_green: u8,
    trigger: &'static str,
    detail: String,
    sup: &mut impl Supervisor,
) -> anyhow::Result<Outcome> {
    let fired = Instant::now();
    // Blue at once, before anyone is told (a slow audit store or webhook
    // must not hold traffic on a failing green); a backend hiccup is
    // retried, not left split.
    let mut attempt = 0;
    loop {
        match backend.set_weights(Weights::ALL_BLUE).await {
            Ok(()) => break,
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(
                    error = format!("{e:#}"),
                    attempt,
                    "could not put traffic back on blue; retrying"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.context("rollback could not put traffic back on blue")),
        }
    }
    let trigger_to_blue = fired.elapsed();
    sup.event(&Event::Triggered {
        trigger,
        detail: detail.clone(),
    })
    .await;
    sup.event(&Event::RolledBack { trigger_to_blue }).await;
    Ok(Outcome::RolledBack {
        trigger,
        detail,
        at_green,
        trigger_to_blue,
    })
}
