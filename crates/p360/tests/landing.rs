//! Files that land in the object store, as in AWS: an object put in the
//! landing bucket, S3's event through the landing Lambda's code onto the
//! ingest queue, the SQS worker turning it into the job of the capability
//! that takes its key prefix, and that job ingesting the file. Run against
//! moto_server (S3 and SQS).
//!
//! The same announcement twice queues one job; a corrected file put again
//! replaces its week; a broken file is a dead job saying where it broke
//! while the week stays; a file under a prefix nobody takes is
//! dead-lettered for an operator.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use platform::jobs::{Backend, WorkerConfig};
use platform::shutdown::Shutdown;
use secrecy::SecretString;
use serde_json::{Value, json};

const BUCKET: &str = "p360-test-uploads";
const FILES: &str = "p360-test-files";
const PREFIX: &str = "p360-land-";
const WEEK_KEY: &str = "partner-files/bombora/2026-11-30/surge_20261130.csv.gz";

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

fn surge(firewalls: u8) -> Vec<u8> {
    let mut f = HEADER.to_string();
    for (name, domain, topic, score) in [
        ("Acme GmbH", "acme.example", "Firewalls", firewalls),
        ("Acme GmbH", "acme.example", "Kubernetes", 55),
        ("Globex GmbH", "globex.example", "Firewalls", 64),
    ] {
        f.push_str(&format!(
            "{name},{domain},Small (10 - 49 Employees),Software,Security,{topic},{score},B,,,,Germany\n"
        ));
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(f.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// S3's event for objects created in the landing bucket, as the Lambda
/// receives it.
fn s3_event(objects: &[(&str, usize, &str)]) -> landing_lambda::S3Event {
    let records: Vec<Value> = objects
        .iter()
        .map(|(key, size, sequencer)| {
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-30T06:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLEPARTNER"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "x"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "file-landed",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                        "arn": format!("arn:aws:s3:::{BUCKET}")
                    },
                    // S3 sends keys URL-encoded.
                    "object": {"key": key.replace(' ', "+"), "size": size, "sequencer": sequencer}
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

struct Landing {
    moto: Moto,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    dlq: String,
    p: Platform,
}

impl Landing {
    /// Put an object in the landing bucket, as a partner would (signed).
    async fn put(&self, key: &str, body: Vec<u8>) {
        use object_store::ObjectStoreExt;
        let (_, landing) = platform::storage::Storage::landing(&self.p.config.platform)
            .unwrap()
            .unwrap();
        landing
            .store
            .put(&object_store::path::Path::from(key), body.into())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }

    /// What the Lambda does with S3's event.
    async fn announce(&self, objects: &[(&str, usize, &str)]) {
        let sent = landing_lambda::forward(&self.sqs, &self.queue, &s3_event(objects))
            .await
            .unwrap();
        assert_eq!(sent, objects.len());
    }

    async fn weeks(&self) -> Value {
        let (s, body) = self.p.get("/v1/intent/weeks", &self.p.admin()).await;
        assert_eq!(s, 200, "{body}");
        body
    }

    async fn jobs(&self) -> Vec<(String, String, Option<String>)> {
        sqlx::query!(
            "SELECT kind, status, last_error FROM jobs \
             WHERE kind = 'intent.ingest_object' ORDER BY created_at"
        )
        .fetch_all(&self.p.db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.status, r.last_error))
        .collect()
    }

    async fn until<T>(&self, what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn start() -> (
    Landing,
    Shutdown,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let moto = Moto::start().await;
    for bucket in [BUCKET, FILES] {
        let res = reqwest::Client::new()
            .put(format!("{}/{bucket}", moto.endpoint))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
    let sqs_cfg = moto
        .sqs(PREFIX, &["default", "events", "activation", "ingest"])
        .await;
    let sqs = platform::jobs::sqs::client(&sqs_cfg).await;
    let url = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let queue = url(format!("{PREFIX}ingest")).await;
    let dlq = url(format!("{PREFIX}ingest-dlq")).await;
    let endpoint = moto.endpoint.clone();
    let p = Platform::start_with(move |c| {
        let s = &mut c.platform.storage;
        s.s3_bucket = Some(FILES.into());
        s.landing_bucket = Some(BUCKET.into());
        s.s3_endpoint = Some(endpoint);
        s.s3_region = Some("us-east-1".into());
        s.s3_access_key_id = Some("testing".into());
        s.s3_secret_access_key = Some(SecretString::from("testing"));
        // Weeks arrive only by landing here.
        c.bombora.weeks_back = 0;
    })
    .await;
    p.sample_universe().await;
    let mut config = p.config.clone();
    config.platform.http.listen = p.app.addr;
    let registry = p360::job_registry(&config).unwrap();
    let pool = platform::db::connect_app(
        &p.db.url,
        &platform::db::worker_pool_config(&config.platform),
    )
    .unwrap();
    let shutdown = Shutdown::manual();
    let worker = tokio::spawn(platform::jobs::run_worker(
        pool,
        registry,
        WorkerConfig {
            concurrency: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            drain: Duration::from_secs(2),
            backend: Backend::Sqs(sqs_cfg),
        },
        shutdown.clone(),
    ));
    (
        Landing {
            moto,
            sqs,
            queue,
            dlq,
            p,
        },
        shutdown,
        worker,
    )
}

#[tokio::test]
async fn surge_files_landing_in_s3_are_ingested_once_each() {
    let (l, shutdown, worker) = start().await;

    // A week lands, and S3 announces it twice (it may).
    let first = surge(72);
    l.put(WEEK_KEY, first.clone()).await;
    l.announce(&[(WEEK_KEY, first.len(), "0055AED6DCD90281E5")])
        .await;
    l.announce(&[(WEEK_KEY, first.len(), "0055AED6DCD90281E5")])
        .await;
    let week = l
        .until("the landed week", async || {
            let w = l.weeks().await;
            (w["items"].as_array()?.len() == 1).then_some(w)
        })
        .await;
    let w = &week["items"][0];
    assert_eq!(w["week"], "2026-11-30", "{week}");
    assert_eq!(w["source"], "object_store", "{week}");
    assert_eq!(w["companies"], 2, "{week}");
    // Let the duplicate announcement be handled too.
    l.until("both announcements handled", async || {
        let left = l
            .sqs
            .get_queue_attributes()
            .queue_url(&l.queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .ok()?
            .attributes?;
        let n = |k: aws_sdk_sqs::types::QueueAttributeName| {
            left.get(&k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
        };
        (n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == 0
            && n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                == 0)
            .then_some(())
    })
    .await;
    let jobs = l.jobs().await;
    assert_eq!(jobs.len(), 1, "one job for one landing: {jobs:?}");
    assert_eq!(jobs[0].1, "succeeded", "{jobs:?}");
    let landings = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM file_landings"#)
        .fetch_one(&l.p.db.pool)
        .await
        .unwrap();
    assert_eq!(landings, 1);
    // The raw file is archived in the platform's bucket, not only landed.
    let raw = format!("intent/surge/raw/{}", w["checksum"].as_str().unwrap());
    let archived = reqwest::get(format!("{}/{FILES}/{raw}", l.moto.endpoint))
        .await
        .unwrap();
    assert!(archived.status().is_success(), "{raw}");
    assert_eq!(archived.bytes().await.unwrap().as_ref(), first.as_slice());

    // The partner corrects the file: the same key written again (S3's
    // sequencer grows) replaces the week.
    let corrected = surge(91);
    l.put(WEEK_KEY, corrected.clone()).await;
    l.announce(&[(WEEK_KEY, corrected.len(), "0055AED6DCD90281F0")])
        .await;
    let surging = json!([{"topic": "Firewalls", "category": "Security", "score": 91}]);
    l.until("the corrected week", async || {
        let (s, body) =
            l.p.get("/v1/companies/acme.example/intent", &l.p.admin())
                .await;
        (s == 200 && body["surging"] == surging).then_some(())
    })
    .await;
    let weeks = l.weeks().await;
    assert_eq!(weeks["items"].as_array().unwrap().len(), 1, "{weeks}");
    assert_ne!(weeks["items"][0]["checksum"], w["checksum"], "{weeks}");

    // A truncated file for another week: its job is dead with where the
    // file broke, and the weeks stay as they were.
    let broken_key = "partner-files/bombora/surge 2026-12-07.csv.gz";
    let mut broken = surge(80);
    broken.truncate(broken.len() - 12);
    l.put(broken_key, broken.clone()).await;
    // A file under a prefix no capability takes goes to the dead-letter queue.
    let stray = "partner-files/unknown-partner/report.csv";
    l.put(stray, b"a,b\n".to_vec()).await;
    l.announce(&[
        (broken_key, broken.len(), "0055AED6DCD90281F1"),
        (stray, 4, "0055AED6DCD90281F2"),
    ])
    .await;
    let dead = l
        .until("the broken file's dead job", async || {
            l.jobs()
                .await
                .into_iter()
                .find(|j| j.1 == "dead")
                .and_then(|j| j.2)
        })
        .await;
    assert!(dead.contains(broken_key), "{dead}");
    assert!(
        dead.contains("line") || dead.contains("byte"),
        "says where it broke: {dead}"
    );
    let weeks = l.weeks().await;
    assert_eq!(weeks["items"].as_array().unwrap().len(), 1, "{weeks}");
    assert_eq!(weeks["items"][0]["week"], "2026-11-30");
    let dead_letter = l
        .until("the stray file in the dead-letter queue", async || {
            let got = l
                .sqs
                .receive_message()
                .queue_url(&l.dlq)
                .message_attribute_names("All")
                .max_number_of_messages(10)
                .send()
                .await
                .ok()?;
            got.messages?.into_iter().find(|m| {
                m.body
                    .as_deref()
                    .is_some_and(|b| b.contains("unknown-partner"))
            })
        })
        .await;
    let reason = dead_letter
        .message_attributes
        .as_ref()
        .and_then(|a| a.get("error"))
        .and_then(|v| v.string_value.clone())
        .unwrap_or_default();
    assert!(
        reason.contains("no capability takes files under"),
        "{reason}"
    );

    shutdown.trigger();
    worker.await.unwrap().unwrap();
}

/// REDS impression files landing under `delivery.landing_prefix` are
/// rolled up once each (announced twice, one file); a broken one is
/// quarantined with the reason and nothing of it counts.
#[tokio::test]
async fn reds_files_landing_in_s3_are_rolled_up_once_and_a_broken_one_quarantined() {
    let (l, shutdown, worker) = start().await;
    let hour = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(13, 0, 0)
        .unwrap();
    let plan = delivery::generate::Plan {
        impressions: 3_000,
        companies: 20,
        campaigns: 2,
        audience: 5,
        seed: 9,
        ..delivery::generate::Plan::at(hour)
    };
    let (mut rows, mut clicks) = (Vec::new(), Vec::new());
    let written = delivery::generate::reds(&plan, &mut rows, &mut clicks).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&rows).unwrap();
    let file = gz.finish().unwrap();
    let key = "partner-files/ttd/reds/impressions/2026-11-30/13/impressions.log.gz";
    l.put(key, file.clone()).await;
    l.announce(&[(key, file.len(), "0055AED6DCD90282A0")]).await;
    l.announce(&[(key, file.len(), "0055AED6DCD90282A0")]).await;
    let files = async || -> Vec<(String, String, Option<String>)> {
        sqlx::query!("SELECT source_key, status, reason FROM delivery_files ORDER BY source_key")
            .fetch_all(&l.p.db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.source_key, r.status, r.reason))
            .collect()
    };
    let impressions = async || -> i64 {
        sqlx::query_scalar!(
            r#"SELECT coalesce(sum(impressions), 0)::int8 AS "n!" FROM delivery_daily"#
        )
        .fetch_one(&l.p.db.pool)
        .await
        .unwrap()
    };
    l.until("the landed REDS file", async || {
        (!files().await.is_empty()).then_some(())
    })
    .await;
    let total = impressions().await;
    assert_eq!(total as u64, written.impressions);

    let broken_key = "partner-files/ttd/reds/impressions/2026-11-30/14/impressions.log.gz";
    let broken = file[..file.len() / 2].to_vec();
    l.put(broken_key, broken.clone()).await;
    l.announce(&[(broken_key, broken.len(), "0055AED6DCD90282A1")])
        .await;
    let seen = l
        .until("the broken file recorded", async || {
            let f = files().await;
            (f.len() == 2).then_some(f)
        })
        .await;
    assert_eq!(seen[0].0, format!("s3://{BUCKET}/{key}"));
    assert_eq!((seen[0].1.as_str(), &seen[0].2), ("applied", &None));
    assert_eq!(seen[1].1, "quarantined");
    assert!(
        seen[1]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("cut short"),
        "{seen:?}"
    );
    assert_eq!(
        impressions().await,
        total,
        "nothing of the broken file counts"
    );
    // A quarantined file is recorded, not a failed job (retrying would
    // read the same bytes). The second announcement of the first file may
    // still be running (it finds the file applied and stops): wait for
    // every job to settle before judging them.
    let jobs = l
        .until("the ingest jobs to settle", async || {
            let jobs =
                sqlx::query!("SELECT status, last_error FROM jobs WHERE kind = 'delivery.ingest'")
                    .fetch_all(&l.p.db.pool)
                    .await
                    .unwrap();
            jobs.iter()
                .all(|j| j.status != "running" && j.status != "queued")
                .then_some(jobs)
        })
        .await;
    assert!(
        jobs.len() >= 2 && jobs.iter().all(|j| j.status == "succeeded"),
        "{:?}",
        jobs.iter()
            .map(|j| (&j.status, &j.last_error))
            .collect::<Vec<_>>()
    );

    shutdown.trigger();
    worker.await.unwrap().unwrap();
}
