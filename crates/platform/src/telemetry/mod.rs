//! Logs and metrics, set up in one place.
//!
//! Logs: JSON lines (or human-readable with `log.format = "pretty"`), on stdout
//! for long-running commands and stderr for one-shot commands whose stdout is
//! their result. Metrics: one process-wide Prometheus recorder rendered at `/metrics`.
//!
//! Long-running commands hand their lines to a writer thread, so that a
//! request never waits for a `write` to stdout, nor for another request's:
//! with the lines written where they are logged, every request paid a system
//! call and queued on stdout's lock. A line is copied into a buffer under a
//! lock held for that copy only ([`LogQueue`]); the thread, woken when the
//! buffer stops being empty, gives lines [`LOG_LINGER`] to gather, takes the
//! whole buffer and writes it in one system call. If stdout is not read as
//! fast as lines come ([`LOG_QUEUE_BYTES`] waiting), new lines are dropped
//! rather than stalling requests: counted in `p360_log_lines_dropped_total`,
//! warned about in the log once there is room again, and their total printed
//! to stderr at exit. [`LogGuard`] writes out what waits when the process
//! exits.
//!
//! `tracing-appender`'s non-blocking writer does the same job with a channel
//! of lines; in the same benchmark run (`scripts/bench-foundation`'s
//! `GET /health/live`) it cost about 10 % more CPU per request than this
//! buffer: a `Vec` allocated per line and freed by the writer thread (glibc's
//! arena locks then contended with the request threads), a channel sender
//! cloned per line, and the thread woken for most lines.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, mpsc};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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

/// Bytes of lines that may wait for the writer thread before new lines are
/// dropped: tens of thousands of access log lines, a few seconds of a very
/// busy server. Memory is taken only as lines wait.
pub const LOG_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Buffer capacity the writer thread keeps after writing out a backlog.
const LOG_KEEP_CAPACITY: usize = 256 * 1024;

/// How long the writer thread, once woken by a line, waits for more lines to
/// write out with it: under load, lines then go out in batches and requests
/// seldom have to wake the thread. A line is never held back longer.
pub const LOG_LINGER: Duration = Duration::from_millis(1);

/// How long the process waits at exit for the waiting lines to be written.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Lines dropped because too many were waiting (or stdout failed).
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Keeps the stdout log writer running. Hold it until the process exits:
/// dropping it writes out every waiting line (waiting up to
/// [`LOG_FLUSH_TIMEOUT`] for stdout), then stops the writer thread.
#[must_use = "dropping the guard stops the log writer; hold it until the process exits"]
pub struct LogGuard(Option<(Arc<LogQueue>, mpsc::Receiver<()>)>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        let Some((queue, written)) = self.0.take() else {
            return;
        };
        queue.close();
        let _ = written.recv_timeout(LOG_FLUSH_TIMEOUT);
        let dropped = dropped_log_lines();
        if dropped > 0 {
            eprintln!(
                "{dropped} log lines were dropped: stdout was not read as fast as lines were written"
            );
        }
    }
}

/// Install the global tracing subscriber. Safe to call more than once (tests):
/// later calls do nothing. Keep the returned guard for the life of the process.
pub fn init_logging(cfg: &LogConfig, target: LogTarget) -> LogGuard {
    match target {
        LogTarget::Stdout => {
            let queue = Arc::new(LogQueue::default());
            let (done, written) = mpsc::channel();
            let writer = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name("p360-log".into())
                .spawn(move || {
                    writer.write_out(&mut std::io::stdout());
                    let _ = done.send(());
                });
            if let Err(e) = spawned {
                eprintln!("cannot start the log writer thread ({e}): logging to stdout directly");
                install(cfg, std::io::stdout);
                return LogGuard(None);
            }
            // Already installed (several apps in one test process): the
            // first stays, and this writer thread stops with the guard.
            let guard = LogGuard(Some((Arc::clone(&queue), written)));
            if install(cfg, queue) {
                guard
            } else {
                drop(guard);
                LogGuard(None)
            }
        }
        // One-shot commands log little, and only when something is wrong.
        LogTarget::Stderr => {
            install(cfg, std::io::stderr);
            LogGuard(None)
        }
    }
}

/// Install the subscriber writing to `writer`, unless one is installed already.
fn install<W>(cfg: &LogConfig, writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(writer);
    match cfg.format {
        LogFormat::Json => builder
            .fmt_fields(json_lines::SpanFields)
            .event_format(json_lines::JsonLines)
            .try_init()
            .is_ok(),
        LogFormat::Pretty => builder.try_init().is_ok(),
    }
}

/// Log lines waiting for the writer thread.
#[derive(Default)]
pub struct LogQueue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    lines: Vec<u8>,
    closed: bool,
}

impl LogQueue {
    fn state(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue one line (the formatter hands each line over whole), or drop
    /// and count it if too much is waiting.
    fn push(&self, line: &[u8]) {
        let mut state = self.state();
        if state.closed {
            // The process is exiting: nothing to stall any more.
            drop(state);
            let _ = std::io::stdout().write_all(line);
            return;
        }
        if state.lines.len() + line.len() > LOG_QUEUE_BYTES {
            drop(state);
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = state.lines.is_empty();
        state.lines.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
    }

    fn close(&self) {
        self.state().closed = true;
        self.ready.notify_one();
    }

    /// The writer thread: write out what waits, until closed and empty.
    fn write_out(&self, out: &mut impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.state();
            while state.lines.is_empty() && !state.closed {
                state = self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.lines.is_empty() {
                return;
            }
            if !state.closed {
                drop(state);
                std::thread::sleep(LOG_LINGER);
                state = self.state();
            }
            std::mem::swap(&mut state.lines, &mut batch);
            drop(state);
            if out.write_all(&batch).and_then(|()| out.flush()).is_err() {
                let lost = batch.iter().filter(|&&b| b == b'\n').count();
                DROPPED.fetch_add(lost, Ordering::Relaxed);
            }
            batch.clear();
            batch.shrink_to(LOG_KEEP_CAPACITY);
        }
    }
}

/// The formatter's writer (through `Arc<LogQueue>`'s `MakeWriter`): each
/// line is handed over whole.
impl Write for &LogQueue {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines dropped so far because the stdout writer's queue was full.
pub fn dropped_log_lines() -> usize {
    DROPPED.load(Ordering::Relaxed)
}

/// Export the dropped-lines count, and say in the log when it has grown.
fn record_dropped_log_lines() {
    static REPORTED: AtomicUsize = AtomicUsize::new(0);
    let dropped = dropped_log_lines();
    metrics::counter!("p360_log_lines_dropped_total").absolute(dropped as u64);
    let before = REPORTED.swap(dropped, Ordering::Relaxed);
    if dropped > before {
        tracing::warn!(
            dropped = dropped - before,
            total = dropped,
            "log lines dropped: stdout is not read as fast as lines are written"
        );
    }
}

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use. Without an
/// idle timeout: the request middleware keeps its metric handles for the life
/// of the process, so no series may be expired from under them.
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
            metrics::describe_counter!(
                "p360_log_lines_dropped_total",
                "Log lines dropped because stdout was not read fast enough"
            );
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
/// standard Prometheus names, and the log lines dropped, refreshed on each scrape.
pub fn record_process_metrics() {
    record_dropped_log_lines();
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

mod json_lines;

#[cfg(test)]
mod tests;
