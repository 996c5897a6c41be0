//! What each subcommand of `p360` does, one module per group; `main.rs`
//! parses the arguments and calls `run` of the module. Each command returns
//! how it ended ([`Outcome`]): completed, or cut short by a signal.

pub mod audit;
pub mod backup;
pub mod companies;
pub mod config;
pub mod db;
pub mod delivery;
pub mod deploy;
pub mod dr;
pub mod fx;
pub mod generate;
pub mod intent;
pub mod jobs;
pub mod migrate;
pub mod restore_check;
pub mod sandbox;
pub mod serve;
pub mod token;
pub mod worker;

pub use platform::cli::Outcome;

/// Refuse to work on a database that is behind this binary's migrations,
/// saying what to run.
pub async fn require_migrated(db: &platform::db::Database) -> anyhow::Result<()> {
    let pending = platform::db::pending_migrations(&db.owner).await?.len();
    if pending > 0 {
        anyhow::bail!(
            "the database is {pending} migration(s) behind this binary: \
             run `p360 migrate up` first"
        );
    }
    Ok(())
}
