//! `p360 sandbox ttd`: The Trade Desk's platform API v3 in memory, speaking
//! its wire format, with optional faults, until SIGINT/SIGTERM.

use anyhow::Result;
use clap::Subcommand;
use platform::cli::Outcome;
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum SandboxCommand {
    /// The Trade Desk's platform API v3 (in memory), with optional faults.
    Ttd {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8361")]
        listen: std::net::SocketAddr,
        /// Share of requests (0 to 1) that meet a fault: 429, 500, 503, a slow
        /// answer, or a create whose answer is lost.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Seed of the fault sequence.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Accept only this login (else any non-empty one).
        #[arg(long)]
        login: Option<String>,
        /// Accept only this password (else any non-empty one).
        #[arg(long, env = "P360_SANDBOX_TTD_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// How long a lost answer keeps the client waiting, in milliseconds.
        #[arg(long, default_value_t = 15_000)]
        lost_hang_ms: u64,
    },
}

pub async fn run(partner: SandboxCommand, shutdown: Shutdown) -> Result<Outcome> {
    let SandboxCommand::Ttd {
        listen,
        fault_rate,
        seed,
        login,
        password,
        lost_hang_ms,
    } = partner;
    if !(0.0..=1.0).contains(&fault_rate) {
        anyhow::bail!("--fault-rate must be between 0 and 1, not {fault_rate}");
    }
    let options = activation::ttd::sandbox::SandboxOptions {
        login,
        password,
        fault_rate,
        seed,
        lost_hang: std::time::Duration::from_millis(lost_hang_ms),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!(
        "TTD sandbox listening on http://{} (fault rate {fault_rate}, seed {seed})",
        listener.local_addr()?
    );
    let app = activation::ttd::sandbox::router(options);
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.wait().await })
        .await?;
    Ok(Outcome::Completed)
}
