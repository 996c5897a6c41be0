//! What each subcommand of `p360` does, one module per group; `main.rs`
//! parses the arguments and calls `run` of the module. Each command returns
//! how it ended ([`Outcome`]): completed, or cut short by a signal.

pub mod audit;
pub mod companies;
pub mod config;
pub mod db;
pub mod deploy;
pub mod jobs;
pub mod migrate;
pub mod sandbox;
pub mod serve;
pub mod token;
pub mod worker;

pub use platform::cli::Outcome;
