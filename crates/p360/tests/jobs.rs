//! The PostgreSQL job runtime: outbox semantics, retries with backoff, dead
//! letters, deduplication, lease expiry after a crash, NOTIFY wake-up and
//! graceful release on shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use platform::jobs::{self, Job, JobContext, Registry, WorkerConfig};
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

async fn setup() -> TestDb {
    let db = migrated_db().await;
    sqlx::query("CREATE TABLE job_effects (tag text, attempt bigint)")
        .execute(&db.pool)
        .await
        .unwrap();
    db
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
    db: &TestDb,
    config: WorkerConfig,
) -> (Shutdown, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let shutdown = Shutdown::manual();
    let handle = tokio::spawn(jobs::run_worker(
        db.pool.clone(),
        Registry::default().register::<Effect>(),
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

#[tokio::test]
async fn jobs_follow_their_transaction_retry_and_dead_letter() {
    let db = setup().await;
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
    let effects: Vec<(String, i64)> =
        sqlx::query_as("SELECT tag, attempt FROM job_effects ORDER BY tag")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(effects, [("flaky".to_string(), 3), ("ok".to_string(), 1)]);
    shutdown.trigger();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_notification_wakes_an_idle_worker_at_once() {
    let db = setup().await;
    let (shutdown, worker) = start_worker(
        &db,
        WorkerConfig {
            poll: Duration::from_secs(60),
            ..Default::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
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

#[tokio::test]
async fn a_crashed_workers_job_runs_again_when_its_lease_expires() {
    let db = setup().await;
    let id = enqueue(&db, effect("orphan", 0)).await.unwrap();
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

#[tokio::test]
async fn shutdown_releases_jobs_that_do_not_finish_in_time() {
    let db = setup().await;
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
}
