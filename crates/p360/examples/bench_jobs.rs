//! Job throughput (docs/benchmarks.md, run by `scripts/bench-jobs`): enqueue
//! N no-op jobs, then time two workers (each with the default concurrency
//! and a pool of its own, as two `p360 worker` processes would have) until
//! every job has succeeded.
//!
//! `bench_jobs URL N [sqs ENDPOINT]` — URL is a migrated database.
//!
//! The workers run as in `p360 worker`: JSON logs at info on stdout and the
//! Prometheus recorder installed, so that what a job costs in logs and
//! metrics is measured too. The result is the line starting `backend=`.

use std::time::{Duration, Instant};

use platform::config::LogConfig;
use platform::jobs::{self, Backend, Job, JobContext, Registry, WorkerConfig};
use platform::shutdown::Shutdown;
use platform::telemetry::{self, BuildInfo, LogTarget};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Noop {
    n: u64,
}

impl Job for Noop {
    const KIND: &'static str = "bench.noop";
    const QUEUE: &'static str = "bench";
    type Context = ();

    async fn run(self, _ctx: JobContext) -> anyhow::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _log = telemetry::init_logging(&LogConfig::default(), LogTarget::Stdout);
    let _metrics = telemetry::prometheus(BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        git_sha: "bench",
    });
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        anyhow::bail!("usage: bench_jobs DATABASE_URL N [sqs ENDPOINT]");
    };
    let sqs_endpoint = (args.get(3).map(String::as_str) == Some("sqs")).then(|| args[4].clone());
    let mut config = platform::config::PlatformConfig::default();
    config.database.app_role = String::new();
    let pool = platform::db::connect_app(url, &config.database)?;
    sqlx::query("DELETE FROM jobs WHERE kind = 'bench.noop'")
        .execute(&pool)
        .await?;

    let backend = match &sqs_endpoint {
        None => Backend::Postgres,
        Some(endpoint) => {
            let cfg = platform::config::SqsConfig {
                queue_prefix: "p360-bench-".into(),
                region: Some("us-east-1".into()),
                endpoint: Some(endpoint.clone()),
                access_key_id: Some("testing".into()),
                secret_access_key: Some("testing".to_string().into()),
            };
            let client = jobs::sqs::client(&cfg).await;
            for q in ["p360-bench-bench", "p360-bench-bench-dlq"] {
                client.create_queue().queue_name(q).send().await?;
            }
            Backend::Sqs(cfg)
        }
    };

    // Enqueue in transactions of 500, as a busy API would.
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let mut tx = pool.begin().await?;
        for _ in 0..500.min(n - i) {
            jobs::enqueue(&mut tx, &Noop { n: i }, None).await?;
            i += 1;
        }
        tx.commit().await?;
    }
    let enqueue_s = started.elapsed().as_secs_f64();

    let shutdown = Shutdown::manual();
    let started = Instant::now();
    let mut workers = Vec::new();
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (count, concurrency) = (env("WORKERS", 2), env("CONCURRENCY", 8));
    for _ in 0..count {
        let worker_config = WorkerConfig {
            backend: backend.clone(),
            poll: Duration::from_secs(1),
            concurrency,
            ..WorkerConfig::default()
        };
        let db = platform::config::DatabaseConfig {
            max_connections: worker_config.concurrency as u32 + 2,
            ..config.database.clone()
        };
        let worker_pool = platform::db::connect_app(url, &db)?;
        workers.push(tokio::spawn(jobs::run_worker(
            worker_pool,
            Registry::default().register::<Noop>(()),
            worker_config,
            shutdown.clone(),
        )));
    }
    loop {
        // What is left, on the queue's own partial indexes (a count of the
        // succeeded would read the whole table 50 times a second).
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM jobs WHERE status = 'queued' AND queue = 'bench') \
                  + (SELECT count(*) FROM jobs WHERE status = 'running' AND locked_until IS NOT NULL \
                     AND queue = 'bench')",
        )
        .fetch_one(&pool)
        .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run_s = started.elapsed().as_secs_f64();
    shutdown.trigger();
    for w in workers {
        w.await??;
    }
    let backend = if sqs_endpoint.is_some() {
        "sqs"
    } else {
        "postgres"
    };
    println!(
        "backend={backend} workers={count}x{concurrency} jobs={n} enqueue_per_s={:.0} run_per_s={:.0} run_s={run_s:.2}",
        n as f64 / enqueue_s,
        n as f64 / run_s
    );
    Ok(())
}
