//! The job runtime, on both backends (PostgreSQL, and SQS via moto_server):
//! outbox semantics, retries with backoff, dead letters, deduplication, lease
//! expiry after a crash, NOTIFY wake-up and graceful release on shutdown.
//! Every case runs once per backend (`<case>::postgres`, `<case>::sqs`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use platform::jobs::{self, Backend, Job, JobContext, Registry, WorkerConfig};
use platform::shutdown::Shutdown;
use serde::{Deserialize, Serialize};

/// Records its effect; fails its first `fail_first` attempts.
#[derive(Serialize, Deserialize)]
struct Effect {
    tag: String,
    fail_first: i64,
    sleep_ms: u64,
}

impl Job for Effect {
    const KIND: &'static str = "test.effect";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = ();

    fn dedup_key(&self) -> Option<String> {
        Some(self.tag.clone())
    }

    fn backoff(_attempt: i64) -> Duration {
        Duration::from_millis(20)
    }

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        if ctx.attempt <= self.fail_first {
            anyhow::bail!("failing attempt {} on purpose", ctx.attempt);
        }
        sqlx::query("INSERT INTO job_effects (tag, attempt) VALUES ($1, $2)")
            .bind(&self.tag)
            .bind(ctx.attempt)
            .execute(&ctx.pool)
            .await?;
        Ok(())
    }
}

/// A database with the effects table, and the backend under test.
struct Harness {
    db: TestDb,
    backend: Backend,
    sqs: Option<(Moto, aws_sdk_sqs::Client, String)>,
}

async fn harness(sqs: bool) -> Harness {
    let db = migrated_db().await;
    sqlx::query("CREATE TABLE job_effects (tag text, attempt bigint)")
        .execute(&db.pool)
        .await
        .unwrap();
    if !sqs {
        return Harness {
            db,
            backend: Backend::Postgres,
            sqs: None,
        };
    }
    let moto = Moto::start().await;
    let cfg = moto.sqs("p360-test-", &["default"]).await;
    let client = jobs::sqs::client(&cfg).await;
    Harness {
        db,
        backend: Backend::Sqs(cfg),
        sqs: Some((moto, client, "p360-test-default".into())),
    }
}

impl std::ops::Deref for Harness {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.db
    }
}

impl Harness {
    async fn queue_url(&self, name: &str) -> String {
        let (_, client, _) = self.sqs.as_ref().unwrap();
        client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }
}

/// Each case, once per backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn postgres() {
                super::$case(super::harness(false).await).await
            }
            #[tokio::test]
            async fn sqs() {
                super::$case(super::harness(true).await).await
            }
        }
    )*};
}

on_both_backends!(
    jobs_follow_their_transaction_retry_and_dead_letter,
    a_notification_wakes_an_idle_worker_at_once,
    a_crashed_workers_job_runs_again_when_its_lease_expires,
    a_job_whose_process_dies_on_every_attempt_is_dead_lettered,
    shutdown_releases_jobs_that_do_not_finish_in_time,
    recurring_jobs_run_on_their_interval_once_at_a_time,
);

/// Counts its runs.
#[derive(Serialize, Deserialize)]
struct Tick;

impl Job for Tick {
    const KIND: &'static str = "test.tick";
    type Context = ();

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO job_effects (tag, attempt) VALUES ('tick', $1)")
            .bind(ctx.attempt)
            .execute(&ctx.pool)
            .await?;
        Ok(())
    }
}

fn effect(tag: &str, fail_first: i64) -> Effect {
    Effect {
        tag: tag.into(),
        fail_first,
        sleep_ms: 0,
    }
}

async fn enqueue(db: &TestDb, job: Effect) -> Option<uuid::Uuid> {
    let mut tx = db.pool.begin().await.unwrap();
    let id = jobs::enqueue(&mut tx, &job, None).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn start_worker(
    db: &Harness,
    config: WorkerConfig,
) -> (Shutdown, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let config = WorkerConfig {
        backend: db.backend.clone(),
        ..config
    };
    let shutdown = Shutdown::manual();
    let handle = tokio::spawn(jobs::run_worker(
        db.pool.clone(),
        Registry::default().register::<Effect>(()),
        config,
        shutdown.clone(),
    ));
    (shutdown, handle)
}

async fn status(db: &TestDb, id: uuid::Uuid) -> (String, i64, Option<String>) {
    sqlx::query_as("SELECT status, attempts, last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn wait_for(db: &TestDb, id: uuid::Uuid, want: &str) -> (String, i64, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = status(db, id).await;
        if s.0 == want {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "job stuck in {s:?}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn jobs_follow_their_transaction_retry_and_dead_letter(db: Harness) {
    // Rolled back: no job.
    let mut tx = db.pool.begin().await.unwrap();
    jobs::enqueue(&mut tx, &effect("rolled-back", 0), None)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);

    let ok = enqueue(&db, effect("ok", 0)).await.unwrap();
    let flaky = enqueue(&db, effect("flaky", 2)).await.unwrap();
    let doomed = enqueue(&db, effect("doomed", 99)).await.unwrap();
    assert!(
        enqueue(&db, effect("ok", 0)).await.is_none(),
        "deduplicated while pending"
    );

    let (shutdown, worker) = start_worker(&db, WorkerConfig::default());
    assert_eq!(wait_for(&db, ok, "succeeded").await.1, 1);
    let (_, attempts, _) = wait_for(&db, flaky, "succeeded").await;
    assert_eq!(attempts, 3, "two failures, then success");
    let (_, attempts, err) = wait_for(&db, doomed, "dead").await;
    assert_eq!(attempts, 3, "MAX_ATTEMPTS");
    assert!(err.unwrap().contains("failing attempt 3"));
    if let Some((_, client, queue)) = &db.sqs {
        // The dead letter is in the dead-letter queue, with its error.
        let dlq = db.queue_url(&format!("{queue}-dlq")).await;
        let got = client
            .receive_message()
            .queue_url(&dlq)
            .message_attribute_names("All")
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), 1);
        assert!(got[0].body().unwrap().contains(&doomed.to_string()));
        let error = got[0].message_attributes().unwrap()["error"]
            .string_value()
            .unwrap();
        assert!(error.contains("failing attempt 3"), "{error}");
    }
    let effects: Vec<(String, i64)> =
        sqlx::query_as("SELECT tag, attempt FROM job_effects ORDER BY tag")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(effects, [("flaky".to_string(), 3), ("ok".to_string(), 1)]);
    shutdown.trigger();
    worker.await.unwrap().unwrap();
}

/// Wait until the worker (or, on SQS, its relay) listens for notifications
/// and has gone idle: a connection of the test's database has run `LISTEN`,
/// and one has run the look-up of the next due job, the last query before
/// the idle wait. Read on a connection of its own, outside the pool: a pooled
/// one could be the very connection whose last query is looked for.
async fn wait_idle_listening(db: &TestDb) {
    use sqlx::Connection;
    let mut own = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = sqlx::query!(
            r#"SELECT coalesce(bool_or(query LIKE 'LISTEN %'), false) AS "listening!",
                      coalesce(bool_or(query LIKE '%min(run_at) - now()%'), false) AS "idle!"
               FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"#
        )
        .fetch_one(&mut own)
        .await
        .unwrap();
        let (listening, idle) = (row.listening, row.idle);
        if listening && idle {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never went idle listening (LISTEN: {listening}, idle: {idle})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_notification_wakes_an_idle_worker_at_once(db: Harness) {
    let (shutdown, worker) = start_worker(
        &db,
        WorkerConfig {
            poll: Duration::from_secs(60),
            ..Default::default()
        },
    );
    wait_idle_listening(&db).await;
    let started = Instant::now();
    let id = enqueue(&db, effect("wake", 0)).await.unwrap();
    wait_for(&db, id, "succeeded").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    shutdown.trigger();
    worker.await.unwrap().unwrap();
}

async fn a_crashed_workers_job_runs_again_when_its_lease_expires(db: Harness) {
    let id = enqueue(&db, effect("orphan", 0)).await.unwrap();
    if let Some((_, client, queue)) = &db.sqs {
        // As the relay would have sent it, and a worker received it and died
        // (its one-second visibility is its lease).
        let url = db.queue_url(queue).await;
        let body = serde_json::json!({"id": id, "kind": "test.effect", "max_attempts": 3,
            "payload": {"tag": "orphan", "fail_first": 0, "sleep_ms": 0}});
        client
            .send_message()
            .queue_url(&url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
        let got = client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(1)
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages.unwrap_or_default().len(), 1);
    }
    // As a worker that claimed it and died would leave it.
    sqlx::query(
        "UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'dead-worker', \
         locked_until = now() - interval '1 second' WHERE id = $1",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let (shutdown, worker) = start_worker(&db, WorkerConfig::default());
    let (_, attempts, _) = wait_for(&db, id, "succeeded").await;
    assert_eq!(attempts, 2);
    shutdown.trigger();
    worker.await.unwrap().unwrap();
}

async fn shutdown_releases_jobs_that_do_not_finish_in_time(db: Harness) {
    let id = enqueue(
        &db,
        Effect {
            tag: "slow".into(),
            fail_first: 0,
            sleep_ms: 10_000,
        },
    )
    .await
    .unwrap();
    let (shutdown, worker) = start_worker(
        &db,
        WorkerConfig {
            drain: Duration::from_millis(100),
            ..Default::default()
        },
    );
    wait_for(&db, id, "running").await;
    shutdown.trigger();
    worker.await.unwrap().unwrap();
    let (s, attempts, _) = status(&db, id).await;
    assert_eq!(
        (s.as_str(), attempts),
        ("queued", 0),
        "released without costing an attempt"
    );
    if let Some((_, client, queue)) = &db.sqs {
        // Visible again at once, not after the lease.
        let url = db.queue_url(queue).await;
        let got = client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), 1, "the released message is visible");
    }
}

async fn recurring_jobs_run_on_their_interval_once_at_a_time(db: Harness) {
    // Two workers, as two processes would run.
    let mut workers = Vec::new();
    for _ in 0..2 {
        let shutdown = Shutdown::manual();
        let registry = Registry::default()
            .register::<Effect>(())
            .every(Duration::from_millis(300), &Tick, ())
            .unwrap();
        workers.push((
            shutdown.clone(),
            tokio::spawn(jobs::run_worker(
                db.pool.clone(),
                registry,
                WorkerConfig {
                    backend: db.backend.clone(),
                    poll: Duration::from_millis(200),
                    ..Default::default()
                },
                shutdown,
            )),
        ));
    }
    // Time passing is what is tested: ten intervals of the recurring job.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'test.tick' AND status IN ('queued', 'running')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for (shutdown, handle) in workers {
        shutdown.trigger();
        handle.await.unwrap().unwrap();
    }
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_effects WHERE tag = 'tick'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // Every 300 ms for 3 s, give or take start-up: not twice per tick.
    assert!((4..=11).contains(&runs), "{runs} runs");
    assert!(pending <= 1, "{pending} runs pending at once");
}

async fn a_job_whose_process_dies_on_every_attempt_is_dead_lettered(db: Harness) {
    let id = enqueue(&db, effect("crasher", 0)).await.unwrap();
    if let Some((_, client, queue)) = &db.sqs {
        // Delivered once per attempt (3), each to a process that died
        // holding it: the next delivery is the fourth.
        let url = db.queue_url(queue).await;
        let body = serde_json::json!({"id": id, "kind": "test.effect", "max_attempts": 3,
            "payload": {"tag": "crasher", "fail_first": 0, "sleep_ms": 0}});
        client
            .send_message()
            .queue_url(&url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
        for _ in 0..3 {
            let got = client
                .receive_message()
                .queue_url(&url)
                .visibility_timeout(0)
                .wait_time_seconds(5)
                .send()
                .await
                .unwrap();
            assert_eq!(got.messages.unwrap_or_default().len(), 1);
        }
    }
    // As the third process to claim it left it when it died.
    sqlx::query!(
        "UPDATE jobs SET status = 'running', attempts = 3, locked_by = 'dead-worker', \
         locked_until = now() - interval '1 second' WHERE id = $1",
        id
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (shutdown, worker) = start_worker(&db, WorkerConfig::default());
    let (_, _, error) = wait_for(&db, id, "dead").await;
    let error = error.unwrap_or_default();
    assert!(error.contains("stopped before it finished"), "{error}");
    let ran: i64 = sqlx::query_scalar("SELECT count(*) FROM job_effects WHERE tag = 'crasher'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ran, 0, "a fourth attempt ran");
    shutdown.trigger();
    worker.await.unwrap().unwrap();
}
