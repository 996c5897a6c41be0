//! The shared platform layer of P360 Display: configuration, the embedded
//! PostgreSQL cluster, the pool and migrations, HTTP plumbing and telemetry.
//! Capabilities build on it; it knows nothing about any of them.

extern crate self as platform;

pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod embedded_pg;
pub mod http;
pub mod jobs;
pub mod rate_limit;
pub mod restore_check;
pub mod server;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod testing;
pub mod types;
pub mod website;
