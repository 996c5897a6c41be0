//! Logs and metrics, set up in one place.
//!
//! Logs: JSON lines (or human-readable with `log.format = "pretty"`), on stdout
//! for long-running commands and stderr for one-shot commands whose stdout is
//! their result. Metrics: one process-wide Prometheus recorder rendered at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Version and commit of the running binary.
#[derive(Debug, Clone, Copy)]
pub struct BuildInfo {
    pub version: &'static str,
    pub git_sha: &'static str,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

/// Install the global tracing subscriber. Safe to call more than once (tests): later calls do nothing.
pub fn init_logging(cfg: &LogConfig, target: LogTarget) {
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let writer = match target {
        LogTarget::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = builder.with_writer(writer);
    let result = match cfg.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // Already installed (several apps in one test process): keep the first.
    drop(result);
}

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus(build: BuildInfo) -> PrometheusHandle {
    PROMETHEUS
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .expect("static buckets are valid")
                .install_recorder()
                .expect("the Prometheus recorder is installed once, here");
            metrics::describe_counter!(
                "p360_http_requests_total",
                "HTTP requests answered, by route, method and status"
            );
            metrics::describe_histogram!(
                "p360_http_request_duration_seconds",
                "HTTP request latency, by route and method"
            );
            metrics::describe_gauge!(
                "p360_http_requests_in_flight",
                "HTTP requests being served, by route"
            );
            metrics::describe_gauge!(
                "p360_db_pool_connections",
                "Database pool connections, by state"
            );
            metrics::describe_gauge!("p360_db_pool_max_connections", "Database pool size limit");
            metrics::describe_gauge!(
                "p360_build_info",
                "Version and commit of the running binary"
            );
            metrics::gauge!(
                "p360_build_info",
                "version" => build.version,
                "git_sha" => build.git_sha
            )
            .set(1.0);
            metrics::describe_gauge!(
                "p360_db_up",
                "1 when the last database check of a scrape succeeded, else 0"
            );
            if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
                metrics::gauge!("process_start_time_seconds").set(since.as_secs_f64());
            }
            handle
        })
        .clone()
}

/// The process's CPU time and resident memory (Linux `/proc`), under the
/// standard Prometheus names, refreshed on each scrape.
pub fn record_process_metrics() {
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        // Fields after the command name, which is in parentheses.
        && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
    {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line (12 and 13 here).
        if let (Some(u), Some(s)) = (
            fields.get(11).and_then(|v| v.parse::<f64>().ok()),
            fields.get(12).and_then(|v| v.parse::<f64>().ok()),
        ) && ticks > 0
        {
            metrics::gauge!("process_cpu_seconds_total").set((u + s) / ticks as f64);
        }
    }
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
        && let Some(rss) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<f64>().ok())
        && page > 0
    {
        metrics::gauge!("process_resident_memory_bytes").set(rss * page as f64);
    }
}
