//! The release process of P360 Display: blue-green deployments driven end to
//! end and stored as they go (`p360 deploy ...`), on the mechanisms of the
//! `deploy` crate (traffic backends, metric sources, the rollout controller),
//! plus fault injection and the one-machine drill that exercise it.

pub mod config;
pub mod drill;
pub mod faults;
pub mod process;
