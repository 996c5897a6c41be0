//! The JSON log line, as `tracing-subscriber`'s JSON format writes it with
//! `flatten_event(true)`, `with_current_span(true)`, `with_span_list(false)`:
//!
//! ```json
//! {"timestamp":"2026-12-03T08:43:50.388628Z","level":"INFO","message":"request",
//!  "method":"GET",...,"target":"p360::http","span":{"request_id":"...","name":"request"}}
//! ```
//!
//! written straight into the line instead of through serde: that format
//! stores a span's fields as a JSON object and parses it back into a map for
//! every line logged inside the span, and takes two allocations per field of
//! a span. Here a span's fields are kept as the members' text
//! (`"request_id":"..."`) and copied into each line. Values are written as
//! `tracing-serde` writes them: strings, `Debug` and `Display` values as
//! JSON strings, integers and booleans as such, floats as numbers (`null`
//! when not finite). Span fields keep the order they were recorded in.
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
fn in_scratch(mut out: Writer<'_>, write: impl FnOnce(&mut String) -> fmt::Result) -> fmt::Result {
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
