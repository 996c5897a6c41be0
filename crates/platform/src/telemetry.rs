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

/// The JSON log line, as `tracing-subscriber`'s JSON format writes it with
/// `flatten_event(true)`, `with_current_span(true)`, `with_span_list(false)`:
///
/// ```json
/// {"timestamp":"2026-12-03T08:43:50.388628Z","level":"INFO","message":"request",
///  "method":"GET",...,"target":"p360::http","span":{"request_id":"...","name":"request"}}
/// ```
///
/// written straight into the line instead of through serde: that format
/// stores a span's fields as a JSON object and parses it back into a map for
/// every line logged inside the span, and takes two allocations per field of
/// a span. Here a span's fields are kept as the members' text
/// (`"request_id":"..."`) and copied into each line. Values are written as
/// `tracing-serde` writes them: strings, `Debug` and `Display` values as
/// JSON strings, integers and booleans as such, floats as numbers (`null`
/// when not finite). Span fields keep the order they were recorded in.
mod json_lines {
    use std::cell::RefCell;
    use std::fmt::{self, Write as _};

    use tracing::field::{Field, Visit};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::field::RecordFields;
    use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
    use tracing_subscriber::fmt::{FmtContext, FormattedFields};
    use tracing_subscriber::registry::LookupSpan;

    /// Formats events as JSON lines.
    pub struct JsonLines;

    /// Formats span fields as JSON object members, for [`JsonLines`].
    pub struct SpanFields;

    impl<S> FormatEvent<S, SpanFields> for JsonLines
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn format_event(
            &self,
            ctx: &FmtContext<'_, S, SpanFields>,
            writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            in_scratch(writer, |line| {
                let meta = event.metadata();
                line.push_str("{\"timestamp\":\"");
                write_timestamp(line, std::time::SystemTime::now())?;
                line.push_str("\",\"level\":\"");
                line.push_str(meta.level().as_str());
                line.push('"');
                let mut members = Members {
                    out: line,
                    first: false,
                    result: Ok(()),
                    strip_raw: false,
                };
                event.record(&mut members);
                members.result?;
                line.push_str(",\"target\":");
                write_str(line, meta.target())?;
                let span = event
                    .parent()
                    .and_then(|id| ctx.span(id))
                    .or_else(|| ctx.lookup_current());
                if let Some(span) = span {
                    line.push_str(",\"span\":{");
                    let extensions = span.extensions();
                    let fields = extensions
                        .get::<FormattedFields<SpanFields>>()
                        .map_or("", |f| f.fields.as_str());
                    line.push_str(fields);
                    if !fields.is_empty() {
                        line.push(',');
                    }
                    line.push_str("\"name\":");
                    write_str(line, span.metadata().name())?;
                    line.push('}');
                }
                line.push_str("}\n");
                Ok(())
            })
        }
    }

    impl<'w> FormatFields<'w> for SpanFields {
        fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
            in_scratch(writer, |members| {
                let mut members = Members {
                    out: members,
                    first: true,
                    result: Ok(()),
                    strip_raw: true,
                };
                fields.record(&mut members);
                members.result
            })
        }

        fn add_fields(
            &self,
            current: &'w mut FormattedFields<Self>,
            fields: &tracing::span::Record<'_>,
        ) -> fmt::Result {
            let first = current.fields.is_empty();
            let mut members = Members {
                out: &mut current.fields,
                first,
                result: Ok(()),
                strip_raw: true,
            };
            fields.record(&mut members);
            members.result
        }
    }

    /// Put text together in a buffer of the thread's, then hand it to `out`
    /// in one write: no dynamic call per piece, and a span's fields stored in
    /// one allocation of their size.
    fn in_scratch(
        mut out: Writer<'_>,
        write: impl FnOnce(&mut String) -> fmt::Result,
    ) -> fmt::Result {
        thread_local! {
            static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(1024));
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                let written = write(&mut buf).and_then(|()| out.write_str(&buf));
                if buf.capacity() > 64 * 1024 {
                    *buf = String::with_capacity(1024);
                }
                written
            }
            // A value being formatted logged something: a buffer of its own.
            Err(_) => {
                let mut buf = String::new();
                write(&mut buf)?;
                out.write_str(&buf)
            }
        })
    }

    /// Writes each field as `,"name":value` (no comma before the first one
    /// when `first`).
    struct Members<'a, W: fmt::Write> {
        out: &'a mut W,
        first: bool,
        result: fmt::Result,
        /// Span fields drop the `r#` of raw identifiers, as `tracing-subscriber` does.
        strip_raw: bool,
    }

    impl<W: fmt::Write> Members<'_, W> {
        fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
            if self.result.is_err() {
                return;
            }
            let name = field.name();
            let name = match name.strip_prefix("r#") {
                Some(stripped) if self.strip_raw => stripped,
                _ => name,
            };
            let comma = !std::mem::replace(&mut self.first, false);
            self.result = (|| {
                if comma {
                    self.out.write_char(',')?;
                }
                if needs_escape(name) {
                    write_str(self.out, name)?;
                    self.out.write_char(':')?;
                } else {
                    // Field names are identifiers: nothing to escape.
                    self.out.write_char('"')?;
                    self.out.write_str(name)?;
                    self.out.write_str("\":")?;
                }
                value(self.out)
            })();
        }
    }

    impl<W: fmt::Write> Visit for Members<'_, W> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.member(field, |out| write_str(out, value));
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.member(field, |out| {
                out.write_char('"')?;
                write!(Escaped(out), "{value:?}")?;
                out.write_char('"')
            });
        }

        fn record_bool(&mut self, field: &Field, value: bool) {
            self.member(field, |out| {
                out.write_str(if value { "true" } else { "false" })
            });
        }

        fn record_i64(&mut self, field: &Field, value: i64) {
            self.member(field, |out| write!(out, "{value}"));
        }

        fn record_u64(&mut self, field: &Field, value: u64) {
            self.member(field, |out| write!(out, "{value}"));
        }

        fn record_f64(&mut self, field: &Field, value: f64) {
            // serde_json's number formatting, and `null` when not finite.
            self.member(field, |out| {
                write!(out, "{}", serde_json::Value::from(value))
            });
        }
    }

    fn needs_escape(s: &str) -> bool {
        s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
    }

    /// A JSON string, escaped as serde_json escapes it.
    fn write_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
        out.write_char('"')?;
        Escaped(out).write_str(s)?;
        out.write_char('"')
    }

    /// Escapes what is written through it for the inside of a JSON string.
    struct Escaped<'a, W: fmt::Write>(&'a mut W);

    impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let bytes = s.as_bytes();
            let mut start = 0;
            for (i, &b) in bytes.iter().enumerate() {
                let escape = match b {
                    b'"' => "\\\"",
                    b'\\' => "\\\\",
                    b'\n' => "\\n",
                    b'\r' => "\\r",
                    b'\t' => "\\t",
                    0x08 => "\\b",
                    0x0c => "\\f",
                    0..=0x1f => "",
                    _ => continue,
                };
                self.0.write_str(&s[start..i])?;
                if escape.is_empty() {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.0.write_str("\\u00")?;
                    self.0.write_char(HEX[usize::from(b >> 4)] as char)?;
                    self.0.write_char(HEX[usize::from(b & 0xf)] as char)?;
                } else {
                    self.0.write_str(escape)?;
                }
                start = i + 1;
            }
            self.0.write_str(&s[start..])
        }
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-12-03T08:43:50.388628Z`.
    pub(super) fn write_timestamp(
        out: &mut impl fmt::Write,
        now: std::time::SystemTime,
    ) -> fmt::Result {
        let since = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since.as_secs();
        let (days, of_day) = ((secs / 86_400) as i64, secs % 86_400);
        // Days to a civil date (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year.clamp(0, 9999) as u64);
        put(5, 2, month as u64);
        put(8, 2, day as u64);
        put(11, 2, of_day / 3600);
        put(14, 2, of_day / 60 % 60);
        put(17, 2, of_day % 60);
        put(20, 6, u64::from(since.subsec_micros()));
        out.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::Value;
    use tracing_subscriber::fmt::MakeWriter;

    use super::{LOG_QUEUE_BYTES, LogQueue, dropped_log_lines, json_lines};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    impl Lines {
        fn values(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }
    }

    /// Events of every kind of field, in and out of spans.
    fn log_some_events() {
        #[derive(Debug)]
        struct Thing {
            _name: &'static str,
        }
        let error = io::Error::other("disk \"full\"");
        tracing::info!("outside any span");
        let outer = tracing::info_span!("outer", tenant = "acme", n = 3_u64);
        let _outer = outer.enter();
        let request = tracing::info_span!(
            "request",
            request_id = "0193-abc",
            later = tracing::field::Empty
        );
        request.record("later", 42_i64);
        request.in_scope(|| {
            tracing::info!(
                target: "p360::http",
                method = "GET",
                route = %"/health/live",
                path = "/health/\"live\"\n\t\u{1}é",
                status = 200_u16,
                latency_ms = 0.125_f64,
                ok = true,
                negative = -7_i64,
                big = 1_u128 << 100,
                nan = f64::NAN,
                thing = ?Thing { _name: "x" },
                error = &error as &dyn std::error::Error,
                "request"
            );
            tracing::warn!(r#type = "raw", "with a \"quoted\" message: {}", 5);
        });
        tracing::error!(parent: &request, "explicit parent");
        tracing::info!("in outer only");
    }

    fn without_timestamp(mut v: Value) -> Value {
        let ts = v.as_object_mut().unwrap().remove("timestamp").unwrap();
        assert!(ts.as_str().unwrap().ends_with('Z'), "{ts}");
        v
    }

    #[test]
    fn json_lines_match_tracing_subscribers_json_format() {
        let theirs = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(theirs.clone())
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log_some_events);

        let ours = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(ours.clone())
            .fmt_fields(json_lines::SpanFields)
            .event_format(json_lines::JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, log_some_events);

        let (theirs, ours) = (theirs.values(), ours.values());
        assert_eq!(ours.len(), 5);
        assert_eq!(theirs.len(), ours.len());
        for (t, o) in theirs.into_iter().zip(ours) {
            assert_eq!(without_timestamp(o), without_timestamp(t));
        }
    }

    #[test]
    fn the_log_queue_writes_every_line_in_order_and_counts_what_it_drops() {
        use std::io::Write as _;

        let queue = Arc::new(LogQueue::default());
        let writer = Arc::clone(&queue);
        let out = std::thread::spawn(move || {
            let mut out = Vec::new();
            writer.write_out(&mut out);
            out
        });
        for i in 0..1000 {
            (&*queue)
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        queue.close();
        let out = String::from_utf8(out.join().unwrap()).unwrap();
        let expected: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        assert_eq!(out.lines().collect::<Vec<_>>(), expected);

        // Nobody writes this one out: past LOG_QUEUE_BYTES, lines are dropped.
        let stuck = LogQueue::default();
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        let before = dropped_log_lines();
        for _ in 0..LOG_QUEUE_BYTES / line.len() + 10 {
            stuck.push(&line);
        }
        assert_eq!(dropped_log_lines() - before, 10);
        assert_eq!(stuck.state().lines.len(), LOG_QUEUE_BYTES);
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = |secs, micros| {
            let mut s = String::new();
            json_lines::write_timestamp(
                &mut s,
                UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros),
            )
            .unwrap();
            s
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(1_796_287_430, 388_628), "2026-12-03T08:43:50.388628Z");
        assert_eq!(at(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(at(951_868_800, 1), "2000-03-01T00:00:00.000001Z");
        assert_eq!(at(946_684_799, 500_000), "1999-12-31T23:59:59.500000Z");
    }
}
