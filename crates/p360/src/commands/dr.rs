//! `p360 dr drill`: lose the primary and measure the recovery. On embedded
//! defaults with backups on, under `DATA_DIR/primary`: a full backup,
//! writers creating advertisers through the API (each 2xx recorded), an
//! audit checkpoint, then the PostgreSQL cluster killed hard (SIGKILL to the
//! postmaster) and its data directory removed. `p360 restore --latest` into
//! `DATA_DIR/restored` (the object store, audit checkpoints and their key
//! survive, as S3 and the secrets store would), `p360 serve` on it until
//! `/health/ready`; then what is missing and `p360 audit verify --restored`.
//! One machine line: `rpo_s=… rto_s=… acknowledged=… missing=… audit_ok=…`.

use std::collections::HashSet;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use p360::Config;
use platform::cli::{Outcome, until_shutdown};
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum DrCommand {
    /// Kill the primary, restore it from the backups, and report RPO and RTO.
    Drill(DrillArgs),
}

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// How long the writers write before the primary is lost.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Grow the database by this many MB before the backup (the larger-scale figures).
    #[arg(long, default_value_t = 0)]
    fill_mb: u64,
    /// Fail when more than this many seconds of acknowledged writes are lost.
    #[arg(long, default_value_t = 60.0)]
    rpo_target_s: f64,
    /// Fail when the restored instance is not ready this many seconds after the kill.
    #[arg(long, default_value_t = 900.0)]
    rto_target_s: f64,
}

/// A write the API acknowledged: the advertiser's name, and when.
type Ack = (String, DateTime<Utc>);

/// A `p360 serve` child and its address.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) on a child we spawned.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

pub async fn run(config: Config, action: DrCommand, shutdown: Shutdown) -> Result<Outcome> {
    let DrCommand::Drill(args) = action;
    let base = config.platform.data_dir.clone();
    if base.exists() && std::fs::read_dir(&base)?.next().is_some() {
        bail!(
            "{} is not empty: the drill builds its primary and its restore there; give it a new --data-dir",
            base.display()
        );
    }
    match until_shutdown(&shutdown, drill(&base, &args)).await? {
        Some(()) => Ok(Outcome::Completed),
        None => Ok(Outcome::Interrupted),
    }
}

async fn drill(base: &Path, args: &DrillArgs) -> Result<()> {
    let primary = base.join("primary");
    let restored = base.join("restored");
    std::fs::create_dir_all(base)?;
    let mut server = serve(&primary).await?;
    if args.fill_mb > 0 {
        say(&format!("filling the database with {} MB", args.fill_mb));
        let url = platform::embedded_pg::ClusterPaths::new(&primary)?.url("p360");
        platform::backup::ballast(&url, args.fill_mb).await?;
    }
    let admin = p360(&primary, &["token", "--role", "platform_admin"]).await?;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("http://{}/v1/tenants", server.addr))
        .bearer_auth(admin.trim())
        .json(&serde_json::json!({"slug": "drill", "name": "DR drill"}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("cannot create the drill's tenant: {}", res.text().await?);
    }
    say("taking a full backup");
    p360(&primary, &["backup", "now", "--full"]).await?;
    let token = p360(
        &primary,
        &["token", "--tenant", "drill", "--role", "customer_admin"],
    )
    .await?;
    let token = token.trim().to_string();

    say(&format!(
        "writing through the API for {} s with {} writer(s)",
        args.seconds, args.writers
    ));
    let acked: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..args.writers {
        let (client, token, acked) = (client.clone(), token.clone(), acked.clone());
        let url = format!("http://{}/v1/advertisers", server.addr);
        writers.spawn(async move {
            let mut i = 0u64;
            // Runs until aborted: past the deadline the primary is lost under it.
            loop {
                i += 1;
                let name = format!("drill-{w}-{i}");
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"name": name, "domain": format!("{name}.example"), "currency": "USD"}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().push((name, Utc::now()));
                    }
                    Ok(r) if r.status() == 429 => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
    let checkpoint_at = deadline - Duration::from_secs(args.seconds.min(3));
    tokio::time::sleep_until(checkpoint_at.into()).await;
    p360(&primary, &["audit", "checkpoint"]).await?;
    tokio::time::sleep_until(deadline.into()).await;

    // Lose the primary: the postmaster killed, the data directory gone.
    let cluster = platform::embedded_pg::ClusterPaths::new(&primary)?;
    let pid_file = std::fs::read_to_string(cluster.data.join("postmaster.pid"))
        .context("no postmaster.pid: is the primary's cluster running?")?;
    let pid: i32 = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| anyhow!("postmaster.pid holds no pid"))?;
    // SAFETY: kill(2) with a pid read from the cluster's postmaster.pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let killed = Instant::now();
    let killed_at = Utc::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
    let _ = server.child.wait();
    writers.abort_all();
    while writers.join_next().await.is_some() {}
    std::fs::remove_dir_all(&cluster.data)
        .with_context(|| format!("cannot remove {}", cluster.data.display()))?;
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    say(&format!(
        "killed the primary's postmaster (pid {pid}) after {} acknowledged writes and removed {}",
        acked.len(),
        cluster.data.display()
    ));

    // What survives the primary: the object store, the audit checkpoints' key.
    std::fs::create_dir_all(&restored)?;
    for shared in ["objects", "audit"] {
        let from = primary.join(shared);
        std::fs::create_dir_all(&from)?;
        std::os::unix::fs::symlink(&from, restored.join(shared))?;
    }
    let repo = primary.join("backup").join("repo");
    p360_progress(
        &restored,
        &["restore", "--latest", "--repo", path_str(&repo)?],
    )
    .await?;
    server = serve(&restored).await?;
    let ready_url = format!("http://{}/health/ready", server.addr);
    loop {
        if client
            .get(&ready_url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rto = killed.elapsed().as_secs_f64();
    say(&format!(
        "the restored instance is ready, {rto:.1} s after the kill"
    ));

    let token = p360(
        &restored,
        &["token", "--tenant", "drill", "--role", "customer_admin"],
    )
    .await?;
    let present = advertiser_names(&client, &server.addr, token.trim()).await?;
    let missing: Vec<&Ack> = acked.iter().filter(|(n, _)| !present.contains(n)).collect();
    let rpo = missing
        .iter()
        .map(|(_, at)| at)
        .min()
        .map_or(0.0, |first| (killed_at - *first).as_seconds_f64().max(0.0));
    let audit =
        tokio::process::Command::from(exe_command(&restored, &["audit", "verify", "--restored"])?)
            .output()
            .await?;
    let audit_ok = audit.status.success();
    for line in String::from_utf8_lossy(&audit.stdout).lines() {
        say(&format!("audit: {line}"));
    }
    if !audit_ok {
        say(&format!(
            "audit verify failed: {}",
            String::from_utf8_lossy(&audit.stderr).trim()
        ));
    }
    drop(server);
    println!(
        "rpo_s={rpo:.1} rto_s={rto:.1} acknowledged={} missing={} audit_ok={audit_ok}",
        acked.len(),
        missing.len()
    );
    let mut failed = Vec::new();
    if rpo > args.rpo_target_s {
        failed.push(format!("RPO {rpo:.1} s > {} s", args.rpo_target_s));
    }
    if rto > args.rto_target_s {
        failed.push(format!("RTO {rto:.1} s > {} s", args.rto_target_s));
    }
    if !audit_ok {
        failed.push("the restored audit log does not verify".into());
    }
    if !failed.is_empty() {
        bail!("the drill missed its targets: {}", failed.join("; "));
    }
    Ok(())
}

/// Every advertiser name of the tenant, all pages.
async fn advertiser_names(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
) -> Result<HashSet<String>> {
    let mut names = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = reqwest::Url::parse(&format!("http://{addr}/v1/advertisers?limit=500"))?;
        if let Some(c) = &cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let req = client.get(url).bearer_auth(token);
        let res = req.send().await?;
        if res.status() == 429 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let page: serde_json::Value = res.error_for_status()?.json().await?;
        for a in page["items"].as_array().into_iter().flatten() {
            if let Some(n) = a["name"].as_str() {
                names.insert(n.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(names),
        }
    }
}

fn say(what: &str) {
    eprintln!("drill: {what}");
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("path is not UTF-8: {}", p.display()))
}

/// This binary, on `data_dir`, with the caller's environment.
fn exe_command(data_dir: &Path, args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe().context("cannot find the p360 binary")?);
    cmd.args(args).arg("--data-dir").arg(data_dir);
    Ok(cmd)
}

/// Run `p360 ARGS` on `data_dir`; its stdout, or its error line.
async fn p360(data_dir: &Path, args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::from(exe_command(data_dir, args)?)
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "p360 {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run `p360 ARGS` on `data_dir` with its progress on our stderr.
async fn p360_progress(data_dir: &Path, args: &[&str]) -> Result<()> {
    let mut cmd = exe_command(data_dir, args)?;
    cmd.stdout(Stdio::from(std::io::stderr()));
    let status = tokio::process::Command::from(cmd).status().await?;
    if !status.success() {
        bail!("p360 {} failed", args.join(" "));
    }
    Ok(())
}

/// `p360 serve` on `data_dir` on a free port, once it listens.
async fn serve(data_dir: &Path) -> Result<Server> {
    let mut child = exe_command(data_dir, &["serve", "--listen", "127.0.0.1:0"])?
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start p360 serve")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "listening"
            {
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_string());
            }
        }
    });
    let listening =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(120))).await?;
    match listening {
        Ok(addr) => Ok(Server { child, addr }),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(anyhow!(
                "p360 serve on {} did not start listening",
                data_dir.display()
            ))
        }
    }
}
