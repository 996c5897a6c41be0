//! The handler on sample S3 events (the shape S3 sends), and the forwarding
//! against a real SQS interface (moto_server from PyPI, started here).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_lambda_events::event::s3::S3Event;
use landing_lambda::{Landed, decode_key, forward, landed_files, message, source_of};
use serde_json::{Value, json};

/// Free ports below the kernel's ephemeral range, reserved across test
/// processes: the same picker as the platform's tests.
#[path = "../../p360/tests/common/ports.rs"]
mod ports;
use ports::free_port;

fn sample() -> S3Event {
    serde_json::from_str(include_str!("events/partner_file.json")).expect("a valid S3 event")
}

#[test]
fn created_objects_become_landings_and_the_rest_is_skipped() {
    let files = landed_files(&sample());
    assert_eq!(
        files,
        vec![Landed {
            bucket: "p360-production-partner-files".into(),
            key: "partner-files/bombora/2026-11-27/surge report(1).csv".into(),
            size: 1_048_576,
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            sequencer: Some("0055AED6DCD90281E5".into()),
            event_time: "2026-11-27T03:00:00+00:00".into(),
            source: "bombora".into(),
        }],
        "the removal and the folder marker are not landings"
    );
    let m = message(&files[0]);
    assert_eq!(m["event"], "file.landed");
    assert_eq!(
        m["key"],
        "partner-files/bombora/2026-11-27/surge report(1).csv"
    );
    assert_eq!(m["source"], "bombora");
    assert_eq!(m["size"], 1_048_576);
}

#[test]
fn keys_are_decoded_and_sources_named() {
    assert_eq!(decode_key("a+b%2Bc%20d%C3%A9.csv"), "a b+c dé.csv");
    assert_eq!(source_of("partner-files/bombora/x.csv"), "bombora");
    assert_eq!(
        source_of("partner-files/salesforce/2026/x.csv"),
        "salesforce"
    );
    assert_eq!(source_of("uploads/acme/accounts.csv"), "upload");
    assert_eq!(source_of("partner-files/x.csv"), "other");
    assert_eq!(source_of("exports/x.csv"), "other");
}

#[test]
fn an_event_without_records_lands_nothing() {
    let empty: S3Event = serde_json::from_value(json!({"Records": []})).unwrap();
    assert!(landed_files(&empty).is_empty());
}

/// An event with `n` created objects.
fn many(n: usize) -> S3Event {
    let mut event: Value = serde_json::from_str(include_str!("events/partner_file.json")).unwrap();
    let record = event["Records"][0].clone();
    event["Records"] = (0..n)
        .map(|i| {
            let mut r = record.clone();
            r["s3"]["object"]["key"] = json!(format!("uploads/acme/file{i:02}.csv"));
            r
        })
        .collect();
    serde_json::from_value(event).unwrap()
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn landings_reach_the_queue_ten_per_call() {
    let _ = rustls_provider();
    let port = free_port();
    let _moto = Moto(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (PyPI moto[server])"),
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_sqs::Client::new(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    let queue = loop {
        match client
            .create_queue()
            .queue_name("p360-test-ingest")
            .send()
            .await
        {
            Ok(out) => break out.queue_url.unwrap(),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("moto_server did not start: {e:?}"),
        }
    };

    assert_eq!(forward(&client, &queue, &many(23)).await.unwrap(), 23);
    let mut keys = Vec::new();
    while keys.len() < 23 {
        let got = client
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert!(!got.is_empty(), "only {} of 23 arrived", keys.len());
        for m in got {
            let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            assert_eq!(body["source"], "upload");
            keys.push(body["key"].as_str().unwrap().to_string());
        }
    }
    keys.sort();
    assert_eq!(keys[0], "uploads/acme/file00.csv");
    assert_eq!(keys[22], "uploads/acme/file22.csv");

    // A queue that does not exist fails the invocation (Lambda retries it).
    let missing = queue.replace("p360-test-ingest", "nope");
    assert!(forward(&client, &missing, &many(1)).await.is_err());
}

fn rustls_provider() -> Result<(), std::sync::Arc<rustls::crypto::CryptoProvider>> {
    rustls::crypto::aws_lc_rs::default_provider().install_default()
}
