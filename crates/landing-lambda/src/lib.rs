//! The landing Lambda: S3 sends an event when a file lands in the uploads or
//! partner-files bucket; this turns each created object into one message on
//! the ingest queue, for the workers that read the file.
//!
//! A message is `{"event": "file.landed", "bucket", "key", "size", "etag",
//! "sequencer", "event_time", "source"}`, the key decoded from S3's URL form.
//! `source` is the partner for `partner-files/<partner>/...` keys, `upload`
//! for `uploads/...`, else `other`. S3 may deliver an event twice and Lambda
//! retries a failed batch: consumers treat (bucket, key, sequencer) as the
//! identity of a landing.

pub use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::s3::S3EventRecord;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde_json::{Value, json};

/// One created object.
#[derive(Debug, Clone, PartialEq)]
pub struct Landed {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    pub event_time: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("SQS refused the batch: {0}")]
    Send(String),
    #[error("SQS did not take {failed} of {total} messages: {detail}")]
    Partial {
        failed: usize,
        total: usize,
        detail: String,
    },
}

/// The objects an event says were created (removals and folder markers are
/// skipped; a record without bucket or key is skipped with a warning).
pub fn landed_files(event: &S3Event) -> Vec<Landed> {
    event.records.iter().filter_map(landed).collect()
}

fn landed(r: &S3EventRecord) -> Option<Landed> {
    let name = r.event_name.as_deref().unwrap_or_default();
    if !name.starts_with("ObjectCreated:") {
        return None;
    }
    let (Some(bucket), Some(raw_key)) = (r.s3.bucket.name.as_deref(), r.s3.object.key.as_deref())
    else {
        tracing::warn!(event = name, "an S3 record without bucket or key; skipped");
        return None;
    };
    let key = decode_key(raw_key);
    if key.ends_with('/') {
        return None;
    }
    Some(Landed {
        bucket: bucket.to_owned(),
        source: source_of(&key).to_owned(),
        key,
        size: r.s3.object.size.unwrap_or(0),
        etag: r.s3.object.e_tag.clone(),
        sequencer: r.s3.object.sequencer.clone(),
        event_time: r.event_time.to_rfc3339(),
    })
}

/// S3 event keys are URL-encoded, with `+` for spaces.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where a file comes from, by its key.
pub fn source_of(key: &str) -> &str {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("partner-files"), Some(partner), Some(_)) if !partner.is_empty() => partner,
        (Some("uploads"), Some(_), _) => "upload",
        _ => "other",
    }
}

/// The queue message for a landed file.
pub fn message(l: &Landed) -> Value {
    json!({
        "event": "file.landed",
        "bucket": l.bucket,
        "key": l.key,
        "size": l.size,
        "etag": l.etag,
        "sequencer": l.sequencer,
        "event_time": l.event_time,
        "source": l.source,
    })
}

/// Send one message per landed file, ten per call; any message SQS does not
/// take fails the invocation, so that Lambda retries the event.
pub async fn forward(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    event: &S3Event,
) -> Result<usize, ForwardError> {
    let files = landed_files(event);
    for chunk in files.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(message(l).to_string())
                    .build()
                    .map_err(|e| ForwardError::Send(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                ForwardError::Send(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        if !out.failed.is_empty() {
            return Err(ForwardError::Partial {
                failed: out.failed.len(),
                total: chunk.len(),
                detail: out
                    .failed
                    .iter()
                    .map(|f| format!("{}: {}", f.code, f.message.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        for l in chunk {
            tracing::info!(bucket = %l.bucket, key = %l.key, size = l.size, source = %l.source, "file landed");
        }
    }
    Ok(files.len())
}
