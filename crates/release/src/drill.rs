//! `p360 deploy drill`: the blue-green release process, demonstrated on one
//! machine. HAProxy (Debian's `haproxy`) on the frontend address, `p360
//! serve` instances as blue and green on a private embedded database, a
//! steady load through the frontend; then a good rollout, and a bad one to a
//! green made faulty with `P360_FAULTS__ERROR_RATE` that must be rolled back
//! by itself. The last line of the output is machine-readable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use deploy::{Haproxy, Outcome, Plan, Scrape, TrafficBackend, Triggers, rollout};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub frontend: SocketAddr,
    /// Requests per second through the frontend during both rollouts.
    pub rate: u64,
    /// Dwell of each traffic step.
    pub dwell: Duration,
    /// Share of requests the faulty green fails.
    pub error_rate: f64,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub good_sent: u64,
    pub good_failed: u64,
    pub good_rollout: Duration,
    pub bad_sent: u64,
    pub bad_failed: u64,
    pub bad_rolled_back: bool,
    pub bad_trigger: String,
    /// The controller's own figure: from its trigger to its weight call.
    pub rollback: Duration,
    /// From the faulty green's first traffic to the load's last failed
    /// request: how long users saw failures.
    pub rollback_client: Duration,
}

/// What the drill relaxes against production's defaults, said next to its figures.
pub const RELAXED: &str = "dwell from --dwell (default 30 s), read every 250 ms (1 s), \
trigger window 3 s (30 s), min 5 requests per window (10), CPU trigger 4.0 cores (0.9: \
every process shares this machine's cores); error-rate 5 %, latency 2 s and readiness \
triggers at their defaults; HAProxy without retries or redispatch, like the ALB";

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "good_failed={} good_sent={} good_rollout_s={:.1} bad_rolled_back={} bad_trigger={} rollback_client_s={:.3} rollback_controller_s={:.3} bad_failed={} bad_sent={}",
            self.good_failed,
            self.good_sent,
            self.good_rollout.as_secs_f64(),
            self.bad_rolled_back,
            self.bad_trigger,
            self.rollback_client.as_secs_f64(),
            self.rollback.as_secs_f64(),
            self.bad_failed,
            self.bad_sent
        )
    }
}

/// A `p360 serve` instance of the drill.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Instance {
    async fn start(work: &Path, name: &str, faults: Option<f64>) -> anyhow::Result<Instance> {
        let exe = std::env::current_exe().context("cannot find the p360 executable")?;
        let log = std::fs::File::create(work.join(format!("{name}.log")))?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "serve",
            "--no-worker",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(work.join("var"))
        .env("P360_LOG__LEVEL", "info,p360::http=warn")
        // As in production: readiness off, a pause for the health checks, then the drain.
        .env("P360_HTTP__SHUTDOWN_DELAY_MS", "1000")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
        if let Some(rate) = faults {
            cmd.env("P360_FAULTS__ERROR_RATE", rate.to_string());
        }
        let mut child = cmd.spawn().context("cannot start p360 serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                    && let Some(addr) = v["addr"].as_str()
                {
                    return anyhow::Ok(addr.parse::<SocketAddr>()?);
                }
            }
            bail!("{name} exited before listening (see {name}.log)")
        })
        .await
        .with_context(|| format!("{name} did not start listening in 60 s"))??;
        // Keep draining its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Instance { child, addr })
    }

    /// SIGTERM, then wait (the last instance stops the embedded cluster).
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with the pid of our own child.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Steady requests through the frontend.
#[derive(Clone, Default)]
struct Load {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// When the last failed request ended.
    last_failure: Arc<std::sync::Mutex<Option<Instant>>>,
    stop: Arc<AtomicBool>,
}

impl Load {
    fn start(url: String, per_second: u64) -> Load {
        let load = Load::default();
        let l = load.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default();
            let mut tick =
                tokio::time::interval(Duration::from_micros(1_000_000 / per_second.max(1)));
            while !l.stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (client, url, l) = (client.clone(), url.clone(), l.clone());
                tokio::spawn(async move {
                    l.sent.fetch_add(1, Ordering::Relaxed);
                    let ok =
                        matches!(client.get(&url).send().await, Ok(r) if r.status().is_success());
                    if !ok {
                        l.failed.fetch_add(1, Ordering::Relaxed);
                        let mut last = l.last_failure.lock().unwrap_or_else(|e| e.into_inner());
                        *last = last.max(Some(Instant::now()));
                    }
                });
            }
        });
        load
    }

    fn take(&self) -> (u64, u64) {
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
        (
            self.sent.swap(0, Ordering::Relaxed),
            self.failed.swap(0, Ordering::Relaxed),
        )
    }
}

/// A scratch directory the embedded cluster's `postgres` user can traverse.
fn workdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "p360-drill-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

pub async fn drill(opts: &DrillOptions) -> anyhow::Result<Summary> {
    let haproxy = deploy::haproxy_program()?;
    if std::net::TcpListener::bind(opts.frontend).is_err() {
        bail!("the frontend address {} is in use", opts.frontend);
    }
    let work = workdir()?;
    let result = run(opts, &haproxy, &work).await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("logs kept in {}", work.display());
    }
    result
}

async fn run(opts: &DrillOptions, haproxy: &Path, work: &Path) -> anyhow::Result<Summary> {
    println!(
        "starting blue and green (p360 serve, embedded PostgreSQL in {})",
        work.display()
    );
    let blue = Instance::start(work, "blue", None).await?;
    let green = Instance::start(work, "green", None).await?;
    let admin = work.join("haproxy.sock");
    let cfg = work.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket {} level admin\n  maxconn 1024\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  retries 0\n\
             frontend fe\n  bind {}\n  default_backend app\n\
             backend app\n  balance roundrobin\n  option httpchk GET /health/ready\n\
               default-server inter 500ms fall 2 rise 1\n\
               server blue {} weight 100 check\n  server green {} weight 0 check\n",
            admin.display(),
            opts.frontend,
            blue.addr,
            green.addr
        ),
    )?;
    let mut lb_proc = Command::new(haproxy)
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.join("haproxy.log"))?)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start haproxy")?;
    let lb = Haproxy {
        admin: admin.display().to_string(),
        backend: "app".into(),
        blue: "blue".into(),
        green: "green".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lb.weights().await.is_err() {
        if Instant::now() > deadline {
            bail!("haproxy did not start (see haproxy.log)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "haproxy on {}: blue {} (100 %), green {} (0 %)",
        opts.frontend, blue.addr, green.addr
    );
    let load = Load::start(format!("http://{}/openapi.json", opts.frontend), opts.rate);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (sent, failed) = load.take();
    println!(
        "load: {} requests/s through the frontend ({failed} of {sent} failed on blue alone)",
        opts.rate
    );

    let plan = Plan {
        dwell: opts.dwell,
        interval: Duration::from_millis(250),
        ready_timeout: Duration::from_secs(30),
        triggers: Triggers {
            window: Duration::from_secs(3),
            min_requests: 5.0,
            // On one machine every process shares the cores.
            max_cpu: 4.0,
            ..Triggers::default()
        },
        ..Plan::default()
    };
    let print = |e: &deploy::Event| {
        if let deploy::Event::Weights(w) = e {
            println!("  weights: blue {} % / green {} %", w.blue, w.green);
        }
        if let deploy::Event::Triggered { trigger, detail } = e {
            println!("  trigger {trigger}: {detail}");
        }
    };

    println!("relaxed against production: {RELAXED}");
    println!("== good rollout");
    let outcome = rollout(
        &lb,
        &Scrape::new(format!("http://{}", green.addr)),
        &plan,
        print,
    )
    .await?;
    let good_rollout = match outcome {
        Outcome::Promoted { took } => took,
        Outcome::RolledBack {
            trigger, detail, ..
        } => {
            bail!("the good rollout was rolled back ({trigger}: {detail})")
        }
    };
    println!("   promoted in {:.1} s", good_rollout.as_secs_f64());
    // The old version drains and stops under the same load.
    let draining = Instant::now();
    blue.stop().await;
    println!(
        "   blue stopped (SIGTERM: readiness off, drained) in {:.1} s",
        draining.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (good_sent, good_failed) = load.take();
    println!("   {good_failed} of {good_sent} requests failed");
    println!("== good rollout done");

    // Green serves now; the next build goes to the idle blue slot, which
    // this rollout calls green (the slots alternate).
    let faulty = Instance::start(work, "faulty", Some(opts.error_rate)).await?;
    lb.point(&lb.blue, faulty.addr).await?;
    let swapped = deploy::Oriented {
        inner: &lb,
        swapped: true,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.take();

    println!(
        "== bad rollout (green fails {:.0} % of requests)",
        opts.error_rate * 100.0
    );
    // When the faulty green first gets traffic: users can see failures from then.
    let mut faulty_from: Option<Instant> = None;
    let outcome = rollout(
        &swapped,
        &Scrape::new(format!("http://{}", faulty.addr)),
        &plan,
        |e: &deploy::Event| {
            if let deploy::Event::Weights(w) = e
                && w.green > 0
            {
                faulty_from.get_or_insert_with(Instant::now);
            }
            print(e)
        },
    )
    .await?;
    // Let requests in flight at the rollback finish before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last_failure = *load.last_failure.lock().unwrap_or_else(|e| e.into_inner());
    let rollback_client = match (faulty_from, last_failure) {
        (Some(from), Some(last)) => last.saturating_duration_since(from),
        _ => Duration::ZERO,
    };
    let (bad_sent, bad_failed) = load.take();
    let (bad_rolled_back, bad_trigger, rollback) = match outcome {
        Outcome::RolledBack {
            trigger,
            at_green,
            trigger_to_blue,
            ..
        } => {
            println!(
                "   rolled back at {at_green} % on {trigger}; users saw failures for {:.3} s \
                 (green's first traffic to the last failed request); all traffic on blue \
                 {:.3} s after the trigger",
                rollback_client.as_secs_f64(),
                trigger_to_blue.as_secs_f64()
            );
            (true, trigger.to_string(), trigger_to_blue)
        }
        Outcome::Promoted { .. } => (false, "none".to_string(), Duration::ZERO),
    };
    println!("   {bad_failed} of {bad_sent} requests failed");
    println!("== bad rollout done");
    load.stop.store(true, Ordering::Relaxed);

    faulty.stop().await;
    green.stop().await;
    let _ = lb_proc.kill().await;
    let summary = Summary {
        good_sent,
        good_failed,
        good_rollout,
        bad_sent,
        bad_failed,
        bad_rolled_back,
        bad_trigger,
        rollback,
        rollback_client,
    };
    Ok(summary)
}
