//! Salesforce: the JWT bearer flow ([`jwt`]), the REST client P360 syncs
//! with ([`client`]) and the sandbox that speaks the same wire format
//! ([`sandbox`]).

pub mod client;
pub mod jwt;
pub mod sandbox;

pub use client::{Endpoints, SalesforceClient, SfError};
