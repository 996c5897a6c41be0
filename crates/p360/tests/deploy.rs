//! Blue-green rollouts through a real HAProxy in front of real `p360 serve`
//! instances, under steady load: a good green is promoted with no failed
//! request; a faulty green (`P360_FAULTS__ERROR_RATE`) is rolled back
//! automatically and traffic is back on blue within seconds.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use deploy::{Event, Haproxy, Outcome, Plan, Scrape, TrafficBackend, Triggers, Weights, rollout};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy_bin() -> &'static str {
    if std::path::Path::new("/usr/sbin/haproxy").exists() {
        "/usr/sbin/haproxy"
    } else {
        "haproxy"
    }
}

/// Steady GETs through the frontend, counting what was sent and what failed.
#[derive(Clone, Default)]
struct Load {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Load {
    fn start(url: String, per_second: u64, stop: Arc<std::sync::atomic::AtomicBool>) -> Load {
        let load = Load::default();
        let l = load.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (client, url, l) = (client.clone(), url.clone(), l.clone());
                tokio::spawn(async move {
                    l.sent.fetch_add(1, Ordering::Relaxed);
                    let ok =
                        matches!(client.get(&url).send().await, Ok(r) if r.status().is_success());
                    if !ok {
                        l.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        load
    }

    fn take(&self) -> (u64, u64) {
        (
            self.sent.swap(0, Ordering::Relaxed),
            self.failed.swap(0, Ordering::Relaxed),
        )
    }
}

fn plan() -> Plan {
    Plan {
        steps: vec![5, 25, 50, 100],
        dwell: Duration::from_millis(1500),
        interval: Duration::from_millis(250),
        ready_timeout: Duration::from_secs(30),
        triggers: Triggers {
            window: Duration::from_secs(3),
            min_requests: 5.0,
            // Two servers, HAProxy and the load share two cores here.
            max_cpu: 4.0,
            ..Triggers::default()
        },
    }
}

#[tokio::test]
async fn a_good_green_is_promoted_and_a_faulty_one_rolled_back() {
    let data = TempDir::new("bluegreen");
    let var = data.path().join("var");
    let blue = Served::start(&var, &["--no-worker"]);
    let good = Served::start(&var, &["--no-worker"]);
    let (front, admin) = (free_port(), free_port());
    let cfg = data.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n  maxconn 512\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  retries 2\n\
             frontend fe\n  bind 127.0.0.1:{front}\n  default_backend app\n\
             backend app\n  balance roundrobin\n  option httpchk GET /health/ready\n\
               default-server inter 500ms fall 2 rise 1\n\
               server blue {} weight 100 check\n  server green {} weight 0 check\n",
            blue.addr, good.addr
        ),
    )
    .unwrap();
    let _haproxy = Proc(
        Command::new(haproxy_bin())
            .args(["-db", "-f", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (Debian package haproxy)"),
    );
    let lb = Haproxy {
        admin: format!("127.0.0.1:{admin}"),
        backend: "app".into(),
        blue: "blue".into(),
        green: "green".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lb.weights().await.is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = Load::start(
        format!("http://127.0.0.1:{front}/openapi.json"),
        100,
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (sent, failed) = load.take();
    assert!(
        sent > 50 && failed == 0,
        "warm-up through blue: {failed} of {sent} failed"
    );

    // 1. A good rollout: promoted, no request fails.
    let mut events = Vec::new();
    let outcome = rollout(&lb, &Scrape::new(good.url("")), &plan(), |e| {
        events.push(e.clone())
    })
    .await
    .unwrap();
    let (sent, failed) = load.take();
    let Outcome::Promoted { took } = outcome else {
        panic!("the good green was rolled back: {outcome:?}\n{events:#?}");
    };
    eprintln!("good rollout: {took:?}, {sent} requests, {failed} failed");
    assert_eq!(
        failed, 0,
        "no request fails in a good rollout ({sent} sent)"
    );
    assert!(took < Duration::from_secs(30));
    assert_eq!(
        lb.weights().await.unwrap(),
        Weights {
            blue: 0,
            green: 100
        }
    );

    // Back to blue, and a faulty instance takes green's place.
    lb.set_weights(Weights::ALL_BLUE).await.unwrap();
    drop(good);
    let faulty = Served::start_env(
        &var,
        &["--no-worker"],
        &[("P360_FAULTS__ERROR_RATE", "0.2".to_string())],
    );
    lb.point_green(faulty.addr.parse().unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await; // health checks see it
    load.take();

    // 2. A bad rollout: rolled back on the error rate, blue again within 5 s.
    let mut events = Vec::new();
    let outcome = rollout(&lb, &Scrape::new(faulty.url("")), &plan(), |e| {
        events.push(e.clone())
    })
    .await
    .unwrap();
    let Outcome::RolledBack {
        trigger,
        at_green,
        trigger_to_blue,
        detail,
    } = outcome
    else {
        panic!("the faulty green was promoted\n{events:#?}");
    };
    eprintln!(
        "bad rollout: {trigger} at {at_green} % ({detail}), blue again {trigger_to_blue:?} after the trigger"
    );
    assert_eq!(trigger, "error_rate");
    assert!(trigger_to_blue < Duration::from_secs(5));
    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);
    assert!(events.iter().any(|e| matches!(e, Event::Triggered { .. })));
    let (sent, failed) = load.take();
    eprintln!("bad rollout: {failed} of {sent} requests failed before the rollback");
    assert!(failed > 0, "the faults were real");

    // After the rollback every request succeeds again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.take();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sent, failed) = load.take();
    assert!(
        sent > 100 && failed == 0,
        "after the rollback: {failed} of {sent} failed"
    );
    stop.store(true, Ordering::Relaxed);
    drop(faulty);
    drop(blue);
}
