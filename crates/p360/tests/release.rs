//! `p360 deploy start|resume|status|promote|rollback|history` end to end:
//! HAProxy (Debian's `haproxy`) in front of two slots whose `p360 serve`
//! instances the deploy's own start/stop commands launch and stop, a real
//! PostgreSQL database, steady load through the frontend, and a webhook
//! receiver as the notification channel. Also the zero-downtime stop: an
//! instance taking half the traffic gets SIGTERM and no request fails.

mod common;

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use deploy::{Haproxy, TrafficBackend, Weights};

const START: &str = r#"#!/bin/sh
# Start the slot's instance on the version (P360_DEPLOY_*), in the background.
set -e
port=${DEPLOY_URL##*:}
faults=0 latency=0
# (slowstart: a version slow to start, on purpose, so that a rollback can come first.)
case "$DEPLOY_VERSION" in *bad*) faults=1 ;; *slowstart*) sleep 2 ;; *slow*) latency=2100 ;; esac
P360_RELEASE="$DEPLOY_VERSION" P360_FAULTS__ERROR_RATE=$faults P360_FAULTS__LATENCY_MS=$latency \
  P360_HTTP__SHUTDOWN_DELAY_MS=1200 P360_LOG__LEVEL=info,p360::http=warn \
  setsid "$SERVE_BIN" serve --no-worker --no-migrate --data-dir "$WORK/var" --listen "127.0.0.1:$port" \
  >"$WORK/$DEPLOY_SLOT-$DEPLOY_VERSION.log" 2>&1 </dev/null &
echo $! >"$WORK/$DEPLOY_SLOT.pid"
"#;

const STOP: &str = r#"#!/bin/sh
# Stop the slot's instance: SIGTERM (it drains), then wait until it is gone.
pid=$(cat "$WORK/$DEPLOY_SLOT.pid" 2>/dev/null) || exit 0
rm -f "$WORK/$DEPLOY_SLOT.pid"
kill -TERM "$pid" 2>/dev/null || exit 0
while [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.1; done
"#;

/// The controllers' heartbeat here; silent for three of them, a controller
/// counts as gone.
const HEARTBEAT_MS: i64 = 300;
const STALE_MS: i64 = 3 * HEARTBEAT_MS;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two slots behind HAProxy, the deploy hooks, a database, a webhook receiver.
struct Rig {
    db: TestDb,
    work: TempDir,
    front: u16,
    haproxy: Haproxy,
    _lb: Proc,
    ports: (u16, u16),
    hook_port: u16,
    notified: Arc<Mutex<Vec<serde_json::Value>>>,
    dwell_ms: u64,
}

impl Rig {
    async fn start(dwell_ms: u64) -> Rig {
        let db = migrated_db().await;
        let work = TempDir::new("release");
        std::fs::write(work.path().join("start.sh"), START).unwrap();
        std::fs::write(work.path().join("stop.sh"), STOP).unwrap();
        let (front, admin) = (free_port(), free_port());
        let ports = (free_port(), free_port());
        let cfg = work.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n  maxconn 512\n\
                 defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  retries 0\n\
                 frontend fe\n  bind 127.0.0.1:{front}\n  default_backend app\n\
                 backend app\n  balance roundrobin\n  option httpchk GET /health/ready\n\
                   default-server inter 300ms fall 2 rise 1\n\
                   server blue 127.0.0.1:{} weight 100 check\n  server green 127.0.0.1:{} weight 0 check\n",
                ports.0, ports.1
            ),
        )
        .unwrap();
        let lb = std::process::Command::new(deploy::haproxy_program().unwrap())
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy");
        let haproxy = Haproxy {
            admin: format!("127.0.0.1:{admin}"),
            backend: "app".into(),
            blue: "blue".into(),
            green: "green".into(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while haproxy.weights().await.is_err() {
            assert!(Instant::now() < deadline, "haproxy did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The notification channel: a webhook that keeps what it is sent.
        let notified = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_port = listener.local_addr().unwrap().port();
        let keep = notified.clone();
        let app = axum::Router::new()
            // A webhook that never answers in time.
            .route(
                "/hang",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/hook",
                axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
                    let keep = keep.clone();
                    async move {
                        keep.lock().unwrap().push(v);
                        "ok"
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Rig {
            db,
            work,
            front,
            haproxy,
            _lb: Proc(lb),
            ports,
            hook_port,
            notified,
            dwell_ms,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        let w = self.work.path();
        [
            ("P360_DATABASE__URL", self.db.url.clone()),
            ("SERVE_BIN", env!("CARGO_BIN_EXE_p360").to_string()),
            ("WORK", w.display().to_string()),
            ("P360_DEPLOY__HAPROXY__ADMIN", self.haproxy.admin.clone()),
            ("P360_DEPLOY__HAPROXY__BACKEND", "app".into()),
            (
                "P360_DEPLOY__BLUE_URL",
                format!("http://127.0.0.1:{}", self.ports.0),
            ),
            (
                "P360_DEPLOY__GREEN_URL",
                format!("http://127.0.0.1:{}", self.ports.1),
            ),
            (
                "P360_DEPLOY__START_COMMAND",
                format!("sh {}", w.join("start.sh").display()),
            ),
            (
                "P360_DEPLOY__STOP_COMMAND",
                format!("sh {}", w.join("stop.sh").display()),
            ),
            ("P360_DEPLOY__DWELL_MS", self.dwell_ms.to_string()),
            ("P360_DEPLOY__INTERVAL_MS", "250".into()),
            ("P360_DEPLOY__WINDOW_MS", "3000".into()),
            ("P360_DEPLOY__READY_TIMEOUT_MS", "30000".into()),
            ("P360_DEPLOY__HEARTBEAT_MS", HEARTBEAT_MS.to_string()),
            // Every process of the test shares two cores.
            ("P360_DEPLOY__MAX_CPU", "4.0".into()),
            (
                "P360_DEPLOY__NOTIFY_WEBHOOK",
                format!("http://127.0.0.1:{}/hook", self.hook_port),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        let data = self.work.path().join("var");
        let mut cmd = p360(&all);
        cmd.arg("--data-dir").arg(&data).envs(self.env());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run p360 deploy")
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cmd(args)
            .envs(env.iter().copied())
            .output()
            .expect("run p360 deploy")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "p360 deploy {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p360 deploy")
    }

    /// Start the first slot (blue) on `version` with the deploy's own hook.
    async fn serve_blue(&self, version: &str) {
        let status = std::process::Command::new("sh")
            .arg(self.work.path().join("start.sh"))
            .envs(self.env())
            .env("DEPLOY_SLOT", "blue")
            .env("DEPLOY_VERSION", version)
            .env("DEPLOY_URL", format!("http://127.0.0.1:{}", self.ports.0))
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_ready(self.ports.0).await;
        // ... and HAProxy's health checks have seen it.
        self.wait_ready(self.front).await;
    }

    async fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health/ready")).await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "127.0.0.1:{port} never ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid_of(&self, slot: &str) -> Option<i32> {
        std::fs::read_to_string(self.work.path().join(format!("{slot}.pid")))
            .ok()
            .and_then(|p| p.trim().parse().ok())
    }

    /// The deployment row's weight (the new slot's share).
    async fn weight(&self) -> Option<i64> {
        sqlx::query_scalar("SELECT weight FROM deployments WHERE status = 'running'")
            .fetch_optional(&self.db.pool)
            .await
            .unwrap()
    }

    async fn wait_weight(&self, want: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.weight().await != Some(want) {
            assert!(
                Instant::now() < deadline,
                "the shift never reached {want} %"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until HAProxy's health checks have `server` in the state `state`
    /// (srv_op_state: 0 stopped, 2 running).
    async fn wait_haproxy_state(&self, server: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = self
                .haproxy
                .command("show servers state app")
                .await
                .unwrap();
            let line = all
                .lines()
                .find(|l| l.contains(&format!(" {server} ")))
                .unwrap_or_else(|| panic!("no {server} in {all}"));
            if line.split_whitespace().nth(5) == Some(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy never had {server} in state {state}: {all}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The load balancer's weights of the blue and green slots.
    async fn assert_weights(&self, blue: u8, green: u8, why: &str) {
        assert_eq!(
            self.haproxy.weights().await.unwrap(),
            Weights { blue, green },
            "{why}"
        );
    }

    /// Wait until the running deployment's controller has been silent for
    /// more than `ms` (its heartbeat is a timestamp in the deployment's row).
    async fn wait_silent(&self, ms: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let silent = sqlx::query_scalar!(
                "SELECT (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint \
                 FROM deployments WHERE status = 'running'"
            )
            .fetch_optional(&self.db.pool)
            .await
            .unwrap()
            .flatten();
            if silent.is_some_and(|s| s > ms) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the controller never fell silent for {ms} ms ({silent:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until the controller counts as gone, then roll `version` back
    /// with `p360 deploy rollback` (which takes over).
    async fn rollback_after_silence(&self, version: &str) {
        self.wait_silent(STALE_MS).await;
        let out = self.ok(&["rollback"]);
        assert!(
            out.contains(&format!(
                "{version} rolled back: all traffic on the green slot"
            )),
            "{out}"
        );
        self.assert_weights(0, 100, "all traffic back on the serving slot")
            .await;
    }

    fn url_front(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.front)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for slot in ["blue", "green"] {
            if let Some(pid) = self.pid_of(slot) {
                // SAFETY: kill(2) on an instance this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// Steady requests through the frontend.
#[derive(Default)]
struct LoadState {
    sent: AtomicU64,
    failed: AtomicU64,
    /// Answered with a success (never reset).
    succeeded: AtomicU64,
    in_flight: AtomicU64,
    paused: AtomicBool,
    stop: AtomicBool,
    errors: Mutex<Vec<String>>,
}

struct Load(Arc<LoadState>);

impl std::ops::Deref for Load {
    type Target = LoadState;
    fn deref(&self) -> &LoadState {
        &self.0
    }
}

impl Load {
    fn start(front: u16, per_second: u64) -> Load {
        let load = Load(Arc::default());
        let state = load.0.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{front}/openapi.json");
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
            while !state.stop.load(Ordering::SeqCst) {
                tick.tick().await;
                // In flight before looking at the pause: `take` either sees
                // this request or this loop sees the pause.
                state.in_flight.fetch_add(1, Ordering::SeqCst);
                if state.paused.load(Ordering::SeqCst) {
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                state.sent.fetch_add(1, Ordering::SeqCst);
                let (client, url, state) = (client.clone(), url.clone(), state.clone());
                tokio::spawn(async move {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            state.succeeded.fetch_add(1, Ordering::SeqCst);
                        }
                        other => {
                            state.failed.fetch_add(1, Ordering::SeqCst);
                            state.errors.lock().unwrap().push(format!("{other:?}"));
                        }
                    }
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        load
    }

    /// Wait until `n` more requests have been answered with a success: the
    /// load is getting through the frontend.
    async fn wait_succeeded(&self, n: u64) {
        let base = self.succeeded.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.succeeded.load(Ordering::SeqCst) < base + n {
            assert!(
                Instant::now() < deadline,
                "the load is not getting through: {:?}",
                self.errors.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The requests sent and failed since the last take, every one of them
    /// answered: the load pauses until those in flight have their answer.
    async fn take(&self) -> (u64, u64) {
        self.paused.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "requests never answered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let counts = (
            self.sent.swap(0, Ordering::SeqCst),
            self.failed.swap(0, Ordering::SeqCst),
        );
        self.paused.store(false, Ordering::SeqCst);
        counts
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

async fn kinds(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT kind FROM deployment_events WHERE kind <> 'deployment.reading' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn wait_child(child: &mut Child, limit: Duration) -> (i32, String, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            use std::io::Read;
            let (mut out, mut err) = (String::new(), String::new());
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        assert!(started.elapsed() < limit, "p360 deploy did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_version_is_promoted_and_a_faulty_one_rolled_back() {
    let rig = Rig::start(800).await;
    rig.serve_blue("1.0.0").await;
    let load = Load::start(rig.front, 100);
    load.wait_succeeded(20).await;
    load.take().await;

    // A good version: every phase, no failed request, the old slot stopped.
    let blue_pid = rig.pid_of("blue").unwrap();
    let started = Instant::now();
    let out = rig.ok(&["start", "--version", "2.0.0"]);
    let took = started.elapsed();
    let (sent, failed) = load.take().await;
    eprintln!("{out}\ngood deploy: {failed} of {sent} requests failed in {took:?}");
    assert_eq!(
        failed,
        0,
        "requests failed during a good deploy: {:?}",
        load.errors.lock().unwrap()
    );
    assert!(sent > 300, "the load ran ({sent})");
    assert!(
        out.contains("smoke suite against the green slot: 5 of 5 checks passed"),
        "{out}"
    );
    assert!(
        out.contains("promoted: all traffic on the green slot"),
        "{out}"
    );
    rig.assert_weights(0, 100, "").await;
    assert!(!alive(blue_pid), "the old slot was stopped");
    let kinds_good = kinds(&rig.db).await;
    let expected = [
        "deployment.started",
        "deployment.preflight_passed",
        "deployment.backup_taken",
        "deployment.slot_started",
        "deployment.smoke",
        "deployment.weights",
        "deployment.weights",
        "deployment.weights",
        "deployment.weights",
        "deployment.slot_stopped",
        "deployment.promoted",
    ];
    assert_eq!(kinds_good, expected);
    let weights: Vec<i64> = sqlx::query_scalar(
        "SELECT (detail->>'green')::bigint FROM deployment_events WHERE kind = 'deployment.weights' ORDER BY id",
    )
    .fetch_all(&rig.db.pool)
    .await
    .unwrap();
    assert_eq!(weights, [5, 25, 50, 100]);
    let readings: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM deployment_events WHERE kind = 'deployment.reading'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert!(readings >= 3, "readings are stored ({readings})");
    // The backup is in the object store.
    let key: String = sqlx::query_scalar("SELECT backup_key FROM deployments")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert!(
        rig.work.path().join("var/objects").join(&key).is_file(),
        "{key}"
    );
    // The audit log's platform chain has every announced event, and verifies.
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE target_type = 'deployment' ORDER BY seq",
    )
    .fetch_all(&rig.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, expected);
    // The notification channel heard the same.
    let heard: Vec<String> = rig
        .notified
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(heard, expected);
    assert!(
        rig.notified.lock().unwrap()[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("p360 deploy 2.0.0: deployment ")
    );

    // A broken version fails the smoke suite before it gets any traffic.
    let out = rig.run(&["start", "--version", "3.0.0-bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: the deployment was rolled back (smoke: live: GET /health/live: 500"
        ),
        "{stderr}"
    );
    rig.assert_weights(0, 100, "").await;
    load.take().await;

    let hang = format!("http://127.0.0.1:{}/hang", rig.hook_port);
    // A slow version goes to the idle slot (blue, now) and is rolled back
    // while it has a small share (the dwell is long enough for its slow
    // requests to finish and be counted).
    let out = rig.run_env(
        &["start", "--version", "3.1.0-slow"],
        &[
            ("P360_DEPLOY__DWELL_MS", "6000"),
            ("P360_DEPLOY__WINDOW_MS", "6000"),
            // A webhook that hangs must not hold the rollback up.
            ("P360_DEPLOY__NOTIFY_WEBHOOK", &hang),
        ],
    );
    let (sent, failed) = load.take().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\nbad deploy: {failed} of {sent} requests failed\n{stderr}");
    assert_eq!(out.status.code(), Some(1));
    // The error is the last line; the warnings before it are the webhook's.
    let last = stderr.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: the deployment was rolled back (latency: average 2"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .filter(|l| *l != last)
            .all(|l| l.contains("notification webhook")),
        "{stderr}"
    );
    assert!(stdout.contains("deploying to the blue slot"), "{stdout}");
    let most: i64 = sqlx::query_scalar(
        "SELECT max((e.detail->>'blue')::bigint) FROM deployment_events e \
         JOIN deployments d ON d.id = e.deployment_id \
         WHERE d.version = '3.1.0-slow' AND e.kind = 'deployment.weights'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert!(
        most <= 25,
        "the slow version got {most} % before the rollback"
    );
    let restored_ms: f64 = sqlx::query_scalar(
        "SELECT (e.detail->>'trigger_to_blue_ms')::float8 FROM deployment_events e \
         JOIN deployments d ON d.id = e.deployment_id \
         WHERE d.version = '3.1.0-slow' AND e.kind = 'deployment.traffic_restored'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert!(
        restored_ms < 1000.0,
        "traffic back on blue {restored_ms} ms after the trigger"
    );
    rig.assert_weights(0, 100, "all traffic back on the serving slot")
        .await;
    assert!(rig.pid_of("blue").is_none(), "the faulty slot was stopped");
    let history = rig.ok(&["history"]);
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{history}");
    assert!(
        rows[0].contains("3.1.0-slow")
            && rows[0].contains("rolled_back")
            && rows[0].contains("green->blue")
            && rows[0].contains("latency"),
        "{history}"
    );
    assert!(
        rows[1].contains("3.0.0-bad") && rows[1].contains("smoke"),
        "{history}"
    );
    assert!(
        rows[2].contains("2.0.0")
            && rows[2].contains("promoted")
            && rows[2].contains("blue->green"),
        "{history}"
    );
    let status = rig.ok(&["status"]);
    assert!(status.contains("3.1.0-slow: rolled_back"), "{status}");
    assert!(
        status.contains("load balancer now: blue 0 / green 100"),
        "{status}"
    );

    // The serving version is not deployed again; a bad label is refused.
    let out = rig.run(&["start", "--version", "2.0.0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("2.0.0 is already serving on the green slot"),
        "{stderr}"
    );
    let out = rig.run(&["start", "--version", "no spaces"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a release label"));
    // Platform admins read the deployment events through the API.
    let token = p360(&["token", "--role", "platform_admin", "--data-dir"])
        .arg(rig.work.path().join("var"))
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap();
    let token = token.trim().lines().last().unwrap();
    let page: serde_json::Value = reqwest::Client::new()
        .get(rig.url_front(
            "/v1/audit-events?scope=platform&target_type=deployment&action=deployment.promoted",
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["changes"]["version"], "2.0.0", "{page}");
    assert_eq!(items[0]["actor_type"], "system", "{page}");
    // Deployment events went onto the audit log's hash chain intact.
    let verify = p360(&["audit", "verify"])
        .env("P360_DATABASE__URL", &rig.db.url)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_survives_its_controller_and_obeys_promote_and_rollback() {
    // Long dwell: only promote (or a rollback) ends these shifts quickly.
    let rig = Rig::start(120_000).await;
    rig.serve_blue("1.0.0").await;
    let load = Load::start(rig.front, 50);

    // The controller dies mid-shift: traffic stays split, and status says so.
    let mut controller = rig.spawn(&["start", "--version", "2.0.0"]);
    rig.wait_weight(5).await;
    controller.kill().unwrap();
    controller.wait().unwrap();
    // Silent past the stale threshold, and for over a second (the gauge below).
    rig.wait_silent(STALE_MS.max(1_000)).await;
    let status = rig.ok(&["status"]);
    assert!(status.contains("WARNING: controller"), "{status}");
    assert!(
        status.contains("stopped in phase shift with 5 % on the green slot"),
        "{status}"
    );
    assert!(
        status.contains("load balancer now: blue 95 / green 5"),
        "{status}"
    );
    // The serving instances export it, for the alert that pages.
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", rig.ports.0))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing"))
            .parse()
            .unwrap()
    };
    assert_eq!(gauge("p360_deploy_in_progress"), 1.0);
    assert_eq!(gauge("p360_deploy_weight_percent"), 5.0);
    assert!(gauge("p360_deploy_controller_silent_seconds") > 1.0);
    let out = rig.run(&["start", "--version", "2.1.0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in progress (phase shift, 5 % on the green slot)"),
        "{stderr}"
    );
    assert!(stderr.contains("p360 deploy resume"), "{stderr}");

    // Resume picks it up where the load balancer is; promote ends the dwell.
    let mut resumed = rig.spawn(&["resume"]);
    // Promote asks a live controller: wait for resume's to have taken over.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kinds(&rig.db)
        .await
        .contains(&"deployment.resumed".to_string())
    {
        assert!(Instant::now() < deadline, "resume never took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = rig.ok(&["promote"]);
    assert!(out.contains("to promote deployment"), "{out}");
    let (code, out, err) = wait_child(&mut resumed, Duration::from_secs(60));
    eprintln!("{out}\n{err}");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("resuming the shift at 5 %"), "{out}");
    assert!(
        out.contains("promoted: all traffic on the green slot"),
        "{out}"
    );
    rig.assert_weights(0, 100, "").await;
    let k = kinds(&rig.db).await;
    assert!(k.contains(&"deployment.resumed".to_string()), "{k:?}");
    assert!(
        k.contains(&"deployment.promote_requested".to_string()),
        "{k:?}"
    );

    // An operator's rollback reaches the live controller.
    let mut controller = rig.spawn(&["start", "--version", "3.0.0"]);
    rig.wait_weight(5).await;
    let out = rig.ok(&["rollback"]);
    assert!(
        out.contains("rolled back: all traffic on the green slot"),
        "{out}"
    );
    let (code, _, err) = wait_child(&mut controller, Duration::from_secs(30));
    assert_eq!(code, 1);
    assert!(
        err.contains("rolled back (manual: an operator asked"),
        "{err}"
    );
    rig.assert_weights(0, 100, "").await;

    // With its controller gone, rollback does the work itself.
    let mut controller = rig.spawn(&["start", "--version", "4.0.0"]);
    rig.wait_weight(5).await;
    controller.kill().unwrap();
    controller.wait().unwrap();
    rig.assert_weights(5, 95, "split, as the dead controller left it")
        .await;
    rig.rollback_after_silence("4.0.0").await;
    assert!(rig.pid_of("blue").is_none(), "the new slot was stopped");
    let out = rig.run(&["rollback"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no deployment is in progress"));

    // A rollback asked for before the shift: the new slot never gets traffic.
    let mut controller = rig.spawn(&["start", "--version", "5.0.0-slowstart"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlx::query_scalar::<_, String>("SELECT phase FROM deployments WHERE status = 'running'")
        .fetch_optional(&rig.db.pool)
        .await
        .unwrap()
        .as_deref()
        != Some("start")
    {
        assert!(Instant::now() < deadline, "never reached the start phase");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = rig.ok(&["rollback"]);
    assert!(out.contains("5.0.0-slowstart rolled back"), "{out}");
    let (code, out, err) = wait_child(&mut controller, Duration::from_secs(30));
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("rolled back (manual: an operator asked"),
        "{err}"
    );
    assert!(!out.contains("weights:"), "no traffic moved: {out}");
    rig.assert_weights(0, 100, "").await;
    assert!(rig.pid_of("blue").is_none(), "the new slot was stopped");

    // A controller whose deployment another one took over stops at once and
    // leaves the traffic to its new owner.
    let mut controller = rig.spawn(&["start", "--version", "6.0.0"]);
    rig.wait_weight(5).await;
    sqlx::query(
        "UPDATE deployments SET controller = 'elsewhere:1', heartbeat_at = now() \
         WHERE status = 'running'",
    )
    .execute(&rig.db.pool)
    .await
    .unwrap();
    let (code, _, err) = wait_child(&mut controller, Duration::from_secs(30));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("taken over by another controller"), "{err}");
    rig.assert_weights(5, 95, "untouched by the controller that lost it")
        .await;
    // Its new owner never beats: rollback takes over from it.
    rig.rollback_after_silence("6.0.0").await;
    let (sent, failed) = load.take().await;
    eprintln!("{failed} of {sent} requests failed");
    assert_eq!(failed, 0, "{:?}", load.errors.lock().unwrap());
}

/// SIGTERM: readiness off first, HAProxy's health checks take the instance
/// out, then it drains and exits; an instance with half the traffic stops
/// without a failed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stopped_under_load_fails_no_request() {
    let rig = Rig::start(1000).await;
    rig.serve_blue("1.0.0").await;
    // A second instance in the green slot, half of the traffic each.
    let status = std::process::Command::new("sh")
        .arg(rig.work.path().join("start.sh"))
        .envs(rig.env())
        .env("DEPLOY_SLOT", "green")
        .env("DEPLOY_VERSION", "1.0.0")
        .env("DEPLOY_URL", format!("http://127.0.0.1:{}", rig.ports.1))
        .status()
        .unwrap();
    assert!(status.success());
    rig.wait_ready(rig.ports.1).await;
    rig.haproxy
        .set_weights(Weights {
            blue: 50,
            green: 50,
        })
        .await
        .unwrap();
    // HAProxy's health checks have green up: it takes its half at once.
    rig.wait_haproxy_state("green", "2").await;
    let load = Load::start(rig.front, 200);
    // A second of load on both before the stop.
    load.wait_succeeded(200).await;
    let pid = rig.pid_of("blue").unwrap();
    let stopped = Instant::now();
    // SAFETY: kill(2) on the instance this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    while alive(pid) {
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "it never exited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exited = stopped.elapsed();
    let (sent, failed) = load.take().await;
    eprintln!("stopped in {exited:?}; {failed} of {sent} requests failed");
    assert_eq!(failed, 0, "{:?}", load.errors.lock().unwrap());
    assert!(sent > 300, "{sent}");
    assert!(
        exited >= Duration::from_millis(1200),
        "it kept serving for the shutdown delay"
    );
    let log = std::fs::read_to_string(rig.log("blue-1.0.0.log")).unwrap();
    assert!(log.contains("shutting down: readiness off"), "{log}");
    // HAProxy saw it go.
    rig.wait_haproxy_state("blue", "0").await;
}

/// A database a release behind: a deploy whose pending migrations include a
/// contract one the running version cannot survive is refused before
/// anything changes; with only expand migrations pending they run (after
/// the backup) before the new slot starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_in_their_phase_and_an_unsafe_contract_one_refuses_the_deploy() {
    let rig = Rig::start(300).await;
    let down = |n: usize| {
        for _ in 0..n {
            let out = p360(&["migrate", "down"])
                .env("P360_DATABASE__URL", &rig.db.url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    let up = || {
        let out = p360(&["migrate", "up"])
            .env("P360_DATABASE__URL", &rig.db.url)
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    let applied = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // At migration 9: 10 (contract) comes before 11, 12 and 13 (expand).
    down(migrations_after(20261127000009));
    rig.serve_blue("1.0.0").await;
    let out = rig.run(&["start", "--version", "2.0.0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: deploy refused: contract migration 20261127000010"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(applied(&rig.db).await, 20261127000009, "nothing migrated");
    assert!(rig.pid_of("green").is_none(), "nothing started");
    rig.assert_weights(100, 0, "").await;
    assert_eq!(rig.ok(&["status"]), "no deployments yet\n");

    // At migration 10: contract 15 comes before expand 16, so a deploy
    // from there is refused too, whatever came before them.
    up();
    down(migrations_after(20261127000010));
    assert_eq!(applied(&rig.db).await, 20261127000010);
    let out = rig.run(&["start", "--version", "2.0.0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: deploy refused: contract migration 20261203000015"),
        "{stderr}"
    );
    assert_eq!(applied(&rig.db).await, 20261127000010, "nothing migrated");

    // At migration 15 (the contract released): the expand ones after it run
    // before green starts, after the backup.
    up();
    down(migrations_after(20261203000015));
    assert_eq!(applied(&rig.db).await, 20261203000015);
    // A load balancer it cannot reach stops it before anything changes.
    let out = rig.run_env(
        &["start", "--version", "2.0.0"],
        &[("P360_DEPLOY__HAPROXY__ADMIN", "127.0.0.1:1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read the load balancer's weights: "),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(applied(&rig.db).await, 20261203000015, "nothing migrated");
    let out = rig.ok(&["start", "--version", "2.0.0"]);
    eprintln!("{out}");
    assert_eq!(applied(&rig.db).await, latest_migration());
    let k = kinds(&rig.db).await;
    let at = |kind: &str| {
        k.iter()
            .position(|x| x == kind)
            .unwrap_or_else(|| panic!("{kind} in {k:?}"))
    };
    assert!(
        at("deployment.backup_taken") < at("deployment.migrated"),
        "{k:?}"
    );
    assert!(
        at("deployment.migrated") < at("deployment.slot_started"),
        "{k:?}"
    );
    assert!(
        out.contains("expand migrations applied: [20261204000016"),
        "{out}"
    );
    assert!(out.contains("promoted"), "{out}");
    // The backup is from before the migrations.
    let key: String = sqlx::query_scalar!(
        "SELECT backup_key AS \"key!\" FROM deployments ORDER BY started_at DESC LIMIT 1"
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert!(key.ends_with("-v20261203000015.dump"), "{key}");
}

/// The first deploy: nothing serves yet, so every pending migration (the
/// contract one too) runs before the new slot starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_deploy_needs_nothing_serving_and_runs_every_migration_first() {
    let rig = Rig::start(300).await;
    for _ in 0..migrations_after(20261127000009) {
        let out = p360(&["migrate", "down"])
            .env("P360_DATABASE__URL", &rig.db.url)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    // Without --first it wants a serving version to protect.
    let out = rig.run(&["start", "--version", "1.0.0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the serving blue slot does not answer") && stderr.contains("--first"),
        "{stderr}"
    );
    let out = rig.ok(&["start", "--first", "--version", "1.0.0"]);
    eprintln!("{out}");
    assert!(out.contains("deploying to the green slot"), "{out}");
    assert!(
        out.contains("promoted: all traffic on the green slot"),
        "{out}"
    );
    let latest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(latest, latest_migration(), "every migration applied");
    let k = kinds(&rig.db).await;
    let migrated = k.iter().rposition(|x| x == "deployment.migrated").unwrap();
    let started = k
        .iter()
        .position(|x| x == "deployment.slot_started")
        .unwrap();
    assert!(migrated < started, "{k:?}");
    assert!(
        out.contains("pending migrations applied first, up to the deployment tables: [20261127000010, 20261127000011, 20261127000012]"),
        "{out}"
    );
    rig.assert_weights(0, 100, "").await;
    let live = reqwest::get(rig.url_front("/health/live")).await.unwrap();
    assert_eq!(
        live.json::<serde_json::Value>().await.unwrap()["release"],
        "1.0.0"
    );
}
