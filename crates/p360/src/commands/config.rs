//! `p360 config`: the effective configuration as TOML, secrets redacted.

use p360::Config;
use platform::cli::Outcome;
use platform::config::AppConfig as _;

pub fn run(config: &Config) -> anyhow::Result<Outcome> {
    print!("{}", config.to_redacted_toml());
    Ok(Outcome::Completed)
}
