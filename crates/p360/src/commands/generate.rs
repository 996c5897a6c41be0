//! `p360 generate ...`: deterministic synthetic files for benchmarks and
//! demos (`accounts::generate`, `intent::generate`), written to standard output.

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
    }
    out.flush()?;
    Ok(Outcome::Completed)
}
