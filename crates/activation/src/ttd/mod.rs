//! The Trade Desk: a typed API client and a sandbox that speaks the same API.

pub mod client;
pub mod model;
pub mod sandbox;

pub use client::{TtdClient, TtdError, TtdSettings};
