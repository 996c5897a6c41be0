//! `p360 generate ...`: deterministic synthetic files for benchmarks and
//! demos (`accounts::generate`, `intent::generate`, `delivery::generate`),
//! written to standard output (REDS files, two of them, to a folder).

use std::io::{BufWriter, Write};

use anyhow::Result;
use clap::Subcommand;
use platform::cli::Outcome;

#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// A company file (`p360 companies import` form).
    Companies {
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// An IP-range file for the first COUNT companies of the same seed.
    IpRanges {
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A week of Bombora Company Surge for the first COMPANIES companies
    /// of the same seed, each on 5 to 40 of TOPICS topics.
    SurgeWeek {
        #[arg(long, default_value_t = 200_000)]
        companies: u64,
        #[arg(long, default_value_t = 2_000)]
        topics: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// An hour of TTD REDS delivery for the first COMPANIES companies of the
    /// same seed: `impressions_<hour>.log.gz` and `clicks_<hour>.log.gz`
    /// (tab-separated, TTD's layouts) in OUT.
    Reds {
        #[arg(long, default_value_t = 2_000_000)]
        impressions: u64,
        #[arg(long, default_value_t = 20_000)]
        companies: u64,
        #[arg(long, default_value_t = 40)]
        campaigns: u32,
        #[arg(long, default_value_t = 5)]
        ad_groups: u32,
        /// Companies each campaign targets.
        #[arg(long, default_value_t = 1_000)]
        audience: u64,
        /// Percent of impressions from the targeted companies' ranges.
        #[arg(long, default_value_t = 55)]
        inside_percent: u64,
        /// The hour, as 2026-11-30T13.
        #[arg(long, default_value = "2026-11-30T13")]
        hour: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// An account list of ROWS rows against a universe of COMPANIES.
    AccountList {
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        #[arg(long, default_value_t = 200_000)]
        companies: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Write an hour of REDS files into `out`.
fn reds(plan: &delivery::generate::Plan, out: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    let written = delivery::generate::files(plan, out)
        .with_context(|| format!("cannot write REDS files in {}", out.display()))?;
    eprintln!(
        "generate: {} impressions ({} from targeted companies), {} clicks, advertiser cost {} micro-dollars",
        written.impressions, written.inside, written.clicks, written.advertiser_cost_micros
    );
    Ok(())
}

pub fn run(what: GenerateCommand) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    match what {
        GenerateCommand::Companies { count, seed } => {
            accounts::generate::companies(count, seed, &mut out)?
        }
        GenerateCommand::IpRanges { count, seed } => {
            accounts::generate::ip_ranges(count, seed, &mut out)?
        }
        GenerateCommand::SurgeWeek {
            companies,
            topics,
            seed,
        } => {
            anyhow::ensure!(
                (1..=65_535).contains(&topics),
                "--topics must be 1 to 65535"
            );
            intent::generate::surge_week(companies, topics, seed, &mut out)?
        }
        GenerateCommand::AccountList {
            rows,
            companies,
            seed,
        } => {
            anyhow::ensure!(companies > 0, "--companies must be at least 1");
            accounts::generate::account_list(rows, companies, seed, &mut out)?
        }
        GenerateCommand::Reds {
            impressions,
            companies,
            campaigns,
            ad_groups,
            audience,
            inside_percent,
            hour,
            seed,
            out: folder,
        } => {
            let at = chrono::NaiveDateTime::parse_from_str(
                &format!("{hour}:00:00"),
                "%Y-%m-%dT%H:%M:%S",
            )
            .map_err(|_| {
                anyhow::anyhow!("--hour {hour}: expected a date and an hour, as 2026-11-30T13")
            })?;
            anyhow::ensure!(inside_percent <= 100, "--inside-percent must be 0 to 100");
            anyhow::ensure!(
                campaigns > 0 && ad_groups > 0,
                "--campaigns and --ad-groups must be at least 1"
            );
            let plan = delivery::generate::Plan {
                impressions,
                companies,
                campaigns,
                ad_groups_per_campaign: ad_groups,
                audience,
                inside_percent,
                hour: at,
                seed,
            };
            reds(&plan, &folder)?
        }
    }
    out.flush()?;
    Ok(Outcome::Completed)
}
