//! The Prometheus metric source against a real Prometheus server (Debian's
//! `prometheus`) scraping instances that expose p360's metrics: the
//! readings are the slot's series summed over its instances, and the
//! rollout controller rolls a failing slot back through it.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deploy::{MetricSource, Outcome, Plan, Prometheus, TrafficBackend, Triggers, Weights, rollout};

mod common;

use common::{Proc, free_port};

/// Counters an instance exposes.
#[derive(Default, Clone, Copy)]
struct Counters {
    ok: f64,
    failed: f64,
    health: f64,
}

/// An instance exposing p360's series (application requests, a health
/// route that must be left out, process gauges) from `state`.
async fn instance(state: Arc<Mutex<Counters>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/health/ready", axum::routing::get(|| async { "ready" }))
        .route(
            "/metrics",
            axum::routing::get(move || {
                let c = *state.lock().unwrap();
                async move {
                    format!(
                        "# TYPE p360_http_requests_total counter\n\
                         p360_http_requests_total{{route=\"/v1/campaigns\",method=\"GET\",status=\"200\"}} {}\n\
                         p360_http_requests_total{{route=\"/v1/campaigns\",method=\"GET\",status=\"503\"}} {}\n\
                         p360_http_requests_total{{route=\"/health/ready\",method=\"GET\",status=\"200\"}} {}\n\
                         p360_http_request_duration_seconds_sum{{route=\"/v1/campaigns\",method=\"GET\"}} {}\n\
                         p360_http_request_duration_seconds_count{{route=\"/v1/campaigns\",method=\"GET\"}} {}\n\
                         process_cpu_seconds_total 1.5\n\
                         process_resident_memory_bytes 52428800\n\
                         p360_db_up 1\n",
                        c.ok,
                        c.failed,
                        c.health,
                        (c.ok + c.failed) * 0.01,
                        c.ok + c.failed
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Prometheus scraping `green` (two instances) and `blue` every 100 ms.
fn prometheus(dir: &std::path::Path, port: u16, green: &[u16], blue: u16) -> Proc {
    let targets = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("'127.0.0.1:{p}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n\
             scrape_configs:\n\
             \x20 - job_name: p360\n\
             \x20   static_configs:\n\
             \x20     - targets: [{}]\n\
             \x20       labels: {{slot: green}}\n\
             \x20     - targets: [{}]\n\
             \x20       labels: {{slot: blue}}\n",
            targets(green),
            targets(&[blue])
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus)");
    Proc(child)
}

/// Weights kept in memory: this test is about the metric source.
#[derive(Default)]
struct Memory(Mutex<Option<Weights>>);

impl TrafficBackend for Memory {
    async fn set_weights(&self, w: Weights) -> anyhow::Result<()> {
        *self.0.lock().unwrap() = Some(w);
        Ok(())
    }

    async fn weights(&self) -> anyhow::Result<Weights> {
        Ok(self.0.lock().unwrap().unwrap_or(Weights::ALL_BLUE))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_come_from_prometheus_and_drive_a_rollback() {
    let dir = std::env::temp_dir().join(format!("p360-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (g1, g2, b) = (
        Arc::new(Mutex::new(Counters::default())),
        Arc::new(Mutex::new(Counters::default())),
        Arc::new(Mutex::new(Counters::default())),
    );
    let green = [instance(g1.clone()).await, instance(g2.clone()).await];
    let blue = instance(b.clone()).await;
    let port = free_port();
    let _prom = prometheus(&dir, port, &green, blue);
    let source = Prometheus::new(
        format!("http://127.0.0.1:{port}"),
        r#"job="p360",slot="green""#,
        format!("http://127.0.0.1:{}/health/ready", green[0]),
    );

    // Green's two instances are summed; blue's series and the health route are not.
    *g1.lock().unwrap() = Counters {
        ok: 90.0,
        failed: 10.0,
        health: 500.0,
    };
    *g2.lock().unwrap() = Counters {
        ok: 50.0,
        failed: 0.0,
        health: 500.0,
    };
    *b.lock().unwrap() = Counters {
        ok: 1000.0,
        failed: 1000.0,
        health: 0.0,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = source.read().await;
        if r.requests == 150.0 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had green's series ({r:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(r.ready);
    assert_eq!(r.errors, 10.0);
    assert!((r.latency_sum - 1.5).abs() < 1e-9, "{r:?}");
    assert_eq!(r.latency_count, 150.0);
    assert_eq!(r.cpu_seconds, 1.5, "per instance");
    assert_eq!(r.rss_bytes, 52_428_800.0);
    assert_eq!(r.db_up, Some(1.0));
    assert_eq!(r.integration_failures, 0.0);

    // Green starts failing a fifth of its requests once it has traffic:
    // the controller, reading through Prometheus, rolls it back.
    let failing = tokio::spawn({
        let (g1, g2) = (g1.clone(), g2.clone());
        async move {
            loop {
                for g in [&g1, &g2] {
                    let mut c = g.lock().unwrap();
                    c.ok += 8.0;
                    c.failed += 2.0;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let lb = Memory::default();
    let plan = Plan {
        dwell: Duration::from_secs(5),
        interval: Duration::from_millis(200),
        ready_timeout: Duration::from_secs(5),
        triggers: Triggers {
            window: Duration::from_secs(2),
            max_cpu: 100.0,
            ..Triggers::default()
        },
        ..Plan::default()
    };
    let outcome = rollout(&lb, &source, &plan, |_: &deploy::Event| {})
        .await
        .unwrap();
    failing.abort();
    match outcome {
        Outcome::RolledBack {
            trigger, at_green, ..
        } => assert_eq!((trigger, at_green), ("error_rate", 5)),
        other => panic!("{other:?}"),
    }
    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);

    // A Prometheus that does not answer makes green not ready, not healthy.
    let gone = Prometheus::new(
        format!("http://127.0.0.1:{}", free_port()),
        r#"slot="green""#,
        format!("http://127.0.0.1:{}/health/ready", green[0]),
    );
    assert!(!gone.read().await.ready);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Amazon Managed Prometheus: every query carries a SigV4 signature for
/// service `aps` in the configured region.
#[tokio::test]
async fn queries_to_managed_prometheus_are_signed_with_sigv4() {
    let seen = Arc::new(Mutex::new(Vec::<(String, String, String)>::new()));
    let keep = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/workspaces/ws-1/api/v1/query",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let keep = keep.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                assert!(h("user-agent").starts_with("p360-deploy/"), "{headers:?}");
                keep.lock().unwrap().push((
                    h("authorization"),
                    h("x-amz-date"),
                    h("x-amz-security-token"),
                ));
                axum::Json(serde_json::json!({
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "42"]}]}
                }))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let source = Prometheus::new(
        format!("http://127.0.0.1:{port}/workspaces/ws-1"),
        r#"slot="green""#,
        "http://127.0.0.1:1/health/ready",
    )
    .with_sigv4(
        "eu-west-1",
        Some(aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session-token".into()),
            None,
            "test",
        )),
    )
    .await
    .unwrap();
    assert_eq!(source.query("sum(p360_db_up)").await.unwrap(), Some(42.0));
    let seen = seen.lock().unwrap();
    let (auth, date, token) = &seen[0];
    // The credential scope's day is the request's (x-amz-date), today.
    let today = &date[..8];
    assert!(
        chrono::NaiveDate::parse_from_str(today, "%Y%m%d").unwrap()
            >= chrono::Utc::now().date_naive() - chrono::Days::new(1),
        "{date}"
    );
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{today}/eu-west-1/aps/aws4_request, SignedHeaders="
        )),
        "{auth}"
    );
    assert!(auth.contains("Signature="), "{auth}");
    assert_eq!(token, "session-token");
}
