//! `p360 sandbox ttd|bombora|salesforce`: a partner's API in memory, speaking its wire
//! format, with optional faults, until SIGINT/SIGTERM.

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
    /// Bombora's OAuth token, topic taxonomy and weekly Company Surge files
    /// (in memory), with optional faults.
    Bombora {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8362")]
        listen: std::net::SocketAddr,
        /// Share of requests (0 to 1) that meet a fault: 429, 500, 503, or a
        /// file download cut short.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Seed of the fault sequence and of the generated weeks.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many recent weeks are generated for the sample companies.
        #[arg(long, default_value_t = 4)]
        weeks: u32,
        /// Accept only this client id (else any non-empty one).
        #[arg(long)]
        client_id: Option<String>,
        /// Accept only this client secret (else any non-empty one).
        #[arg(long, env = "P360_SANDBOX_BOMBORA_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
    },
    /// Salesforce's OAuth 2.0 JWT bearer token endpoint and REST query API
    /// (in memory; apps and records written through `/_sandbox`), with
    /// optional faults.
    Salesforce {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8363")]
        listen: std::net::SocketAddr,
        /// Share of query requests (0 to 1) that meet a fault: the API limit,
        /// 500, 503, or a session made invalid.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Seed of the fault sequence.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The instance URL sign-ins return (else this sandbox's address).
        #[arg(long, value_name = "URL")]
        instance_url: Option<String>,
    },
}

async fn serve(
    name: &str,
    listen: std::net::SocketAddr,
    app: axum::Router,
    note: String,
    shutdown: Shutdown,
) -> Result<Outcome> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!(
        "{name} sandbox listening on http://{} ({note})",
        listener.local_addr()?
    );
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.wait().await })
        .await?;
    Ok(Outcome::Completed)
}

fn check_rate(fault_rate: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&fault_rate) {
        anyhow::bail!("--fault-rate must be between 0 and 1, not {fault_rate}");
    }
    Ok(())
}

pub async fn run(partner: SandboxCommand, shutdown: Shutdown) -> Result<Outcome> {
    match partner {
        SandboxCommand::Ttd {
            listen,
            fault_rate,
            seed,
            login,
            password,
            lost_hang_ms,
        } => {
            check_rate(fault_rate)?;
            let options = activation::ttd::sandbox::SandboxOptions {
                login,
                password,
                fault_rate,
                seed,
                lost_hang: std::time::Duration::from_millis(lost_hang_ms),
                ..Default::default()
            };
            let app = activation::ttd::sandbox::router(options);
            let note = format!("fault rate {fault_rate}, seed {seed}");
            serve("TTD", listen, app, note, shutdown).await
        }
        SandboxCommand::Bombora {
            listen,
            fault_rate,
            seed,
            weeks,
            client_id,
            client_secret,
        } => {
            check_rate(fault_rate)?;
            let options = intent::bombora::sandbox::SandboxOptions {
                client_id,
                client_secret,
                fault_rate,
                seed,
                generated_weeks: weeks,
                ..Default::default()
            };
            let app = intent::bombora::sandbox::router(options);
            let note = format!("fault rate {fault_rate}, seed {seed}, {weeks} weeks");
            serve("Bombora", listen, app, note, shutdown).await
        }
        SandboxCommand::Salesforce {
            listen,
            fault_rate,
            seed,
            instance_url,
        } => {
            check_rate(fault_rate)?;
            let app = crm::salesforce::sandbox::router(crm::salesforce::sandbox::SandboxOptions {
                instance_url,
                mount_path: String::new(),
                fault_rate,
                seed,
                hang_ms: 30_000,
            });
            let note = format!("fault rate {fault_rate}, seed {seed}");
            serve("Salesforce", listen, app, note, shutdown).await
        }
    }
}
