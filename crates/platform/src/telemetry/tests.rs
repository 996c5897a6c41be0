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
